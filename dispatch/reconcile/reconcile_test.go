package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
)

// TestMissedEventsRecoveredOnce: events no webhook delivered are applied
// once, across pages and runs; events delivered by webhook before or after
// the run are applied once too.
func TestMissedEventsRecoveredOnce(t *testing.T) {
	tests := []struct {
		name             string
		missed, before   int // events only the API has; delivered by webhook before the run
		after            int // of the missed, delivered by webhook after the run (late retries)
		pageSize         int
		wantPages        int
		wantDuplicateRun int
	}{
		{name: "one page", missed: 7, pageSize: 100, wantPages: 1},
		{name: "many pages", missed: 250, pageSize: 100, wantPages: 3},
		{name: "pages of one", missed: 5, pageSize: 1, wantPages: 5},
		{name: "some delivered by webhook first", missed: 30, before: 20, pageSize: 10, wantPages: 5, wantDuplicateRun: 20},
		{name: "webhook retries arrive after the recovery", missed: 30, after: 30, pageSize: 10, wantPages: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := reconciletest.NewServer(reconciletest.Config{StripeKey: stripeKey})
			defer srv.Close()
			h := newHost(t, "payment_intent.succeeded")
			now := time.Now()
			start := now.Add(-2 * time.Hour)
			missed := addEvents(srv, "missed", "payment_intent.succeeded", tt.missed, start)
			delivered := addEvents(srv, "delivered", "payment_intent.succeeded", tt.before, start.Add(time.Minute))
			for _, b := range delivered {
				if code := h.webhook(t, b); code != http.StatusOK {
					t.Fatalf("webhook: %d", code)
				}
			}
			r := newReconciler(t, h, srv, reconcile.NewMemoryStore(), reconcile.Config{PageSize: tt.pageSize, MaxEvents: 10000,
				Clock: func() time.Time { return now }})
			rep, err := r.Run(context.Background())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !rep.CaughtUp || rep.Stopped != "" {
				t.Errorf("report: caught up %t, stopped %q; want caught up", rep.CaughtUp, rep.Stopped)
			}
			if got := rep.Recovered(); got != tt.missed {
				t.Errorf("recovered: got %d, want %d", got, tt.missed)
			}
			if got := rep.Outcomes["duplicate"]; got != tt.wantDuplicateRun {
				t.Errorf("duplicates: got %d, want %d", got, tt.wantDuplicateRun)
			}
			if rep.Pages != tt.wantPages {
				t.Errorf("pages: got %d, want %d", rep.Pages, tt.wantPages)
			}
			for _, b := range missed[:tt.after] {
				if code := h.webhook(t, b); code != http.StatusOK {
					t.Fatalf("late webhook: %d", code)
				}
			}
			// A second run finds nothing new to do.
			rep2, err := r.Run(context.Background())
			if err != nil {
				t.Fatalf("second Run: %v", err)
			}
			if rep2.Fetched != 0 {
				t.Errorf("second run fetched %d events, want 0 (the window is done)", rep2.Fetched)
			}
			if got, want := h.total(), tt.missed+tt.before; got != want {
				t.Errorf("handler runs: got %d, want %d", got, want)
			}
			for i := range tt.missed {
				if id := fmt.Sprintf("evt_missed_%04d", i); h.runs(id) != 1 {
					t.Errorf("%s ran %d times, want 1", id, h.runs(id))
				}
			}
		})
	}
}

