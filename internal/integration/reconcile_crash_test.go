package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
	"github.com/hookkit/hookkit/internal/integration/crashtest"
)

// TestReconcileCrash kills a real reconciling process with SIGKILL at
// random moments — mid-page, mid-handler, mid-checkpoint — and starts it
// again, until a run of it catches up; then every missed event's effect
// is in the host's database exactly once: the checkpoint resumed each
// time without skipping an event, and an event accepted before a kill
// (its page not yet checkpointed) was a duplicate afterwards, not a
// second effect.
func TestReconcileCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for half a minute")
	}
	bin := crashtest.Build(t, "github.com/hookkit/hookkit/internal/integration/reconcilehost")
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			const n, key = 160, "rk_test_crash"
			dsn, db := crashDatabase(t, name)
			api := reconciletest.NewServer(reconciletest.Config{StripeKey: key})
			defer api.Close()
			var pages atomic.Int64
			requested := make(chan struct{}, 4096) // one per page request
			api.OnRequest(func(*http.Request) {
				pages.Add(1)
				select {
				case requested <- struct{}{}:
				default:
				}
			})
			start := time.Now().Add(-2 * time.Hour)
			for i := range n {
				api.AddStripeEvent(reconciletest.StripeEvent(fmt.Sprintf("evt_rcrash_%04d", i), "payment_intent.succeeded",
					start.Add(time.Duration(i)*time.Second), `{"id":"pi_1","object":"payment_intent"}`))
			}
			kills, finished := 0, false
			for attempt := 0; attempt < 60 && !finished; attempt++ {
				cmd := exec.Command(bin, "-db", dsn, "-api", api.URL, "-key", key, "-effects", "reconcile_effects")
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				caughtUp := make(chan bool, 1)
				go func() {
					sc := bufio.NewScanner(stdout)
					ok := false
					for sc.Scan() {
						ok = ok || sc.Text() == "caught-up"
					}
					caughtUp <- ok
				}()
				// Kill the first eight lives at a random moment once they
				// read a page or two; let the ninth finish.
				if kills < 8 {
					// The kill lands as its life asks for its first,
					// second or third page: mid-run, with the pages before
					// it being applied.
					for range len(requested) {
						<-requested // the earlier lives' requests
					}
					timeout := time.NewTimer(20 * time.Second)
				wait:
					for range 1 + rand.IntN(3) {
						select {
						case <-requested:
						case <-timeout.C:
							break wait
						}
					}
					timeout.Stop()
					cmd.Process.Kill() // SIGKILL
					cmd.Wait()
					if !<-caughtUp {
						kills++
						continue
					}
					finished = true // it caught up before the kill landed
					break
				}
				err = cmd.Wait()
				if !<-caughtUp || err != nil {
					t.Fatalf("the last life ended without catching up: %v: %s", err, stderr.String())
				}
				finished = true
			}
			if !finished {
				t.Fatal("never caught up")
			}
			effects, err := countEffects(db, "reconcile_effects")(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var missing, doubled []string
			for i := range n {
				id := fmt.Sprintf("evt_rcrash_%04d", i)
				switch c := effects[id]; {
				case c == 0:
					missing = append(missing, id)
				case c > 1:
					doubled = append(doubled, fmt.Sprintf("%s×%d", id, c))
				}
			}
			if len(missing) > 0 || len(doubled) > 0 || len(effects) != n {
				t.Errorf("after %d kills: %d effects; missing %v; doubled %v", kills, len(effects), missing, doubled)
			}
			if kills < 4 {
				t.Errorf("only %d kills landed before the reconciler caught up: the test proved little", kills)
			}
			t.Logf("%s: %d events recovered exactly once across %d SIGKILLs and %d page requests", name, n, kills, pages.Load())
		})
	}
}
