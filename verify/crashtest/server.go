package crashtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// server is the host's server process: started on one loopback address,
// killed with SIGKILL, started again.
type server struct {
	cfg  *Config
	addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd has exited
	out  *tail
}

// newServer picks a free port on 127.0.0.1 for the host's server.
func newServer(t testing.TB, cfg *Config) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("crashtest: finding a free loopback port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return &server{cfg: cfg, addr: addr}
}

func (s *server) baseURL() string { return "http://" + s.addr }

// errExitedEarly means a server exited before it was ready.
var errExitedEarly = errors.New("the server exited before it was ready")

// maxStarts bounds the starts of one start: a server that exits at once
// (its port still held for a moment by a process the last kill reached,
// before the kernel closed its sockets) is started again, a few times.
const maxStarts = 5

// start starts the server and waits until it is ready.
func (s *server) start(ctx context.Context) error {
	var err error
	for attempt := range maxStarts {
		if attempt > 0 {
			timer := time.NewTimer(time.Duration(attempt) * 100 * time.Millisecond)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return err
			}
		}
		if err = s.startOnce(ctx); !errors.Is(err, errExitedEarly) {
			return err
		}
	}
	return err
}

func (s *server) startOnce(ctx context.Context) error {
	cmd := s.cfg.Command(s.addr)
	switch {
	case cmd == nil:
		return errors.New("Config.Command returned a nil *exec.Cmd")
	case cmd.Process != nil:
		return errors.New("Config.Command returned a command already started: return a new *exec.Cmd from each call")
	}
	ownGroup(cmd)
	out := newTail(16 << 10)
	if cmd.Stdout == nil {
		cmd.Stdout = out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = out
	}
	// A process that outlived the kill and holds the output pipe must not
	// keep Wait, and the storm, waiting.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done, s.out = cmd, done, out
	s.mu.Unlock()

	readyCtx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := s.ready(readyCtx)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%w (%v); its output ends:\n%s", errExitedEarly, cmd.ProcessState, out)
		case <-readyCtx.Done():
			s.kill()
			return fmt.Errorf("not ready within %v (last check: %v); its output ends:\n%s", s.cfg.StartTimeout, err, out)
		case <-tick.C:
		}
	}
}

// ready asks the host's Ready, or checks that the port accepts a
// connection.
func (s *server) ready(ctx context.Context) error {
	if s.cfg.Ready != nil {
		return s.cfg.Ready(ctx, s.baseURL())
	}
	c, err := (&net.Dialer{Timeout: 100 * time.Millisecond}).DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// kill kills the server, and every process in its group, with SIGKILL,
// and waits for it to end. A server that already exited by itself is not
// signalled again: its process ID may be another process's by now.
func (s *server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
	default:
		killGroup(cmd)
		<-done
		waitGroupGone(cmd, 10*time.Second)
	}
}

// stop kills the server for good; it is safe to call when none runs.
func (s *server) stop() { s.kill() }

// exited is closed when the running server exits (nil when none runs).
func (s *server) exited() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// output returns the end of the latest server's output.
func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

// tail keeps the last bytes written to it.
type tail struct {
	mu    sync.Mutex
	limit int
	buf   []byte
	cut   bool
}

func newTail(limit int) *tail { return &tail{limit: limit} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.limit; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return "..." + string(t.buf)
	}
	return string(t.buf)
}
