package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/internal/attempt"
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
			require.Len(t, attempts, 1)
			a := attempts[0]
			assert.Equal(t, dispatch.AttemptSync, a.Kind)
			assert.Equal(t, 1, a.Number)
			assert.Equal(t, "payment_intent.*", a.Route, "the pattern, not the type")
			assert.Equal(t, "evt_attempt_"+tc.name, a.Event.ID)
			assert.Equal(t, tc.outcome, a.Outcome)
			assert.Equal(t, tc.result, a.Err)
			assert.GreaterOrEqual(t, a.Duration, 20*time.Millisecond)
			assert.True(t, inAttempt, "the handler runs in StartAttempt's context")
			assert.Equal(t, []bool{true}, obs.inAttempt)

			require.Len(t, deliveries, 1)
			d := deliveries[0]
			assert.Equal(t, "payment_intent.*", d.Route)
			assert.Equal(t, "payment_intent.succeeded", d.EventType)
			assert.GreaterOrEqual(t, d.Timings.Handler, 20*time.Millisecond)
			assert.Less(t, d.Timings.Store, d.Timings.Handler, "the store's own time excludes the handler's")
			assert.Positive(t, d.Timings.Verify)
			assert.Positive(t, d.Timings.Parse)
			assert.LessOrEqual(t, d.Timings.Read+d.Timings.Verify+d.Timings.Parse+d.Timings.Store+d.Timings.Handler, d.Duration)
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

	require.Error(t, r.Dispatch(attempt.With(context.Background(), 3), e))
	dls := &dispatch.MemoryDeadLetters{}
	require.NoError(t, dls.DeadLetter(context.Background(), dispatch.DeadLetter{Event: e, Err: errors.New("no SMS template"), Attempts: 3}))
	fixed = true
	require.NoError(t, dls.Rerun(context.Background(), r, e.Key()))
	require.ErrorIs(t, r.Dispatch(context.Background(), &events.Event{Type: "booking.unknown"}), dispatch.ErrNoHandler)

	_, attempts := obs.records()
	require.Len(t, attempts, 2, "no handler, no attempt")
	assert.Equal(t, dispatch.AttemptAsync, attempts[0].Kind)
	assert.Equal(t, 3, attempts[0].Number)
	assert.Equal(t, dispatch.OutcomeDeadLettered, attempts[0].Outcome)
	assert.Equal(t, dispatch.AttemptRerun, attempts[1].Kind)
	assert.Equal(t, 4, attempts[1].Number, "the re-run follows the dead letter's attempts")
	assert.Equal(t, dispatch.OutcomeProcessed, attempts[1].Outcome)
	assert.Equal(t, "sync async rerun", fmt.Sprint(dispatch.AttemptSync, " ", dispatch.AttemptAsync, " ", dispatch.AttemptRerun))
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
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []string{
		"first starts delivery", "second starts delivery",
		"first starts attempt", "second starts attempt",
		"second ends attempt", "first ends attempt",
		"second ends delivery", "first ends delivery",
	}, log)
}

func TestRoute(t *testing.T) {
	r := dispatch.NewRouter()
	r.HandleFunc("charge.refunded", func(context.Context, *events.Event) error { return nil })
	r.HandleFunc("payment_intent.*", func(context.Context, *events.Event) error { return nil })
	for typ, want := range map[string]string{
		"charge.refunded":          "charge.refunded",
		"payment_intent.succeeded": "payment_intent.*",
		"invoice.paid":             "",
	} {
		assert.Equal(t, want, r.Route(typ), typ)
	}
	r.HandleFunc("*", func(context.Context, *events.Event) error { return nil })
	assert.Equal(t, "*", r.Route("invoice.paid"))
}
