package reconcile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
)

// TestEvery: the ticker runs each Reconciler at once and again every
// interval, events arriving between runs are recovered by the next, and it
// returns when its context ends.
func TestEvery(t *testing.T) {
	srv := reconciletest.NewServer(reconciletest.Config{StripeKey: stripeKey})
	defer srv.Close()
	h := newHost(t, "payment_intent.succeeded")
	start := time.Now().Add(-time.Hour)
	addEvents(srv, "tick1", "payment_intent.succeeded", 3, start)
	reports := make(chan reconcile.Report)
	r := newReconciler(t, h, srv, reconcile.NewMemoryStore(), reconcile.Config{Lag: time.Millisecond,
		Observe: func(_ context.Context, rep reconcile.Report) { reports <- rep }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reconcile.Every(ctx, 20*time.Millisecond, r) }()
	if rep := <-reports; rep.Recovered() != 3 {
		t.Errorf("first run recovered %d, want 3", rep.Recovered())
	}
	// Missed while the ticker waits: the next runs find them. (Created
	// after the first window's end, as new events are: an event created
	// before a checkpoint and listed only later is what Config.Lag
	// guards against.)
	addEvents(srv, "tick2", "payment_intent.succeeded", 2, time.Now().Add(2*time.Second))
	recovered := 0
	for recovered < 2 {
		recovered += (<-reports).Recovered()
	}
	cancel()
	go func() {
		for range reports { // a run under way when ctx ended reports too
		}
	}()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Every returned %v, want context.Canceled", err)
	}
	if h.total() != 5 {
		t.Errorf("handled %d, want 5", h.total())
	}
	if err := reconcile.Every(context.Background(), 0, r); !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Errorf("a zero interval: %v", err)
	}
}
