package dispatch_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
)

type ctxKey struct{}

// A handler's context carries the request's values and the delivery's
// deadline; a sender that hangs up does not end it, Shutdown's deadline
// does.
func TestHandlerContextOutlivesTheSenderNotShutdown(t *testing.T) {
	type seen struct {
		value    any
		deadline time.Time
		ctx      context.Context
	}
	started, release := make(chan seen, 1), make(chan struct{})
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, _ *events.Event) error {
		deadline, _ := ctx.Deadline()
		started <- seen{ctx.Value(ctxKey{}), deadline, ctx}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	})
	ep := newStripeEndpoint(t, r, dispatch.WithTimeout(time.Minute))
	reqCtx, hangUp := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "from the request"))
	req := signed(stripeBody(t, "payment_intent.succeeded", "evt_ctx")).WithContext(reqCtx)
	rec := httptest.NewRecorder()
	served := make(chan struct{})
	sent := time.Now()
	go func() { ep.ServeHTTP(rec, req); close(served) }()
	s := <-started
	if s.value != "from the request" {
		t.Errorf("the request's value: %v", s.value)
	}
	if d := s.deadline.Sub(sent); d <= 0 || d > time.Minute+time.Second {
		t.Errorf("deadline %s after the delivery, want WithTimeout's minute", d)
	}
	hangUp()
	<-reqCtx.Done()
	if err := s.ctx.Err(); err != nil {
		t.Fatalf("a sender that hung up ended the handler's context: %v", err)
	}
	stopCtx, cancel := context.WithCancel(context.Background())
	cancel() // Shutdown's deadline has passed
	if err := ep.Shutdown(stopCtx); err == nil {
		t.Fatal("Shutdown returned nil with a handler running")
	}
	select {
	case <-s.ctx.Done(): // Shutdown's deadline ends it
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown's deadline passed, and the handler's context did not end within 10s")
	}
	<-served
	close(release)
}
