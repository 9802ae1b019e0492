package integration_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
)

// orderQueue is a River queue on name's database ("sqlite" or
// "postgres") whose workers run the booking host's ordered handlers.
func orderQueue(t *testing.T, name string, workers int) (*bookingHost, riverqueue.Handle, *dispatch.Router) {
	t.Helper()
	cfg := riverqueue.Config{Logger: quietLog, MaxWorkers: workers,
		River: &river.Config{FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 10 * time.Millisecond}}
	var h *bookingHost
	var q riverqueue.Handle
	var r *dispatch.Router
	if name == "sqlite" {
		db := relSQLite(t, workers+4)
		h = newBookingHost(t, false, db)
		r = h.router()
		qq, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, cfg)
		if err != nil {
			t.Fatal(err)
		}
		q = qq
	} else {
		pool := relPool(t, workers+6)
		h = newBookingHostOn(t, true, func(query string, args ...any) error {
			_, err := pool.Exec(relCtx, query, args...)
			return err
		}, func(query string, args []any, dest ...any) error {
			return pool.QueryRow(relCtx, query, args...).Scan(dest...)
		})
		r = h.router()
		qq, err := riverqueue.New(riverpgxv5.New(pool), pgxtx.NewTransactor(pool), r, cfg)
		if err != nil {
			t.Fatal(err)
		}
		q = qq
	}
	if err := q.Migrate(relCtx); err != nil {
		t.Fatal(err)
	}
	return h, q, r
}

// Every arrival order of a booking's life (24), with retries mixed in,
// queued on River and run by 8 workers: every booking ends in the state of
// the in-order run, each event applied at most once, and a confirmation
// whose job ran before its booking existed applied within a second of the
// creation.
func TestOrderedRiverEveryArrivalOrder(t *testing.T) {
	if raceDetector {
		t.Skip("time-bound storm: skipped under the race detector, run by the plain go test work step")
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			h, q, r := orderQueue(t, name, 8)
			relStart(t, relQueue{Handle: q})
			ep := conversoEndpoint(t, r, dispatch.WithAcceptor(q))
			// A woken job runs once a worker fetches it, behind the
			// storm's other jobs: the median is held to a second, each to
			// ten (the transactional step holds each to a second).
			checkEveryArrivalOrder(t, h, ep, 10*time.Second, h.settle)
		})
	}
}

// settle waits until every booking of ids is in state want, up to 20 s.
func (h *bookingHost) settle(t *testing.T, ids []string, want string) {
	t.Helper()
	var wrong []string
	if !waitUntil(20*time.Second, func() bool {
		wrong = wrong[:0]
		for _, id := range ids {
			if got := h.state(t, id); got != want {
				wrong = append(wrong, id+": "+got)
			}
		}
		return len(wrong) == 0
	}) {
		t.Fatalf("not in the final state %q within 20s: %v", want, wrong)
	}
}

// checkEveryArrivalOrder delivers an in-order life, then every arrival
// order of it (each with a retry of its second and first events at the
// end, senders of different bookings at once), waits with settle until
// every booking is in want (the in-order state), and checks effects and
// the delay from a creation to the events kept before it (those not made
// stale meanwhile): each within maxLate, their median within a second.
func checkEveryArrivalOrder(t *testing.T, h *bookingHost, ep http.Handler, maxLate time.Duration, settle func(t *testing.T, ids []string, want string)) {
	t.Helper()
	for _, name := range bookingLife {
		if code := sendBooking(t, ep, name, "in-order"); code != http.StatusOK {
			t.Fatalf("in order, %s: %d", name, code)
		}
	}
	settle(t, []string{"in-order"}, "cancelled 2026-11-26T10:00:00Z booking.cancelled")
	want := h.state(t, "in-order")
	perms := permutations(len(bookingLife))
	ids := make([]string, len(perms))
	var wg sync.WaitGroup
	for i, perm := range perms {
		ids[i] = fmt.Sprint("perm-", perm)
		order := append(slices.Clone(perm), perm[1], perm[0])
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, k := range order {
				if code := sendBooking(t, ep, bookingLife[k], ids[i]); code != http.StatusOK {
					t.Errorf("booking %s, %s: %d", ids[i], bookingLife[k], code)
				}
			}
		}()
	}
	wg.Wait()
	settle(t, ids, want)
	var late []time.Duration
	for i := range perms {
		for name, n := range h.effects(t, ids[i]) {
			if n > 1 {
				t.Errorf("booking %s: %s applied %d times", ids[i], name, n)
			}
		}
		h.mu.Lock()
		created := h.applied[ids[i]+" booking.created"]
		for _, name := range bookingLife[1:] {
			if at := h.applied[ids[i]+" "+name]; h.kept[ids[i]+" "+name] && !at.IsZero() {
				late = append(late, at.Sub(created))
			}
		}
		h.mu.Unlock()
	}
	slices.Sort(late)
	if len(late) == 0 {
		t.Fatal("no event was kept and then applied")
	}
	t.Logf("events kept before their booking's creation, then applied: %d; from the creation's apply to theirs: p50 %s, max %s",
		len(late), late[len(late)/2], late[len(late)-1])
	if worst := late[len(late)-1]; worst > maxLate {
		t.Errorf("a kept event applied %s after its booking's creation, more than %s", worst, maxLate)
	}
	if p50 := late[len(late)/2]; p50 > time.Second {
		t.Errorf("kept events applied %s (p50) after their booking's creation, more than a second", p50)
	}
}
