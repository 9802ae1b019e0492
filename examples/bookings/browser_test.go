package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/examples/internal/servicetest"
)

// browser is a headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: no port, no WebSocket). It answers the
// pages' HTTP authentication challenges as an operator typing the
// credentials into the browser's prompt would.
type browser struct {
	cmd      *exec.Cmd
	toChrome io.WriteCloser

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpMessage
	session string
	user    string
	pass    string
	// challenges counts the authentication challenges answered.
	challenges int
	done       chan struct{}
}

type cdpMessage struct {
	ID        int                       `json:"id,omitempty"`
	Method    string                    `json:"method,omitempty"`
	Params    json.RawMessage           `json:"params,omitempty"`
	Result    json.RawMessage           `json:"result,omitempty"`
	Error     *struct{ Message string } `json:"error,omitempty"`
	SessionID string                    `json:"sessionId,omitempty"`
}

// chromiumPath finds Debian's chromium (or another Chrome); without one the
// test is skipped, or failed when HOOKKIT_REQUIRE_SERVICES=1 (CI installs
// it).
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	servicetest.Unreachable(t, "no headless Chromium (apt-get install chromium)")
	return ""
}

// startBrowser starts Chromium with one page whose authentication challenges
// are answered with user and password; it is closed when the test ends.
func startBrowser(t *testing.T, user, pass string) *browser {
	t.Helper()
	bin := chromiumPath(t)
	chromeReads, toChrome, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromChrome, chromeWrites, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-extensions",
		"--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio",
		"--remote-debugging-pipe", "--user-data-dir="+t.TempDir(), "--window-size=1400,1000", "about:blank")
	cmd.ExtraFiles = []*os.File{chromeReads, chromeWrites} // fds 3 and 4, as --remote-debugging-pipe expects
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	chromeReads.Close()
	chromeWrites.Close()
	b := &browser{cmd: cmd, toChrome: toChrome, waiting: map[int]chan cdpMessage{}, user: user, pass: pass, done: make(chan struct{})}
	go b.read(fromChrome)
	t.Cleanup(func() {
		b.call(context.Background(), "", "Browser.close", nil)
		toChrome.Close()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill() // only the browser this test started, by its pid
			<-exited
		}
		if t.Failed() {
			t.Logf("chromium's stderr:\n%s", lastLines(stderr.String(), 20))
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var target struct{ TargetID string }
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var attached struct{ SessionID string }
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.session = attached.SessionID
	b.mu.Unlock()
	if err := b.call(ctx, b.session, "Fetch.enable", map[string]any{"handleAuthRequests": true,
		"patterns": []map[string]string{{"urlPattern": "*"}}}); err != nil {
		t.Fatal(err)
	}
	if err := b.call(ctx, b.session, "Page.enable", nil); err != nil {
		t.Fatal(err)
	}
	if err := b.call(ctx, b.session, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false}); err != nil {
		t.Fatal(err)
	}
	return b
}

// read dispatches Chromium's messages: answers to calls, and the Fetch
// events the page's requests pause on.
func (b *browser) read(r io.Reader) {
	defer close(b.done)
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		switch {
		case m.ID != 0:
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		case m.Method == "Fetch.requestPaused":
			var p struct{ RequestID string }
			json.Unmarshal(m.Params, &p)
			b.send(m.SessionID, "Fetch.continueRequest", map[string]any{"requestId": p.RequestID})
		case m.Method == "Fetch.authRequired":
			var p struct{ RequestID string }
			json.Unmarshal(m.Params, &p)
			b.mu.Lock()
			b.challenges++
			b.mu.Unlock()
			b.send(m.SessionID, "Fetch.continueWithAuth", map[string]any{"requestId": p.RequestID,
				"authChallengeResponse": map[string]string{"response": "ProvideCredentials", "username": b.user, "password": b.pass}})
		}
	}
}

// send writes one command and returns its id, without waiting.
func (b *browser) send(session, method string, params any) (int, chan cdpMessage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	id, ch := b.nextID, make(chan cdpMessage, 1)
	b.waiting[id] = ch
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params, "sessionId": session})
	if err == nil {
		_, err = b.toChrome.Write(append(msg, 0))
	}
	return id, ch, err
}

