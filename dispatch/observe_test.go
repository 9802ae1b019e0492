package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
)

// Each attempt at a handler during a delivery is one sync attempt record,
// whatever its result; the handler runs in the context StartAttempt
// returned, inside the delivery's.
func TestSyncAttemptRecords(t *testing.T) {
	for _, tc := range []struct {
		name    string
		result  error
		outcome dispatch.Outcome
	}{
		{"processed", nil, dispatch.OutcomeProcessed},
		{"failed", errors.New("booking database unavailable"), dispatch.OutcomeFailed},
		{"dead-lettered", dispatch.Permanent(errors.New("no such booking")), dispatch.OutcomeDeadLettered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dispatch.NewRouter()
			var inAttempt bool
			r.HandleFunc("payment_intent.*", func(ctx context.Context, e *events.Event) error {
				inAttempt = ctx.Value(recorderKey{}) == "attempt"
				time.Sleep(20 * time.Millisecond)
				return tc.result
			})
			obs := &recorder{}
			r.Observe(obs)
			ep := newStripeEndpoint(t, r, dispatch.WithStore(memStore(t)), dispatch.WithDeadLetters(&dispatch.MemoryDeadLetters{}))
			deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_attempt_"+tc.name)))

			deliveries, attempts := obs.records()
			if len(attempts) != 1 {
				t.Fatalf("attempts: got %d items, want %d: %v", len(attempts), 1, attempts)
			}
			a := attempts[0]
			if a.Kind != dispatch.AttemptSync {
				t.Errorf("a.Kind: got %v, want %v", a.Kind, dispatch.AttemptSync)
			}
			if a.Number != 1 {
				t.Errorf("a.Number: got %d, want 1", a.Number)
			}
			if a.Route != "payment_intent.*" {
				t.Errorf("the pattern, not the type: got %q, want %q", a.Route, "payment_intent.*")
			}
			if a.Event.ID != "evt_attempt_"+tc.name {
				t.Errorf("a.Event.ID: got %q, want %q", a.Event.ID, "evt_attempt_"+tc.name)
			}
			if a.Outcome != tc.outcome {
				t.Errorf("a.Outcome: got %v, want %v", a.Outcome, tc.outcome)
			}
			if !reflect.DeepEqual(a.Err, tc.result) {
				t.Errorf("a.Err: got %v, want %v", a.Err, tc.result)
			}
			if a.Duration < 20*time.Millisecond {
				t.Errorf("a.Duration: got %v, want >= %v", a.Duration, 20*time.Millisecond)
			}
			if !inAttempt {
				t.Errorf("the handler runs in StartAttempt's context")
			}
			if want := []bool{true}; !slices.Equal(obs.inAttempt, want) {
				t.Errorf("obs.inAttempt: got %v, want %v", obs.inAttempt, want)
			}

			if len(deliveries) != 1 {
				t.Fatalf("deliveries: got %d items, want %d: %v", len(deliveries), 1, deliveries)
			}
			d := deliveries[0]
			if d.Route != "payment_intent.*" {
				t.Errorf("d.Route: got %q, want %q", d.Route, "payment_intent.*")
			}
			if d.EventType != "payment_intent.succeeded" {
				t.Errorf("d.EventType: got %q, want %q", d.EventType, "payment_intent.succeeded")
			}
			if d.Timings.Handler < 20*time.Millisecond {
				t.Errorf("d.Timings.Handler: got %v, want >= %v", d.Timings.Handler, 20*time.Millisecond)
			}
			if d.Timings.Store >= d.Timings.Handler {
				t.Errorf("the store's own time excludes the handler's: got %v, want < %v", d.Timings.Store, d.Timings.Handler)
			}
			if d.Timings.Verify <= 0 {
				t.Errorf("d.Timings.Verify: got %v, want > 0", d.Timings.Verify)
			}
			if d.Timings.Parse <= 0 {
				t.Errorf("d.Timings.Parse: got %v, want > 0", d.Timings.Parse)
			}
			if d.Timings.Read+d.Timings.Verify+d.Timings.Parse+d.Timings.Store+d.Timings.Handler > d.Duration {
				t.Errorf("the steps' timings add up to %v, more than the delivery's %v", d.Timings.Read+d.Timings.Verify+d.Timings.Parse+d.Timings.Store+d.Timings.Handler, d.Duration)
			}
		})
	}
}

