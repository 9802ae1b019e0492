package clitest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hookkit/hookkit/verify/verifytest"
)

type stateKey struct{}

// scriptState is one script's endpoints, posts and background commands.
type scriptState struct {
	server *server
	posted map[string]*posted
	procs  map[string]*process
}

func state(ts *testscript.TestScript) *scriptState { return ts.Value(stateKey{}).(*scriptState) }

// stop kills the background commands a script left running.
func (st *scriptState) stop() {
	for _, p := range st.procs {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	}
}

// scriptCommands are the commands the scripts add to testscript's.
var scriptCommands = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"deliveries":   cmdDeliveries,
	"header":       cmdHeader,
	"samebytes":    cmdSameBytes,
	"post":         cmdPost,
	"sameasposted": cmdSameAsPosted,
	"launch":       cmdLaunch,
	"collect":      cmdCollect,
}

// deliveries ROUTE prints what ROUTE received, one line each (see
// received.describe).
func cmdDeliveries(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: deliveries ROUTE")
	}
	for _, rec := range state(ts).server.deliveries(args[0]) {
		fmt.Fprintln(ts.Stdout(), rec.describe())
	}
}

// header ROUTE N NAME prints the values of header NAME (Host: the Host
// header) of ROUTE's N-th delivery, one "NAME: value" line each.
func cmdHeader(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: header ROUTE N NAME")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	got := state(ts).server.deliveries(args[0])
	if n < 1 || n > len(got) {
		ts.Fatalf("%s received %d deliveries", args[0], len(got))
	}
	values := got[n-1].header.Values(args[2])
	if strings.EqualFold(args[2], "Host") {
		values = []string{got[n-1].host}
	}
	for _, v := range values {
		fmt.Fprintf(ts.Stdout(), "%s: %s\n", args[2], v)
	}
}

// samebytes ROUTE FILE|DIR... checks that the bodies ROUTE received are
// byte for byte the files given (every body file under a DIR), as a
// multiset: same SHA-256s, as many of each.
func cmdSameBytes(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: samebytes ROUTE FILE|DIR...")
	}
	var want []string
	for _, arg := range args[1:] {
		path := ts.MkAbs(arg)
		st, err := os.Stat(path)
		ts.Check(err)
		files := []string{path}
		if st.IsDir() {
			files = nil
			ts.Check(filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && slices.Contains([]string{".json", ".form", ".body"}, filepath.Ext(p)) {
					files = append(files, p)
				}
				return err
			}))
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			ts.Check(err)
			want = append(want, sum(b))
		}
	}
	var got []string
	for _, rec := range state(ts).server.deliveries(args[0]) {
		got = append(got, sum(rec.body))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		ts.Fatalf("%s received %d bodies, %d of them the files' bytes; the files are %d", args[0], len(got), overlap(got, want), len(want))
	}
	fmt.Fprintf(ts.Stdout(), "%d bodies byte for byte\n", len(got))
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func overlap(a, b []string) int {
	n := 0
	for _, x := range a {
		if i := slices.Index(b, x); i >= 0 {
			b = slices.Delete(slices.Clone(b), i, i+1)
			n++
		}
	}
	return n
}

// posted is a request a script sent with post.
type posted struct {
	host   string
	header http.Header
	body   []byte
}

// post NAME URL FILE [sign=stripe[:SIGNED]] [Header: value]... sends
// FILE's bytes with exactly these headers (no User-Agent, no
// Accept-Encoding unless given) and prints the answer's status and body.
// sign=stripe adds a Stripe-Signature made with the test secret, over
// FILE, or over the file SIGNED (a body that is not the one sent).
func cmdPost(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: post NAME URL FILE [sign=stripe] [Header: value]...")
	}
	body, err := os.ReadFile(ts.MkAbs(args[2]))
	ts.Check(err)
	r, err := http.NewRequest(http.MethodPost, args[1], bytes.NewReader(body))
	ts.Check(err)
	r.Header = http.Header{"User-Agent": {""}}
	for _, h := range args[3:] {
		if signed, ok := strings.CutPrefix(h, "sign=stripe"); ok {
			content := body
			if file, ok := strings.CutPrefix(signed, ":"); ok {
				content, err = os.ReadFile(ts.MkAbs(file))
				ts.Check(err)
			}
			ts.Check(verifytest.Stripe{Secret: stripeSecret}.Sign(r, content))
			continue
		}
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			ts.Fatalf("post: header %q is not K: V", h)
		}
		if strings.EqualFold(k, "Host") {
			r.Host = strings.TrimSpace(v)
			continue
		}
		r.Header.Add(k, strings.TrimSpace(v))
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(r)
	ts.Check(err)
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	ts.Check(err)
	sent := r.Header.Clone()
	delete(sent, "User-Agent")
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	state(ts).posted[args[0]] = &posted{host: host, header: sent, body: body}
	fmt.Fprintf(ts.Stdout(), "%d %s\n", resp.StatusCode, answer)
	if (resp.StatusCode >= 300) != neg {
		ts.Fatalf("post answered %d", resp.StatusCode)
	}
}