// call runs one command and decodes its result into result[0], if given.
func (b *browser) call(ctx context.Context, session, method string, params any, result ...any) error {
	if params == nil {
		params = map[string]any{}
	}
	_, ch, err := b.send(session, method, params)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if len(result) > 0 {
			return json.Unmarshal(m.Result, result[0])
		}
		return nil
	case <-b.done:
		return fmt.Errorf("%s: chromium exited", method)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// text returns the page's visible text.
func (b *browser) text(ctx context.Context) (string, error) {
	var res struct {
		Result struct{ Value string }
	}
	err := b.call(ctx, b.session, "Runtime.evaluate", map[string]any{"expression": "document.body ? document.body.innerText : ''", "returnByValue": true}, &res)
	return res.Result.Value, err
}

// waitForText waits until the page's text contains every string of want,
// and returns the text. River's UI fills a page from several requests (the
// job list and the per-state counts arrive separately), so a test waits for
// everything it reads, not for the first part to appear.
func (b *browser) waitForText(ctx context.Context, t *testing.T, want ...string) string {
	t.Helper()
	var text string
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var err error
		text, err = b.text(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if containsAll(text, want) {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed the text: want all of %q; page text:\n%s", want, text)
		}
		<-tick.C
	}
}

// containsAll reports whether s contains every string of subs.
func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// screenshot returns the page as a PNG.
func (b *browser) screenshot(ctx context.Context) ([]byte, error) {
	var res struct{ Data string }
	if err := b.call(ctx, b.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &res); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(res.Data)
}

// lastLines returns the last n lines of s, without Chromium's complaints
// that a container has no D-Bus.
func lastLines(s string, n int) string {
	var lines []string
	for line := range strings.Lines(s) {
		if !strings.Contains(line, "dbus") {
			lines = append(lines, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// colours counts the distinct colours of img, sampled on a grid: a blank
// or error page has a handful, a rendered job list many.
func colours(img image.Image) int {
	seen := map[color.RGBA]bool{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 3 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 3 {
			r, g, b, a := img.At(x, y).RGBA()
			seen[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}] = true
		}
	}
	return len(seen)
}

// redPixels counts the red pixels of img within r: River's UI marks a
// discarded job in its list with a red dot, and draws nothing else red.
func redPixels(img image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			red, green, blue, _ := img.At(x, y).RGBA()
			if red>>8 > 200 && green>>8 < 120 && blue>>8 < 150 {
				n++
			}
		}
	}
	return n
}

// An operator opens River's UI (-admin) in a browser, is challenged for the
// API token, and sees the discarded SMS status job in the list of
// discarded jobs.
func TestAdminUIListsDiscardedJobInBrowser(t *testing.T) {
	chromiumPath(t)
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{smsRetry: quickRetries})
	dl, restore := discardSMSJob(t, a)
	restore()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ui, err := a.adminHandler(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ui)
	defer srv.Close()

	b := startBrowser(t, "operator", demoSecrets.APIToken)
	if err := b.call(ctx, b.session, "Page.navigate", map[string]any{"url": srv.URL + "/jobs?state=discarded"}); err != nil {
		t.Fatal(err)
	}
	text := b.waitForText(ctx, t, "hookkit.webhook\n", "Discarded\n1", "sms_status")
	shot, err := b.screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("HOOKKIT_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "riverui-discarded.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(text, "Discarded\n1") {
		t.Errorf("one discarded job: page text %q, want it to contain %q", text, "Discarded\n1")
	}
	if !strings.Contains(text, "hookkit.webhook\n") {
		t.Errorf("the job's kind is listed: got %q, want it to contain %q", text, "hookkit.webhook\n")
	}
	if !strings.Contains(text, "3\n/\n3") {
		t.Errorf("after three attempts of three: got %q, want it to contain %q", text, "3\n/\n3")
	}
	if !strings.Contains(text, "sms_status") {
		t.Errorf("in the SMS status queue: got %q, want it to contain %q", text, "sms_status")
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is a PNG: %v", err)
	}
	if got, want := img.Bounds().Size(), image.Pt(1400, 1000); got != want {
		t.Errorf("img.Bounds().Size(): got %v, want %v", got, want)
	}
	if got := colours(img); got <= 20 {
		t.Errorf("the screenshot shows a rendered page, not a blank one: got %d, want > %d", got, 20)
	}
	jobList := image.Rect(280, 60, 1400, 1000) // right of the states menu, below the header
	if got := redPixels(img, jobList); got < 20 {
		t.Errorf("the screenshot shows the discarded job's red dot in the list: got %d, want >= %d", got, 20)
	}

	// The job's own page says why it was discarded.
	var jobID int64
	_, err = fmt.Sscanf(dl.Ref, "river job %d", &jobID)
	if err != nil {
		t.Fatalf("%v: %v", dl.Ref, err)
	}
	if err := b.call(ctx, b.session, "Page.navigate", map[string]any{"url": fmt.Sprintf("%s/jobs/%d", srv.URL, jobID)}); err != nil {
		t.Fatal(err)
	}
	text = b.waitForText(ctx, t, "outbox")
	if !strings.Contains(text, fmt.Sprint(jobID)) {
		t.Errorf("text: got %q, want it to contain %q", text, fmt.Sprint(jobID))
	}
	if got := strings.ToLower(text); !strings.Contains(got, "discarded") {
		t.Errorf("strings.ToLower(text): got %q, want it to contain %q", got, "discarded")
	}
	b.mu.Lock()
	if b.challenges <= 0 {
		t.Errorf("the browser was challenged for the token: got %d, want > 0", b.challenges)
	}
	b.mu.Unlock()
}
