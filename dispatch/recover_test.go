package dispatch_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
)

// TestRecover feeds events through Endpoint.Recover, alone and beside
// deliveries of the same event: each runs its handler once, whichever way
// comes first.
func TestRecover(t *testing.T) {
	tests := []struct {
		name string
		// steps are "webhook" (a signed delivery) or "recover", in order.
		steps    []string
		body     func(t *testing.T) []byte
		handler  error
		want     []dispatch.Outcome // one per step
		wantRuns int32
	}{
		{name: "missed event recovered", steps: []string{"recover"},
			want: []dispatch.Outcome{dispatch.OutcomeRecovered}, wantRuns: 1},
		{name: "recovered twice runs once", steps: []string{"recover", "recover"},
			want: []dispatch.Outcome{dispatch.OutcomeRecovered, dispatch.OutcomeDuplicate}, wantRuns: 1},
		{name: "delivered by webhook first", steps: []string{"webhook", "recover"},
			want: []dispatch.Outcome{dispatch.OutcomeProcessed, dispatch.OutcomeDuplicate}, wantRuns: 1},
		{name: "webhook arrives after the recovery", steps: []string{"recover", "webhook"},
			want: []dispatch.Outcome{dispatch.OutcomeRecovered, dispatch.OutcomeDuplicate}, wantRuns: 1},
		{name: "handler fails: not acknowledged, runs again next time", steps: []string{"recover"}, handler: errors.New("database down"),
			want: []dispatch.Outcome{dispatch.OutcomeFailed}, wantRuns: 1},
		{name: "not an event", steps: []string{"recover"}, body: func(*testing.T) []byte { return []byte(`{"object":"list"}`) },
			want: []dispatch.Outcome{dispatch.OutcomeMalformed}},
		{name: "a type without a handler", steps: []string{"recover"},
			body: func(t *testing.T) []byte { return stripeBody(t, "charge.refunded", "evt_recover_unknown") },
			want: []dispatch.Outcome{dispatch.OutcomeUnknownType}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var runs atomic.Int32
			r := dispatch.NewRouter()
			dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(context.Context, *events.Event, *stripe.PaymentIntent) error {
				runs.Add(1)
				return tt.handler
			})
			obs := &recorder{}
			r.Observe(obs)
			ep := newStripeEndpoint(t, r, dispatch.WithStore(memStore(t)))
			body := stripeBody(t, "payment_intent.succeeded", "evt_recover_1")
			if tt.body != nil {
				body = tt.body(t)
			}
			for i, step := range tt.steps {
				var got dispatch.Outcome
				switch step {
				case "webhook":
					status, _ := deliver(ep, signed(body))
					if status != http.StatusOK {
						t.Fatalf("step %d (webhook): status %d, want 200", i, status)
					}
					deliveries, _ := obs.records()
					got = deliveries[len(deliveries)-1].Outcome
				case "recover":
					res := ep.Recover(context.Background(), body, nil)
					got = res.Outcome
					deliveries, _ := obs.records()
					if d := deliveries[len(deliveries)-1]; d.Outcome != got || d.Method != "" || !d.Verified {
						t.Errorf("step %d: observed %v (method %q, verified %t), want outcome %v, no method, verified", i, d.Outcome, d.Method, d.Verified, got)
					}
				}
				if got != tt.want[i] {
					t.Errorf("step %d (%s): outcome %v, want %v", i, step, got, tt.want[i])
				}
			}
			if got := runs.Load(); got != tt.wantRuns {
				t.Errorf("handler runs: got %d, want %d", got, tt.wantRuns)
			}
		})
	}
}

// TestRecoverAfterShutdown: a recovery that comes after Shutdown is
// refused, not run, and not acknowledged.
func TestRecoverAfterShutdown(t *testing.T) {
	r := dispatch.NewRouter()
	var runs atomic.Int32
	dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(context.Context, *events.Event, *stripe.PaymentIntent) error {
		runs.Add(1)
		return nil
	})
	ep := newStripeEndpoint(t, r)
	if err := ep.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := ep.Recover(context.Background(), stripeBody(t, "payment_intent.succeeded", "evt_recover_late"), nil)
	if res.Outcome != dispatch.OutcomeUnavailable || (res.Outcome.Status() < 300) {
		t.Errorf("outcome %v, want %v (not acknowledged)", res.Outcome, dispatch.OutcomeUnavailable)
	}
	if runs.Load() != 0 {
		t.Errorf("handler ran %d times after Shutdown", runs.Load())
	}
}

func TestRouterPatterns(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
	}{
		{name: "none"},
		{name: "exact types", patterns: []string{"payment_intent.succeeded", "charge.refunded"}},
		{name: "prefixes and any", patterns: []string{"*", "invoice.*", "payment_intent.*", "charge.refunded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dispatch.NewRouter()
			for _, p := range tt.patterns {
				r.HandleFunc(p, func(context.Context, *events.Event) error { return nil })
			}
			want := slices.Sorted(slices.Values(tt.patterns))
			if got := r.Patterns(); !slices.Equal(got, want) && len(got)+len(want) > 0 {
				t.Errorf("Patterns: got %q, want %q", got, want)
			}
		})
	}
}