// sameasposted NAME ROUTE N checks that ROUTE's N-th delivery is what post
// NAME sent: the same body bytes, the same Host, and the same headers,
// no more (but the Content-Length the transport adds), no fewer.
func cmdSameAsPosted(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: sameasposted NAME ROUTE N")
	}
	p := state(ts).posted[args[0]]
	if p == nil {
		ts.Fatalf("nothing posted as %s", args[0])
	}
	n, err := strconv.Atoi(args[2])
	ts.Check(err)
	got := state(ts).server.deliveries(args[1])
	if n < 1 || n > len(got) {
		ts.Fatalf("%s received %d deliveries", args[1], len(got))
	}
	rec := got[n-1]
	if !bytes.Equal(rec.body, p.body) {
		ts.Fatalf("the body differs: %d bytes received, %d posted", len(rec.body), len(p.body))
	}
	if rec.host != p.host {
		ts.Fatalf("Host %q received, %q posted", rec.host, p.host)
	}
	h := rec.header.Clone()
	if h.Get("Content-Length") != strconv.Itoa(len(p.body)) {
		ts.Fatalf("Content-Length %q received for %d bytes", h.Get("Content-Length"), len(p.body))
	}
	delete(h, "Content-Length")
	for k, v := range p.header {
		if !slices.Equal(h[k], v) {
			ts.Fatalf("header %s: %q received, %q posted", k, h[k], v)
		}
		delete(h, k)
	}
	if len(h) > 0 {
		ts.Fatalf("headers received that were not posted: %v", h)
	}
	fmt.Fprintf(ts.Stdout(), "%d bytes and %d headers as posted\n", len(rec.body), len(p.header))
}

// process is a command a script runs in the background.
type process struct {
	cmd      *exec.Cmd
	out, err bytes.Buffer
	mu       sync.Mutex // guards out while the copier writes
	copied   chan struct{}
}

// readyLine is the first line of a background command that serves: the
// URL it listens on.
var readyLine = regexp.MustCompile(`^listening on (\S+)`)

// launch NAME hookkit ARGS... starts a command in the background and
// waits for its first line, "listening on URL"; $NAME is then the URL.
func cmdLaunch(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: launch NAME hookkit ARGS...")
	}
	bin := args[1]
	if bin == "hookkit" {
		bin = hookkitBin
	}
	p := &process{cmd: exec.Command(bin, args[2:]...), copied: make(chan struct{})}
	p.cmd.Dir = ts.MkAbs(".")
	p.cmd.Env = append(os.Environ(), "HOOKKIT_SECRET="+ts.Getenv("HOOKKIT_SECRET"), "HOOKKIT_ADMIN_TOKEN="+ts.Getenv("HOOKKIT_ADMIN_TOKEN"))
	p.cmd.Stderr = &p.err
	stdout, err := p.cmd.StdoutPipe()
	ts.Check(err)
	ts.Check(p.cmd.Start())
	state(ts).procs[args[0]] = p
	br := bufio.NewReader(stdout)
	first, err := br.ReadString('\n')
	m := readyLine.FindStringSubmatch(first)
	if m == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		ts.Fatalf("%s did not say where it listens: %q (%v); stderr: %s", args[0], first, err, p.err.String())
	}
	p.out.WriteString(first)
	go func() {
		defer close(p.copied)
		var buf [4096]byte
		for {
			n, err := br.Read(buf[:])
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	ts.Setenv(args[0], m[1])
}

// collect NAME waits (up to a minute) for a background command to exit
// and makes its output the last command's: stdout and stderr checks apply
// to it. ! collect expects it to fail.
func cmdCollect(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: collect NAME")
	}
	p := state(ts).procs[args[0]]
	if p == nil {
		ts.Fatalf("no background command %s", args[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	select {
	case <-p.copied:
	case <-ctx.Done():
		p.cmd.Process.Kill()
		<-p.copied
		p.cmd.Wait()
		ts.Fatalf("%s did not exit within a minute; stdout:\n%s", args[0], p.out.String())
	}
	err := p.cmd.Wait()
	p.mu.Lock()
	ts.Stdout().Write(p.out.Bytes())
	p.mu.Unlock()
	ts.Stderr().Write(p.err.Bytes())
	if (err != nil) != neg {
		ts.Fatalf("%s exited: %v", args[0], err)
	}
}
