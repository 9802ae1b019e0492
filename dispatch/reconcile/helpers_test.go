package reconcile_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

const (
	stripeKey     = "rk_test_reconcile_51Hsecret"
	webhookSecret = "whsec_reconcile_tests"
)

// host is a Stripe Endpoint whose handlers count the runs of each event.
type host struct {
	ep  *dispatch.Endpoint
	mu  sync.Mutex
	ran map[string]int
	// fail makes the handler fail for these IDs.
	fail map[string]bool
}

func newHost(t *testing.T, patterns ...string) *host {
	t.Helper()
	h := &host{ran: map[string]int{}, fail: map[string]bool{}}
	r := dispatch.NewRouter()
	for _, p := range patterns {
		r.HandleFunc(p, func(_ context.Context, e *events.Event) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.fail[e.ID] {
				return fmt.Errorf("booking store down for %s", e.ID)
			}
			h.ran[e.ID]++
			return nil
		})
	}
	v, err := verify.NewStripe(webhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	h.ep = dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithStore(store), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	return h
}

func (h *host) runs(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ran[id]
}

func (h *host) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.ran {
		n += c
	}
	return n
}

// webhook delivers body to the host as Stripe would, signed.
func (h *host) webhook(t *testing.T, body []byte) int {
	t.Helper()
	req := verifytest.NewRequest(verifytest.Stripe{Secret: webhookSecret}, "/webhooks/stripe", body)
	rec := httptest.NewRecorder()
	h.ep.ServeHTTP(rec, req)
	return rec.Code
}

// addEvents adds n events of typ, one a second from start, to srv, and
// returns their bodies.
func addEvents(srv *reconciletest.Server, prefix, typ string, n int, start time.Time) [][]byte {
	var bodies [][]byte
	for i := range n {
		body := reconciletest.StripeEvent(fmt.Sprintf("evt_%s_%04d", prefix, i), typ, start.Add(time.Duration(i)*time.Second),
			fmt.Sprintf(`{"id":"pi_%s_%04d","object":"payment_intent","amount":5000,"currency":"usd","status":"succeeded","metadata":{"booking_id":"b%d"}}`, prefix, i, i))
		srv.AddStripeEvent(body)
		bodies = append(bodies, body)
	}
	return bodies
}

// newReconciler returns a Reconciler of h's Endpoint reading srv.
func newReconciler(t *testing.T, h *host, srv *reconciletest.Server, store reconcile.Store, cfg reconcile.Config) *reconcile.Reconciler {
	t.Helper()
	src, err := reconcile.NewStripe(reconcile.StripeConfig{Key: stripeKey, URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Endpoint, cfg.Source, cfg.Store = h.ep, src, store
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	}
	r, err := reconcile.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
