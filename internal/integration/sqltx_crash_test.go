package integration_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/hookkit/hookkit/internal/integration/crashtest"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// deliveries are n distinct payment_intent.succeeded events, signed as
// Stripe signs them (for the crash host's secret).
func deliveries(n int) []crashtest.Delivery {
	out := make([]crashtest.Delivery, n)
	for i := range out {
		body := []byte(fmt.Sprintf(`{"id":"evt_crash_%04d","type":"payment_intent.succeeded","created":1795420800,"data":{"object":{}}}`, i))
		h := http.Header{"Content-Type": {"application/json"}}
		h.Set("Stripe-Signature", verifytest.Stripe{Secret: "whsec_crash_tests"}.Header(body))
		out[i] = crashtest.Delivery{Path: "/webhooks/stripe", Header: h, Body: body}
	}
	return out
}

// effectsPerEvent counts the effect rows of each of the n events.
func effectsPerEvent(t *testing.T, db *sql.DB, table string, n int) map[int]int {
	t.Helper()
	perCount := map[int]int{} // effects -> how many events had that many
	for i := range n {
		var c int
		if err := db.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE event_id = $1`, fmt.Sprintf("evt_crash_%04d", i)).Scan(&c); err != nil {
			t.Fatal(err)
		}
		perCount[c]++
	}
	return perCount
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
				host := crashtest.NewHost(t, bin, "-db", dsn, "-mode", mode, "-effects", table)
				host.Start()
				n := events[name]
				if mode == "lease" {
					n = 100 // enough to catch a doubled effect: it doubles dozens
				}
				res := crashtest.Storm(t, host, deliveries(n), crashtest.Options{Senders: 4})
				counts := effectsPerEvent(t, db, table, n)
				t.Logf("%d kills; answers %v; events by number of effects %v", res.Kills, res.Answers, counts)
				if mode == "tx" {
					if want := (map[int]int{1: n}); !reflect.DeepEqual(counts, want) {
						t.Errorf("every acknowledged event's effect exactly once: got %v, want %v", counts, want)
					}
					return
				}
				if counts[0] != 0 {
					t.Errorf("the lease step loses nothing either: got %d, want 0", counts[0])
				}
				if counts[1] >= n {
					t.Errorf("the lease step ran some handler twice: the storm catches what the transactional accept step prevents: got %d, want < %d", counts[1], n)
				}
			})
		}
	}
}