// TestOnlyHandledTypesFetched: the reconciler asks only for the types the
// router handles; a host with no handler for a type never fetches it, and
// a host with no handlers fetches nothing.
func TestOnlyHandledTypesFetched(t *testing.T) {
	tests := []struct {
		name      string
		patterns  []string
		wantQuery []string // the type filters asked for, one per request
	}{
		{name: "no handlers", patterns: nil, wantQuery: nil},
		{name: "exact types", patterns: []string{"payment_intent.succeeded", "charge.refunded"},
			wantQuery: []string{"types=charge.refunded,payment_intent.succeeded"}},
		{name: "a prefix", patterns: []string{"invoice.*"}, wantQuery: []string{"type=invoice.*"}},
		{name: "a prefix and a type", patterns: []string{"invoice.*", "charge.refunded"},
			wantQuery: []string{"type=invoice.*", "types=charge.refunded"}},
		{name: "everything", patterns: []string{"*"}, wantQuery: []string{"all"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := reconciletest.NewServer(reconciletest.Config{StripeKey: stripeKey})
			defer srv.Close()
			start := time.Now().Add(-time.Hour)
			addEvents(srv, "pi", "payment_intent.succeeded", 3, start)
			addEvents(srv, "cust", "customer.created", 3, start)
			addEvents(srv, "inv", "invoice.paid", 3, start)
			addEvents(srv, "ch", "charge.refunded", 3, start)
			h := newHost(t, tt.patterns...)
			r := newReconciler(t, h, srv, reconcile.NewMemoryStore(), reconcile.Config{})
			rep, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var asked []string
			for _, u := range srv.Requests() {
				q := u.Query()
				var types []string
				for k, v := range q {
					if strings.HasPrefix(k, "types") {
						types = append(types, v...)
					}
				}
				slices.Sort(types)
				switch {
				case q.Get("type") != "":
					asked = append(asked, "type="+q.Get("type"))
				case len(types) > 0:
					asked = append(asked, "types="+strings.Join(types, ","))
				default:
					asked = append(asked, "all")
				}
			}
			if !slices.Equal(asked, tt.wantQuery) {
				t.Errorf("requests: got %q, want %q", asked, tt.wantQuery)
			}
			if rep.Outcomes["unknown-type"] != 0 {
				t.Errorf("%d events of unhandled types were fetched", rep.Outcomes["unknown-type"])
			}
			if rep.Fetched != h.total() {
				t.Errorf("fetched %d, handled %d: every fetched event is one the host handles", rep.Fetched, h.total())
			}
		})
	}
}

// TestRateLimitStorm: a run of 429s slows the run and does not fail it;
// Retry-After is honoured.
func TestRateLimitStorm(t *testing.T) {
	srv := reconciletest.NewServer(reconciletest.Config{StripeKey: stripeKey})
	defer srv.Close()
	h := newHost(t, "payment_intent.succeeded")
	addEvents(srv, "storm", "payment_intent.succeeded", 45, time.Now().Add(-time.Hour))
	r := newReconciler(t, h, srv, reconcile.NewMemoryStore(), reconcile.Config{PageSize: 10})

	// Eight 429s without Retry-After (the reconciler's backoff), then two
	// saying "Retry-After: 1".
	var limitedAt []time.Time
	count := 0
	srv.RateLimit(8, "")
	srv.OnRequest(func(*http.Request) {
		count++
		if count == 9 {
			srv.RateLimit(2, "1")
		}
		limitedAt = append(limitedAt, time.Now())
	})
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.RateLimited != 10 {
		t.Errorf("rate limited: got %d, want 10", rep.RateLimited)
	}
	if rep.Recovered() != 45 || h.total() != 45 || !rep.CaughtUp {
		t.Errorf("recovered %d (handled %d, caught up %t), want 45", rep.Recovered(), h.total(), rep.CaughtUp)
	}
	// Requests 9 and 10 were told to wait a second each, and did.
	if gap := limitedAt[10].Sub(limitedAt[9]); gap < time.Second {
		t.Errorf("the request after a Retry-After: 1 came %s later", gap)
	}
}

// TestRateLimitOutlastsRun: a sender that limits longer than the run's
// time ends the run as bounded, not failed, and the next run goes on.
func TestRateLimitOutlastsRun(t *testing.T) {
	srv := reconciletest.NewServer(reconciletest.Config{StripeKey: stripeKey})
	defer srv.Close()
	h := newHost(t, "payment_intent.succeeded")
	addEvents(srv, "long", "payment_intent.succeeded", 5, time.Now().Add(-time.Hour))
	r := newReconciler(t, h, srv, reconcile.NewMemoryStore(), reconcile.Config{MaxDuration: 300 * time.Millisecond})
	srv.RateLimit(1, "30")
	rep, err := r.Run(context.Background())
	if rep.Stopped != "max-duration" || rep.Error != "" {
		t.Errorf("report: stopped %q, error %q (%v); want stopped by max-duration, no error", rep.Stopped, rep.Error, err)
	}
	rep, err = r.Run(context.Background())
	if err != nil || rep.Recovered() != 5 {
		t.Errorf("next run: recovered %d, %v; want 5", rep.Recovered(), err)
	}
}

