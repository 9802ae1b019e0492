package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/hookkit/hookkit/internal/integration/crashtest"
	crashkit "github.com/hookkit/hookkit/verify/crashtest"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// stormOf are n distinct payment_intent.succeeded events whose IDs follow
// format, signed as Stripe signs them (for the crash host's secret) at
// each attempt.
func stormOf(format string, n int) []crashkit.Delivery {
	out := make([]crashkit.Delivery, n)
	for i := range out {
		id := fmt.Sprintf(format, i)
		out[i] = crashkit.Delivery{
			ID:     id,
			Path:   "/webhooks/stripe",
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   []byte(fmt.Sprintf(`{"id":%q,"type":"payment_intent.succeeded","created":1795420800,"data":{"object":{}}}`, id)),
			Signer: verifytest.Stripe{Secret: "whsec_crash_tests"},
		}
	}
	return out
}

// crashHost is the kit's command for the crash host with args.
func crashHost(bin string, args ...string) func(addr string) *exec.Cmd {
	return func(addr string) *exec.Cmd { return exec.Command(bin, append([]string{"-addr", addr}, args...)...) }
}

// countEffects counts the effect rows of table by event ID.
func countEffects(db *sql.DB, table string) func(context.Context) (map[string]int, error) {
	return crashkit.QueryEffects(db, `SELECT event_id, COUNT(*) FROM `+table+` GROUP BY event_id`)
}

// TestSQLTxCrash kills a real host process with SIGKILL at random moments while
// distinct events (200 on SQLite; 400 on PostgreSQL, which takes them
// faster) arrive from senders that retry each until answered
// 200, then counts every event's effect. With the transactional accept
// step each is there exactly once. With the lease step the same storm can
// double an effect (a kill between the handler's own commit and the key's
// completion), which shows the test catches what the transactional accept
// step prevents.
func TestSQLTxCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for a minute")
	}
	bin := crashtest.Build(t, "github.com/hookkit/hookkit/internal/integration/crashhost")
	events := map[string]int{"sqlite": 200, "postgres": 400}
	for _, name := range []string{"sqlite", "postgres"} {
		for _, mode := range []string{"tx", "lease"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				dsn, db := crashDatabase(t, name)
				table := "crash_effects"
				n := events[name]
				if mode == "lease" {
					n = 100 // enough to catch a doubled effect: it doubles dozens
				}
				res := crashkit.Run(t, crashkit.Config{
					Command:    crashHost(bin, "-db", dsn, "-mode", mode, "-effects", table),
					Deliveries: stormOf("evt_crash_%04d", n),
					Effects:    countEffects(db, table),
					Senders:    4,
					KillAfter:  [2]time.Duration{100 * time.Millisecond, 400 * time.Millisecond},
					Timeout:    3 * time.Minute,
				})
				if mode == "tx" {
					if !(res.Acknowledged == n && res.Lost == 0 && res.Doubled == 0) {
						t.Errorf("every acknowledged event's effect exactly once: %v", res)
					}
					return
				}
				if res.Lost != 0 {
					t.Errorf("the lease step loses nothing either: got %d lost, want 0 (%v)", res.Lost, res)
				}
				if res.Doubled <= 0 {
					t.Errorf("the lease step ran some handler twice (the storm catches what the transactional accept step prevents): got %d doubled, want some (%v)", res.Doubled, res)
				}
			})
		}
	}
}
