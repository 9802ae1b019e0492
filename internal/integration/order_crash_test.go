package integration_test

import (
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/internal/integration/crashtest"
	crashkit "github.com/hookkit/hookkit/verify/crashtest"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// TestOrderedCrash kills a real host (orderhost: ordered booking handlers
// on the transactional accept step) with SIGKILL at random moments while
// the shuffled lives of many bookings arrive from senders that retry each
// event until answered 200: confirmations before their creations are
// kept, kills land mid-handler, mid-keep and between a creation's commit
// and its kept events' runs. Every booking ends in the in-order state,
// no event took effect twice, and an acknowledged event without an effect
// is only ever a confirmation or a reschedule made stale by a later event
// of its booking (the creation and the cancellation each took effect
// exactly once).
func TestOrderedCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for a minute")
	}
	bin := crashtest.Build(t, "github.com/hookkit/hookkit/internal/integration/orderhost")
	// PostgreSQL runs 16 bookings' events at once, SQLite one: it needs
	// more bookings for its storm to outlast the 5 kills asked.
	bookings := map[string]int{"sqlite": 30, "postgres": 150}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			dsn, db := crashDatabase(t, name)
			deliveries, ids, typeOf := orderStorm(t, bookings[name])
			res := crashkit.Run(t, crashkit.Config{
				Command:    crashHost(bin, "-db", dsn),
				Deliveries: deliveries,
				Effects:    crashkit.QueryEffects(db, `SELECT event_id, COUNT(*) FROM booking_effects GROUP BY event_id`),
				Senders:    4,
				KillAfter:  [2]time.Duration{100 * time.Millisecond, 400 * time.Millisecond},
				Settle:     5 * time.Second,
				Timeout:    3 * time.Minute,
			})
			if res.Acknowledged != res.Sent || res.Doubled != 0 || res.Kills == 0 {
				t.Errorf("every event acknowledged, none doubled, some kills: %v", res)
			}
			for _, id := range res.LostIDs {
				if typ := typeOf[id]; typ != "booking.confirmed" && typ != "booking.rescheduled" {
					t.Errorf("acknowledged %s (%s) has no effect", id, typ)
				}
			}
			want := "cancelled 2026-11-26T10:00:00Z booking.cancelled"
			var wrong []string
			if !waitUntil(20*time.Second, func() bool {
				wrong = wrongStates(t, db, name == "postgres", ids, want)
				return len(wrong) == 0
			}) {
				t.Fatalf("bookings not in the in-order state %q: %v", want, wrong)
			}
		})
	}
}

// orderStorm is the lives of n bookings, shuffled together, as the crash
// kit delivers them, with each event's type by its ID.
func orderStorm(t *testing.T, n int) ([]crashkit.Delivery, []string, map[string]string) {
	t.Helper()
	signer := verifytest.HMAC{Secret: []byte("gc_order_crash"), Header: "X-Goconverso-Signature"}
	var out []crashkit.Delivery
	var ids []string
	typeOf := map[string]string{}
	for i := range n {
		id := fmt.Sprintf("crash-%03d", i)
		ids = append(ids, id)
		for _, name := range bookingLife {
			body := bookingEvent(t, name, id)
			e, err := conversoevent.NewParser().Parse(nil, body)
			if err != nil {
				t.Fatal(err)
			}
			typeOf[e.ID] = name
			out = append(out, crashkit.Delivery{ID: e.ID, Path: "/webhooks/goconverso",
				Header: http.Header{"Content-Type": {"application/json"}}, Body: body, Signer: signer})
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, ids, typeOf
}

// wrongStates returns the bookings of ids whose row is not want.
func wrongStates(t *testing.T, db *sql.DB, postgres bool, ids []string, want string) []string {
	t.Helper()
	q := `SELECT status, scheduled_at, last_event FROM bookings WHERE id = ?`
	if postgres {
		q = strings.Replace(q, "?", "$1", 1)
	}
	var wrong []string
	for _, id := range ids {
		var status, at, last string
		err := db.QueryRow(q, id).Scan(&status, &at, &last)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			wrong = append(wrong, id+": absent")
		case err != nil:
			// The table may not exist yet if no host ever started.
			wrong = append(wrong, id+": "+err.Error())
		case status+" "+at+" "+last != want:
			wrong = append(wrong, id+": "+status+" "+at+" "+last)
		}
	}
	slices.Sort(wrong)
	return wrong
}
