package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Three replicas of the backend, separate processes, started at the same
// instant on a fresh database (PostgreSQL; SQLite with the three sharing
// one file), all come up and serve within 20 s: their migrations (River's,
// hookkit's tables, the bookings schema) wait for one another instead of
// failing. Before, two of three died on PostgreSQL with River's
// "duplicate key value violates unique constraint pg_type_typname_nsp_index".
func TestReplicasStartTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the backend three times")
	}
	bin := filepath.Join(t.TempDir(), "bookings")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	for name, open := range databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := open(t)
			const replicas = 3
			type replica struct {
				addr   string
				cmd    *exec.Cmd
				stderr bytes.Buffer
				exited chan struct{}
			}
			rs := make([]*replica, replicas)
			for i := range rs {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				rs[i] = &replica{addr: ln.Addr().String()}
				ln.Close()
				cmd := exec.Command(bin, "-addr", rs[i].addr, "-db", dsn)
				cmd.Env = append(os.Environ(), "STRIPE_WEBHOOK_SECRET="+demoSecrets.Stripe, "TWILIO_AUTH_TOKEN="+demoSecrets.Twilio,
					"BOOKINGS_WEBHOOK_SECRET="+demoSecrets.Bookings, "ETAIL_WEBHOOK_SECRET="+demoSecrets.Etail)
				cmd.Stderr = &rs[i].stderr
				rs[i].cmd = cmd
			}
			var started sync.WaitGroup
			for _, r := range rs {
				r.exited = make(chan struct{})
				started.Go(func() {
					if err := r.cmd.Start(); err != nil {
						close(r.exited)
						return
					}
					go func() { r.cmd.Wait(); close(r.exited) }()
				})
			}
			started.Wait()
			t.Cleanup(func() {
				for _, r := range rs {
					if r.cmd.Process != nil {
						r.cmd.Process.Signal(syscall.SIGTERM) // the process this test started, by pid
					}
					select {
					case <-r.exited:
					case <-time.After(10 * time.Second):
						r.cmd.Process.Kill()
						<-r.exited
					}
				}
			})
			start := time.Now()
			deadline := start.Add(20 * time.Second)
			client := &http.Client{Timeout: time.Second}
			retry := time.NewTicker(50 * time.Millisecond)
			defer retry.Stop()
			for i, r := range rs {
				for {
					// Any answer means it serves: GET on a webhook route is 405.
					res, err := client.Get(fmt.Sprintf("http://%s/api/v1/webhooks/stripe/payment-events", r.addr))
					if err == nil {
						res.Body.Close()
						break
					}
					select {
					case <-r.exited:
						t.Fatalf("replica %d exited: %v\n%s", i, err, r.stderr.String())
					case <-retry.C:
					}
					if time.Now().After(deadline) {
						t.Fatalf("replica %d does not serve after %s: %v\n%s", i, time.Since(start).Round(time.Millisecond), err, r.stderr.String())
					}
				}
			}
			t.Logf("%d replicas serving %s after they started together", replicas, time.Since(start).Round(time.Millisecond))
		})
	}
}