// A queue's worker (Router.Dispatch) and a dead letter's re-run
// (Router.Rerun, the stores' Rerun) are attempts too, numbered on from the
// ones before.
func TestAsyncAndRerunAttemptRecords(t *testing.T) {
	r := dispatch.NewRouter()
	fixed := false
	r.HandleFunc("booking.reminder", func(context.Context, *events.Event) error {
		if !fixed {
			return dispatch.Permanent(errors.New("no SMS template"))
		}
		return nil
	})
	obs := &recorder{}
	r.Observe(obs)
	e := &events.Event{Source: "goconverso", ID: "evt_reminder", Type: "booking.reminder"}

	if err := r.Dispatch(dispatch.WithAttempt(context.Background(), 3), e); err == nil {
		t.Fatalf("Dispatch of a failing handler: got nil error, want one")
	}
	dls := &dispatch.MemoryDeadLetters{}
	if err := dls.DeadLetter(context.Background(), dispatch.DeadLetter{Event: e, Err: errors.New("no SMS template"), Attempts: 3}); err != nil {
		t.Fatal(err)
	}
	fixed = true
	if err := dls.Rerun(context.Background(), r, e.Key()); err != nil {
		t.Fatal(err)
	}
	if err := r.Dispatch(context.Background(), &events.Event{Type: "booking.unknown"}); !errors.Is(err, dispatch.ErrNoHandler) {
		t.Fatalf("Dispatch of an unrouted type: got %v, want %v", err, dispatch.ErrNoHandler)
	}

	_, attempts := obs.records()
	if len(attempts) != 2 {
		t.Fatalf("no handler, no attempt: got %d items, want %d: %v", len(attempts), 2, attempts)
	}
	if attempts[0].Kind != dispatch.AttemptAsync {
		t.Errorf("attempts[0].Kind: got %v, want %v", attempts[0].Kind, dispatch.AttemptAsync)
	}
	if attempts[0].Number != 3 {
		t.Errorf("attempts[0].Number: got %d, want 3", attempts[0].Number)
	}
	if attempts[0].Outcome != dispatch.OutcomeDeadLettered {
		t.Errorf("attempts[0].Outcome: got %v, want %v", attempts[0].Outcome, dispatch.OutcomeDeadLettered)
	}
	if attempts[1].Kind != dispatch.AttemptRerun {
		t.Errorf("attempts[1].Kind: got %v, want %v", attempts[1].Kind, dispatch.AttemptRerun)
	}
	if attempts[1].Number != 4 {
		t.Errorf("the re-run follows the dead letter's attempts: got %d, want 4", attempts[1].Number)
	}
	if attempts[1].Outcome != dispatch.OutcomeProcessed {
		t.Errorf("attempts[1].Outcome: got %v, want %v", attempts[1].Outcome, dispatch.OutcomeProcessed)
	}
	if got := fmt.Sprint(dispatch.AttemptSync, " ", dispatch.AttemptAsync, " ", dispatch.AttemptRerun); got != "sync async rerun" {
		t.Errorf("the attempt kinds' names: got %q, want %q", got, "sync async rerun")
	}
}

// A queue that finds an attempt's worker died reports it: the observers
// see one async attempt, failed or dead-lettered, and the handler does not
// run.
func TestReportLost(t *testing.T) {
	tests := []struct {
		name  string
		final bool
		want  dispatch.Outcome
	}{
		{"retried", false, dispatch.OutcomeFailed},
		{"last attempt", true, dispatch.OutcomeDeadLettered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dispatch.NewRouter()
			ran := false
			r.HandleFunc("booking.*", func(context.Context, *events.Event) error { ran = true; return nil })
			obs := &recorder{}
			r.Observe(obs)
			died := errors.New("the worker died")
			r.ReportLost(context.Background(), &events.Event{Source: "goconverso", ID: "evt_1", Type: "booking.created"}, 2, died, tt.final)
			_, attempts := obs.records()
			if len(attempts) != 1 {
				t.Fatalf("got %d attempts, want 1: %v", len(attempts), attempts)
			}
			a := attempts[0]
			if a.Kind != dispatch.AttemptAsync || a.Number != 2 || a.Outcome != tt.want || !errors.Is(a.Err, died) || a.Route != "booking.*" {
				t.Errorf("got kind %v, number %d, outcome %v, err %v, route %q; want async, 2, %v, %v, %q",
					a.Kind, a.Number, a.Outcome, a.Err, a.Route, tt.want, died, "booking.*")
			}
			if ran {
				t.Errorf("the handler ran for a lost attempt")
			}
		})
	}
}

// order is an Observer that logs the order it is called in.
type order struct {
	name string
	log  *[]string
}

func (o order) StartDelivery(ctx context.Context, _ *dispatch.Delivery) context.Context {
	*o.log = append(*o.log, o.name+" starts delivery")
	return ctx
}
func (o order) EndDelivery(context.Context, *dispatch.Delivery) {
	*o.log = append(*o.log, o.name+" ends delivery")
}
func (o order) StartAttempt(context.Context, *dispatch.AttemptRecord) context.Context {
	*o.log = append(*o.log, o.name+" starts attempt")
	return nil // nil changes nothing
}
func (o order) EndAttempt(context.Context, *dispatch.AttemptRecord) {
	*o.log = append(*o.log, o.name+" ends attempt")
}

// Several observers nest: they start in the order installed and end in the
// reverse.
func TestSeveralObservers(t *testing.T) {
	var log []string
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return nil })
	r.Observe(order{"first", &log}, nil, order{"second", &log})
	ep := newStripeEndpoint(t, r, dispatch.WithStore(memStore(t)))
	status, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_nested")))
	if status != http.StatusOK {
		t.Fatalf("status: got %d, want %d", status, http.StatusOK)
	}
	if want := []string{
		"first starts delivery", "second starts delivery",
		"first starts attempt", "second starts attempt",
		"second ends attempt", "first ends attempt",
		"second ends delivery", "first ends delivery",
	}; !slices.Equal(log, want) {
		t.Errorf("log: got %q, want %q", log, want)
	}
}

// An attempt's record names the pattern its handler was registered
// under: the type itself, a prefix pattern, or "*".
func TestAttemptRoute(t *testing.T) {
	r := dispatch.NewRouter()
	noop := func(context.Context, *events.Event) error { return nil }
	r.HandleFunc("charge.refunded", noop)
	r.HandleFunc("payment_intent.*", noop)
	r.HandleFunc("*", noop)
	obs := &recorder{}
	r.Observe(obs)
	types := []string{"charge.refunded", "payment_intent.succeeded", "invoice.paid"}
	for _, typ := range types {
		if err := r.Dispatch(context.Background(), &events.Event{Source: "stripe", ID: "evt_" + typ, Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
	_, attempts := obs.records()
	want := []string{"charge.refunded", "payment_intent.*", "*"}
	if len(attempts) != len(want) {
		t.Fatalf("got %d attempts, want %d", len(attempts), len(want))
	}
	for i, a := range attempts {
		if a.Route != want[i] {
			t.Errorf("%s: Route %q, want %q", types[i], a.Route, want[i])
		}
	}
}
