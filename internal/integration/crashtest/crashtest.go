// Package crashtest runs real host processes for the tests that pause,
// resume, kill and start them by hand, several on one database (a paused
// worker, a replica that dies for good). Storms, where senders retry each
// delivery until it is answered 200 while the host is killed at random
// moments, go through the public kit, package verify/crashtest.
//
// It kills only the processes it started, by pid, and talks only to
// 127.0.0.1.
package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

	t    *testing.T
	addr string
	mu   sync.Mutex
	cmd  *exec.Cmd
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
	h.cmd = cmd
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
