// Package crashtest proves durability claims the only way they can be
// proven: a real host process receives a storm of deliveries from senders
// that retry each one until it is answered 200, while the test kills the
// process with SIGKILL at random moments and starts it again. What the
// host's database holds afterwards is the verdict.
//
// It kills only the processes it started, by pid, talks only to 127.0.0.1,
// and stops by itself.
package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Build builds the command package pkg (an import path) and returns the
// binary's path.
func Build(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Host is a host process the test starts, kills and starts again, always
// on the same loopback address.
type Host struct {
	Binary string
	// Args are the host's flags; "-addr <addr>" is added.
	Args []string

	t      *testing.T
	addr   string
	mu     sync.Mutex
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

// NewHost returns a host on a free loopback port, not yet started.
func NewHost(t *testing.T, binary string, args ...string) *Host {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := &Host{Binary: binary, Args: args, t: t, addr: addr}
	t.Cleanup(h.Kill)
	return h
}

// URL returns the host's base URL.
func (h *Host) URL() string { return "http://" + h.addr }

// Start starts the host and waits until it serves.
func (h *Host) Start() {
	h.t.Helper()
	for attempt := 0; ; attempt++ {
		err := h.start()
		if err == nil {
			return
		}
		if attempt == 20 {
			h.t.Fatalf("starting %s: %v", filepath.Base(h.Binary), err)
		}
		time.Sleep(100 * time.Millisecond) // the port may still be held by the killed process's socket
	}
}

func (h *Host) start() error {
	cmd := exec.Command(h.Binary, append([]string{"-addr", h.addr}, h.Args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	listening := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && strings.HasPrefix(sc.Text(), "listening ") {
				ok = true
				listening <- true
			}
		}
		if !ok {
			listening <- false
		}
	}()
	select {
	case ok := <-listening:
		if !ok {
			cmd.Wait()
			return fmt.Errorf("exited before serving: %s", strings.TrimSpace(stderr.String()))
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("not serving after 30s: %s", stderr.String())
	}
	h.mu.Lock()
	h.cmd, h.stderr = cmd, stderr
	h.mu.Unlock()
	return nil
}

// Kill kills the host with SIGKILL, if it runs, and waits for it to end.
func (h *Host) Kill() {
	h.mu.Lock()
	cmd := h.cmd
	h.cmd = nil
	h.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill() // SIGKILL: no deferred function, no shutdown hook runs
		cmd.Wait()
	}
}

// Pause stops the host with SIGSTOP, as a frozen VM or a debugger would:
// its connections stay open, its locks held. Resume continues it.
func (h *Host) Pause() { h.signal(syscall.SIGSTOP) }

// Resume continues a paused host with SIGCONT.
func (h *Host) Resume() { h.signal(syscall.SIGCONT) }

func (h *Host) signal(sig syscall.Signal) {
	h.mu.Lock()
	cmd := h.cmd
	h.mu.Unlock()
	if cmd != nil {
		cmd.Process.Signal(sig) // the process this host started, by pid
	}
}

// Send delivers d to the host once and returns the status (0 when the
// request failed).
func (h *Host) Send(d Delivery) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return send(ctx, http.DefaultClient, h.URL(), d)
}

// Delivery is one event a sender delivers until it is answered 200.
type Delivery struct {
	Path   string
	Header http.Header
	Body   []byte
}

// Options shape a storm.
type Options struct {
	// Senders deliver concurrently (default 16).
	Senders int
	// MinKills is how many times the host must be killed during the storm;
	// a storm that ends sooner fails the test (default 5).
	MinKills int
	// KillAfter bounds the random time the host runs between kills
	// (default 100ms to 400ms).
	KillAfter [2]time.Duration
	// Timeout bounds the storm (default 3 minutes).
	Timeout time.Duration
}

// Result is what the senders saw.
type Result struct {
	// Kills is how many times the host was killed mid-storm.
	Kills int
	// Answers counts the statuses the senders got (0 for a connection
	// that failed: the host was dead).
	Answers map[int]int
	// SlowestBusy is the longest any delivery kept being answered 409.
	SlowestBusy time.Duration
}

// Storm delivers every delivery to h, each retried until it is answered
// 200, while killing h with SIGKILL at random moments and starting it
// again; it returns when every delivery has been answered 200, with h
// running.
func Storm(t *testing.T, h *Host, deliveries []Delivery, opt Options) Result {
	t.Helper()
	if opt.Senders <= 0 {
		opt.Senders = 16
	}
	if opt.MinKills <= 0 {
		opt.MinKills = 5
	}
	if opt.KillAfter[1] <= 0 {
		opt.KillAfter = [2]time.Duration{100 * time.Millisecond, 400 * time.Millisecond}
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), opt.Timeout)
	defer cancel()

	var (
		mu      sync.Mutex
		answers = map[int]int{}
		slowest time.Duration
		done    atomic.Int32
		queue   = make(chan Delivery, len(deliveries))
		wg      sync.WaitGroup
		client  = &http.Client{Timeout: 5 * time.Second}
	)
	for _, d := range deliveries {
		queue <- d
	}
	close(queue)
	for range opt.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range queue {
				var busySince time.Time
				for ctx.Err() == nil {
					status := send(ctx, client, h.URL(), d)
					mu.Lock()
					answers[status]++
					switch {
					case status == http.StatusConflict && busySince.IsZero():
						busySince = time.Now()
					case status != http.StatusConflict && !busySince.IsZero():
						slowest = max(slowest, time.Since(busySince))
						busySince = time.Time{}
					}
					mu.Unlock()
					if status == http.StatusOK {
						done.Add(1)
						break
					}
					time.Sleep(time.Duration(20+rand.IntN(30)) * time.Millisecond) // the sender's retry
				}
			}
		}()
	}

	kills := 0
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	for {
		wait := opt.KillAfter[0] + rand.N(opt.KillAfter[1]-opt.KillAfter[0]+1)
		select {
		case <-finished:
			if kills < opt.MinKills {
				t.Fatalf("the storm ended after %d kills; it must last for at least %d (more deliveries, or shorter KillAfter)", kills, opt.MinKills)
			}
			return Result{Kills: kills, Answers: answers, SlowestBusy: slowest}
		case <-ctx.Done():
			t.Fatalf("the storm did not end within %v: %d of %d delivered; host stderr: %s", opt.Timeout, done.Load(), len(deliveries), h.stderrText())
		case <-time.After(wait):
			if int(done.Load()) < len(deliveries) {
				h.Kill()
				kills++
				h.Start()
			}
		}
	}
}

func (h *Host) stderrText() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stderr == nil {
		return ""
	}
	return h.stderr.String()
}

// send delivers d once and returns the status, or 0 when the host did not
// answer.
func send(ctx context.Context, client *http.Client, base string, d Delivery) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+d.Path, bytes.NewReader(d.Body))
	if err != nil {
		return 0
	}
	req.Header = d.Header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
