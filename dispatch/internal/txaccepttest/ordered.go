package txaccepttest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
	"github.com/hookkit/hookkit/internal/servicetest"
)

// The checks of ordered handlers (dispatch.Ordered) that depend on how the
// step claims an ordered event's key: on PostgreSQL, in the statement that
// advances its object.

// orderedEndpoint is endpoint with its handlers guarded by
// stripeevent.Ordering.
func orderedEndpoint(t *testing.T, m Binding, handle func(ctx context.Context, e *events.Event) error) *dispatch.Endpoint {
	t.Helper()
	ep, r := endpoint(t, m, handle)
	r.Use(dispatch.Ordered(stripeevent.Ordering))
	return ep
}

// objectBody is a payment_intent.succeeded with event ID id about payment
// intent object, created at created.
func objectBody(id, object string, created int64) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","type":"payment_intent.succeeded","created":%d,`+
		`"data":{"object":{"id":%q,"object":"payment_intent","amount":5000,"status":"succeeded"}}}`, id, created, object)
}

func orderedDuplicates(t *testing.T, m Binding) { duplicates(t, m, true) }

func orderedReplicasRace(t *testing.T, m Binding) { race(t, m, true) }

// orderedWaitOutlastsTheLockTimeout: an ordered event that waits for its
// object, held by another event's handler, waits as long as that handler
// runs. The lock timeout bounds only the wait for its own key: restored
// before the object's row is locked, in the statement that does both.
func orderedWaitOutlastsTheLockTimeout(t *testing.T, m Binding) {
	if !m.Waits {
		t.Skip("SQLite queues every writer at BEGIN")
	}
	object := servicetest.RandomName("pi_wait_")
	entered, release := make(chan struct{}), make(chan struct{})
	var released sync.Once
	unblock := func() { released.Do(func() { close(release) }) }
	ep := orderedEndpoint(t, m, func(ctx context.Context, e *events.Event) error {
		if e.ID == "evt_holds" {
			close(entered)
			<-release
		}
		return m.Effect(ctx, e.ID)
	})
	now := time.Now().Unix()
	first, second := make(chan int, 1), make(chan int, 1)
	t.Cleanup(unblock) // registered after the Endpoint's Shutdown: runs before it
	go func() { first <- deliver(ep, objectBody("evt_holds", object, now)) }()
	select {
	case <-entered:
	case code := <-first:
		t.Fatalf("the first event was answered %d before its handler ran", code)
	case <-time.After(30 * time.Second):
		t.Fatal("the first event's handler did not run within 30 s")
	}
	go func() { second <- deliver(ep, objectBody("evt_waits", object, now+1)) }()
	// Past the lock timeout, by the database's own account of the wait.
	wait := sqlstore.DefaultLockTimeout + 500*time.Millisecond
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for !m.LockWaitOver(t, wait) {
		select {
		case code := <-second:
			t.Fatalf("the waiting event was answered %d while the other held its object: its wait was bounded", code)
		case <-deadline:
			t.Fatalf("the second event was not seen waiting for %s within 30 s", wait)
		case <-tick.C:
		}
	}
	unblock()
	if a, b := <-first, <-second; a != 200 || b != 200 {
		t.Fatalf("answers: got %d and %d, want 200 and 200", a, b)
	}
	for _, id := range []string{"evt_holds", "evt_waits"} {
		if n := m.Effects(t, id); n != 1 {
			t.Errorf("%s: %d effects, want 1", id, n)
		}
	}
}

// orderedClaimsPrune: expired keys are pruned as ordered events are
// claimed, as they are by every other claim (one claim in
// sqlschema.PruneEvery deletes a batch).
func orderedClaimsPrune(t *testing.T, m Binding) {
	const expired, claims = 100, 64 // PruneEvery claims, pruning up to 256
	m.AddExpiredKeys(t, expired)
	ep := orderedEndpoint(t, m, func(ctx context.Context, e *events.Event) error { return m.Effect(ctx, e.ID) })
	now := time.Now().Unix()
	for i := range claims {
		expect(t, ep, objectBody(fmt.Sprintf("evt_prune_%02d", i), servicetest.RandomName("pi_prune_"), now), 200, "an ordered event")
	}
	if n := m.ExpiredKeys(t); n != 0 {
		t.Errorf("after %d ordered claims, %d of %d expired keys are left, want 0", claims, n, expired)
	}
}