// TestRunBounds: a run stops at MaxEvents and the next goes on from the
// checkpoint, without skipping or repeating an event.
func TestRunBounds(t *testing.T) {
	srv := reconciletest.NewServer(reconciletest.Config{StripeKey: stripeKey})
	defer srv.Close()
	h := newHost(t, "payment_intent.succeeded")
	addEvents(srv, "bound", "payment_intent.succeeded", 95, time.Now().Add(-time.Hour))
	r := newReconciler(t, h, srv, reconcile.NewMemoryStore(), reconcile.Config{PageSize: 20, MaxEvents: 30})
	var runs []reconcile.Report
	for range 10 {
		rep, err := r.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, rep)
		if rep.CaughtUp {
			break
		}
		if rep.Stopped != "max-events" || rep.Fetched != 30 || !rep.Checkpoint.Open() {
			t.Fatalf("bounded run: stopped %q after %d events, checkpoint %+v", rep.Stopped, rep.Fetched, rep.Checkpoint)
		}
	}
	if len(runs) != 4 {
		t.Errorf("runs: got %d, want 4 (30, 30, 30, 5)", len(runs))
	}
	for _, rep := range runs {
		if rep.Outcomes["duplicate"] != 0 {
			t.Errorf("a run repeated %d events", rep.Outcomes["duplicate"])
		}
	}
	if h.total() != 95 {
		t.Errorf("handled %d, want 95", h.total())
	}
}

// TestFailedEventHoldsCheckpoint: an event whose handler fails stops the
// run before its page; the next run, once the handler works, applies it
// and what followed, each once.
func TestFailedEventHoldsCheckpoint(t *testing.T) {
	srv := reconciletest.NewServer(reconciletest.Config{StripeKey: stripeKey})
	defer srv.Close()
	h := newHost(t, "payment_intent.succeeded")
	addEvents(srv, "f", "payment_intent.succeeded", 25, time.Now().Add(-time.Hour))
	h.fail["evt_f_0012"] = true
	r := newReconciler(t, h, srv, reconcile.NewMemoryStore(), reconcile.Config{PageSize: 5})
	rep, err := r.Run(context.Background())
	if !errors.Is(err, reconcile.ErrNotAccepted) || rep.Stopped != "error" {
		t.Fatalf("Run: %v (stopped %q), want ErrNotAccepted", err, rep.Stopped)
	}
	if rep.Outcomes["failed"] != 1 || !rep.Checkpoint.Open() || rep.Checkpoint.Cursor == "" {
		t.Errorf("report: %+v", rep)
	}
	delete(h.fail, "evt_f_0012")
	rep, err = r.Run(context.Background())
	if err != nil || !rep.CaughtUp {
		t.Fatalf("second Run: %v, %+v", err, rep)
	}
	for i := range 25 {
		if id := fmt.Sprintf("evt_f_%04d", i); h.runs(id) != 1 {
			t.Errorf("%s ran %d times, want 1", id, h.runs(id))
		}
	}
}

