package drivertest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
)

// TestPeriodicReconcile: AddReconcile's periodic job runs the Reconciler
// when the client starts; recovered events are queued as River jobs (the
// Endpoint's accept step) and run by the workers, each once.
func TestPeriodicReconcile(t *testing.T) {
	const key = "rk_test_river"
	api := reconciletest.NewServer(reconciletest.Config{StripeKey: key})
	defer api.Close()
	for i := range 12 {
		api.AddStripeEvent(reconciletest.StripeEvent(fmt.Sprintf("evt_river_%02d", i), "payment_intent.succeeded",
			time.Now().Add(-time.Hour+time.Duration(i)*time.Second), `{"id":"pi_1","object":"payment_intent"}`))
	}
	var mu sync.Mutex
	ran := map[string]int{}
	all := make(chan struct{})
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(_ context.Context, e *events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		ran[e.ID]++
		if len(ran) == 12 && ran[e.ID] == 1 {
			close(all)
		}
		return nil
	})
	db := openSQLite(t, filepath.Join(t.TempDir(), "river.db"))
	rc := &river.Config{FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 10 * time.Millisecond}

	jobs, err := riverqueue.AddReconcile(rc, riverqueue.ReconcileConfig{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	q, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, riverqueue.Config{River: rc, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	v, _ := verify.NewStripe(secret)
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(q), dispatch.WithLogger(quietLogger))
	store, err := reconcile.NewSQLStore(db, reconcile.SQLConfig{Dialect: reconcile.SQLite})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	src, err := reconcile.NewStripe(reconcile.StripeConfig{Key: key, URL: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan reconcile.Report, 4)
	rec, err := reconcile.New(reconcile.Config{Endpoint: ep, Source: src, Store: store, Logger: quietLogger,
		Observe: func(_ context.Context, rep reconcile.Report) { reports <- rep }})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Add(rec); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Add(rec); !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Errorf("the same Reconciler twice: %v", err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(context.Background())
	select {
	case rep := <-reports:
		if rep.Outcomes["recovered"] != 12 || !rep.CaughtUp {
			t.Errorf("the periodic run: %+v", rep)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the periodic job did not run")
	}
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		t.Fatal("the recovered events' jobs did not all run")
	}
	// Run again on demand: nothing new, the same 12 are duplicates of
	// their jobs.
	rep, err := rec.Run(ctx)
	if err != nil || rep.Fetched != 0 {
		t.Errorf("a run after the window: %v, %+v", err, rep)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range ran {
		if n != 1 {
			t.Errorf("%s ran %d times", id, n)
		}
	}
}

func TestAddReconcileRefuses(t *testing.T) {
	if _, err := riverqueue.AddReconcile(&river.Config{}, riverqueue.ReconcileConfig{}); !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Errorf("no period: %v", err)
	}
	if _, err := riverqueue.AddReconcile(nil, riverqueue.ReconcileConfig{Every: time.Minute}); !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Errorf("nil config: %v", err)
	}
}

var quietLogger = slog.New(slog.DiscardHandler)
