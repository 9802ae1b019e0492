package crashtest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/verify"
)

// The test binary is also the hosts the tests crash: started with
// CRASHTEST_HOST set, it serves instead of testing. Each host verifies an
// HMAC signature, takes the event ID from the signed body, and records
// each effect as a line in the file CRASHTEST_EFFECTS, with one write:
// once written, it survives the process's SIGKILL.
//
//	good      records the effect once per event (the file is its
//	          idempotency record), then answers 200
//	ackfirst  queues the event in memory and answers 200; the effect is
//	          recorded after a while: a kill in between loses the event
//	double    records the effect, works, then answers 200, recording
//	          again on a retry: a kill in between doubles the event
//	wrapper   starts a good host as its own child, as "go run" does,
//	          writes the child's process ID to CRASHTEST_PIDS, and waits
//	exit      refuses to start
//	busy      answers every delivery 503
func TestMain(m *testing.M) {
	if mode := os.Getenv("CRASHTEST_HOST"); mode != "" {
		if err := serve(mode); err != nil {
			fmt.Fprintln(os.Stderr, "crashtest host:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hostSecret is the hosts' HMAC secret; hostHeader carries the signature.
const (
	hostSecret = "crashtest host secret"
	hostHeader = "X-Signature"
)

// work is how long a host's handler works on an event.
const work = 10 * time.Millisecond

func serve(mode string) error {
	switch mode {
	case "exit":
		return fmt.Errorf("refusing to start: no database configured")
	case "wrapper":
		return wrap()
	case "good", "ackfirst", "double", "busy":
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	v, err := verify.NewHMAC([]byte(hostSecret), hostHeader)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(os.Getenv("CRASHTEST_EFFECTS"), os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	seen, err := countLines(f)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	record := func(id string) {
		mu.Lock()
		defer mu.Unlock()
		if mode == "good" && seen[id] > 0 {
			return
		}
		if _, err := f.Write([]byte(id + "\n")); err != nil {
			panic(err)
		}
		seen[id]++
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if err := v.Verify(r, body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var event struct{ ID string }
		if err := json.Unmarshal(body, &event); err != nil || event.ID == "" {
			http.Error(w, "no event ID", http.StatusBadRequest)
			return
		}
		switch mode {
		case "busy":
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case "ackfirst":
			<-time.After(work) // the handler's work before it answers (it queues the event)
			go func() {
				<-time.After(work)
				record(event.ID)
			}()
		case "good", "double":
			if mode == "good" {
				<-time.After(work) // the handler's work, before its commit
			}
			record(event.ID)
			if mode == "double" {
				select { // the handler's work, after its commit and before the answer
				case <-time.After(work):
				case <-r.Context().Done():
				}
			}
		}
	})
	ln, err := net.Listen("tcp", os.Getenv("CRASHTEST_ADDR"))
	if err != nil {
		return err
	}
	return http.Serve(ln, handler)
}

// wrap runs a good host as its child and waits for it.
func wrap() error {
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), "CRASHTEST_HOST=good")
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	if err := child.Start(); err != nil {
		return err
	}
	pids, err := os.OpenFile(os.Getenv("CRASHTEST_PIDS"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(pids, child.Process.Pid); err != nil {
		return err
	}
	pids.Close()
	return child.Wait()
}

// countLines counts the lines of r, by their text.
func countLines(r io.Reader) (map[string]int, error) {
	counts := map[string]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		counts[sc.Text()]++
	}
	return counts, sc.Err()
}

// hostCommand returns a Config.Command starting the host of mode, which
// records its effects in effects.
func hostCommand(mode, effects string, env ...string) func(addr string) *exec.Cmd {
	return func(addr string) *exec.Cmd {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "CRASHTEST_HOST="+mode, "CRASHTEST_ADDR="+addr, "CRASHTEST_EFFECTS="+effects)
		cmd.Env = append(cmd.Env, env...)
		return cmd
	}
}

// fileEffects counts the effects a host recorded in file.
func fileEffects(file string) func(context.Context) (map[string]int, error) {
	return func(context.Context) (map[string]int, error) {
		f, err := os.Open(file)
		if os.IsNotExist(err) {
			return map[string]int{}, nil
		}
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return countLines(f)
	}
}

// processGone reports whether process pid has ended (exited, or a zombie
// no one reaped yet), from /proc.
func processGone(t *testing.T, pid int) bool {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if os.IsNotExist(err) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	// "pid (comm) S ...": the state follows the last ')'.
	for i := len(stat) - 1; i >= 0; i-- {
		if stat[i] == ')' && i+2 < len(stat) {
			return stat[i+2] == 'Z' || stat[i+2] == 'X'
		}
	}
	t.Fatalf("unreadable /proc/%d/stat: %q", pid, stat)
	return false
}