// TestKeyNeverLogged: the API key appears in no log line, Report or error,
// even when the sender refuses it.
func TestKeyNeverLogged(t *testing.T) {
	for _, serverKey := range []string{stripeKey, "sk_test_another"} {
		srv := reconciletest.NewServer(reconciletest.Config{StripeKey: serverKey})
		h := newHost(t, "payment_intent.succeeded")
		addEvents(srv, "k", "payment_intent.succeeded", 3, time.Now().Add(-time.Hour))
		var logs lockedBuffer
		r := newReconciler(t, h, srv, reconcile.NewMemoryStore(), reconcile.Config{
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		srv.RateLimit(1, "")
		rep, err := r.Run(context.Background())
		srv.Close()
		if serverKey != stripeKey && err == nil {
			t.Errorf("a refused key: Run succeeded")
		}
		text := fmt.Sprintf("%s %+v %v", logs.String(), rep, err)
		if strings.Contains(text, stripeKey) || strings.Contains(text, "51Hsecret") {
			t.Errorf("the key is in the logs, report or error: %s", text)
		}
		if !strings.Contains(logs.String(), "reconcile run") {
			t.Errorf("no run line logged: %s", logs.String())
		}
	}
}

// TestOneRunAtATime: a second Run while one is under way, in this process
// or (through the Store's lease) another, is refused with ErrRunning.
func TestOneRunAtATime(t *testing.T) {
	srv := reconciletest.NewServer(reconciletest.Config{StripeKey: stripeKey})
	defer srv.Close()
	h := newHost(t, "payment_intent.succeeded")
	addEvents(srv, "o", "payment_intent.succeeded", 3, time.Now().Add(-time.Hour))
	store := reconcile.NewMemoryStore()
	ended := make(chan reconcile.Report, 1)
	a := newReconciler(t, h, srv, store, reconcile.Config{Observe: func(_ context.Context, rep reconcile.Report) { ended <- rep }})
	b := newReconciler(t, h, srv, store, reconcile.Config{}) // another process's
	entered, release := make(chan struct{}), make(chan struct{})
	srv.OnRequest(func(*http.Request) {
		select {
		case entered <- struct{}{}:
			<-release
		default:
		}
	})
	done := make(chan error, 1)
	if !a.Start(context.Background()) {
		t.Fatal("Start refused with no run under way")
	}
	go func() { <-entered; done <- nil }()
	<-done
	if a.Start(context.Background()) {
		t.Error("a second Start in the same process started a run")
	}
	if _, err := a.Run(context.Background()); !errors.Is(err, reconcile.ErrRunning) {
		t.Errorf("Run beside Start: %v, want ErrRunning", err)
	}
	if _, err := b.Run(context.Background()); !errors.Is(err, reconcile.ErrRunning) {
		t.Errorf("another process's Run: %v, want ErrRunning", err)
	}
	close(release)
	if rep := <-ended; rep.Recovered() != 3 {
		t.Errorf("the started run recovered %d, want 3", rep.Recovered())
	}
	st, err := a.Status(context.Background())
	if err != nil || st.Last.Recovered() != 3 || st.Name != "stripe" {
		t.Errorf("status after the run: %+v, %v", st, err)
	}
}

func TestConfigRefused(t *testing.T) {
	h := newHost(t, "payment_intent.succeeded")
	src, err := reconcile.NewStripe(reconcile.StripeConfig{Key: stripeKey})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  reconcile.Config
	}{
		{name: "no endpoint", cfg: reconcile.Config{Source: src, Store: reconcile.NewMemoryStore()}},
		{name: "no source", cfg: reconcile.Config{Endpoint: h.ep, Store: reconcile.NewMemoryStore()}},
		{name: "no store", cfg: reconcile.Config{Endpoint: h.ep, Source: src}},
		{name: "negative bound", cfg: reconcile.Config{Endpoint: h.ep, Source: src, Store: reconcile.NewMemoryStore(), MaxEvents: -1}},
		{name: "lease under the run's time", cfg: reconcile.Config{Endpoint: h.ep, Source: src, Store: reconcile.NewMemoryStore(),
			MaxDuration: time.Minute, Lease: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := reconcile.New(tt.cfg); !errors.Is(err, dispatch.ErrInvalidConfig) {
				t.Errorf("New: %v, want ErrInvalidConfig", err)
			}
		})
	}
	if _, err := reconcile.NewStripe(reconcile.StripeConfig{}); !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Errorf("NewStripe without a key: %v, want ErrInvalidConfig", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {"0", 0}, {"-1", 0}, {"soon", 0},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := reconcile.ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q): got %s, want %s", tt.in, got, tt.want)
		}
	}
}
