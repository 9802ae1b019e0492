package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/idempotency"
)

var fastRetry = dispatch.RetryPolicy{Attempts: 3, Initial: time.Millisecond, Max: 5 * time.Millisecond, Jitter: -1}

// Async mode: a handler that fails twice then succeeds; the sender sees
// one 200, the workers make three attempts, and the claim ends completed.
func TestAsyncFailTwiceThenSucceed(t *testing.T) {
	var runs atomic.Int32
	attempts := make(chan int, 3)
	r := dispatch.NewRouter()
	dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(ctx context.Context, _ *events.Event, _ *stripe.PaymentIntent) error {
		attempts <- dispatch.Attempt(ctx)
		if runs.Add(1) <= 2 {
			return errors.New("SMS gateway timeout")
		}
		return nil
	})
	store := memStore(t)
	ep := newStripeEndpoint(t, r, dispatch.WithStore(store), dispatch.WithAsync(dispatch.AsyncConfig{Workers: 2, Retry: fastRetry}))

	code, body := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_async_flaky")))
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `{"received":true}`, body)
	assert.Equal(t, []int{1, 2, 3}, []int{<-attempts, <-attempts, <-attempts})
	require.Eventually(t, func() bool {
		c, err := store.Claim(context.Background(), "stripe:evt_async_flaky", time.Minute)
		return err == nil && c.State == idempotency.Completed
	}, 5*time.Second, 5*time.Millisecond, "completion")
	assert.EqualValues(t, 3, runs.Load())
}

// After the last attempt the event is dead-lettered and its claim released.
func TestAsyncFinalFailure(t *testing.T) {
	var runs atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.*", func(context.Context, *events.Event) error {
		runs.Add(1)
		return errors.New("still failing")
	})
	dls := &dispatch.MemoryDeadLetters{}
	store := memStore(t)
	ep := newStripeEndpoint(t, r, dispatch.WithStore(store), dispatch.WithDeadLetters(dls),
		dispatch.WithAsync(dispatch.AsyncConfig{Workers: 1, Retry: fastRetry}))
	code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_async_dead")))
	require.Equal(t, 200, code)
	require.Eventually(t, func() bool { return len(dls.List()) == 1 }, 5*time.Second, 5*time.Millisecond, "dead letter")
	dl := dls.List()[0]
	assert.Equal(t, 3, dl.Attempts)
	assert.Equal(t, "evt_async_dead", dl.Event.ID)
	assert.EqualValues(t, 3, runs.Load())
	require.Eventually(t, func() bool {
		c, err := store.Claim(context.Background(), "stripe:evt_async_dead", time.Minute)
		return err == nil && c.State == idempotency.Acquired
	}, 5*time.Second, 5*time.Millisecond, "release")
}

func TestAsyncPermanentIsDeadLetteredAtOnce(t *testing.T) {
	var runs atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
		runs.Add(1)
		return dispatch.Permanent(errors.New("unknown booking"))
	})
	dls := &dispatch.MemoryDeadLetters{}
	ep := newStripeEndpoint(t, r, dispatch.WithDeadLetters(dls), dispatch.WithAsync(dispatch.AsyncConfig{Retry: fastRetry}))
	code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_async_perm")))
	require.Equal(t, 200, code)
	require.Eventually(t, func() bool { return len(dls.List()) == 1 }, 5*time.Second, 5*time.Millisecond, "dead letter")
	assert.EqualValues(t, 1, runs.Load())
}

// A full queue answers 503 with Retry-After and releases the claim, so the
// sender's retry is processed.
func TestAsyncQueueFull(t *testing.T) {
	release, running := make(chan struct{}), make(chan struct{}, 4)
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
		running <- struct{}{}
		<-release
		return nil
	})
	store := memStore(t)
	ep := newStripeEndpoint(t, r, dispatch.WithStore(store),
		dispatch.WithAsync(dispatch.AsyncConfig{Workers: 1, Queue: dispatch.NewMemoryQueue(1)}))
	defer close(release)

	var codes []int
	for i := range 4 {
		code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", fmt.Sprintf("evt_full_%d", i))))
		codes = append(codes, code)
		if i == 0 {
			<-running // the only worker is now busy
		}
	}
	// One runs (blocked), one waits in the queue, the rest find it full.
	assert.Equal(t, []int{200, 200, 503, 503}, codes)
	rec := httptest.NewRecorder()
	ep.ServeHTTP(rec, signed(stripeBody(t, "payment_intent.succeeded", "evt_full_4")))
	assert.Equal(t, 503, rec.Code)
	assert.Equal(t, "30", rec.Header().Get("Retry-After"))
	c, err := store.Claim(context.Background(), "stripe:evt_full_3", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, idempotency.Acquired, c.State, "the refused event's claim was released")
}

// Shutdown with work in flight, in sync mode: new deliveries get 503, the
// one being handled finishes with 200, Shutdown returns after it.
func TestShutdownSyncInFlight(t *testing.T) {
	started, finish := make(chan struct{}), make(chan struct{})
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
		close(started)
		<-finish
		return nil
	})
	ep := newStripeEndpoint(t, r)
	inFlight := make(chan int)
	go func() {
		code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_inflight")))
		inFlight <- code
	}()
	<-started
	done := make(chan error)
	go func() { done <- ep.Shutdown(context.Background()) }()
	require.Eventually(t, func() bool {
		code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_late")))
		return code == 503
	}, 5*time.Second, 5*time.Millisecond, "closing")
	select {
	case <-done:
		t.Fatal("Shutdown returned while a delivery was being handled")
	case <-time.After(50 * time.Millisecond):
	}
	close(finish)
	assert.Equal(t, 200, <-inFlight)
	require.NoError(t, <-done)
}

// Shutdown in async mode drains the queue; when its context ends first, the
// events still queued are released unprocessed, and no goroutine is left.
func TestShutdownAsync(t *testing.T) {
	t.Run("drains", func(t *testing.T) {
		var runs atomic.Int32
		r := dispatch.NewRouter()
		r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
			time.Sleep(5 * time.Millisecond)
			runs.Add(1)
			return nil
		})
		ep := newStripeEndpoint(t, r, dispatch.WithAsync(dispatch.AsyncConfig{Workers: 2}))
		for i := range 20 {
			code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", fmt.Sprintf("evt_drain_%d", i))))
			require.Equal(t, 200, code)
		}
		require.NoError(t, ep.Shutdown(context.Background()))
		assert.EqualValues(t, 20, runs.Load(), "every accepted event ran before Shutdown returned")
	})
	t.Run("deadline releases the rest", func(t *testing.T) {
		before := runtime.NumGoroutine()
		r := dispatch.NewRouter()
		r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, _ *events.Event) error {
			<-ctx.Done() // stuck until shutdown cancels it
			return ctx.Err()
		})
		store := memStore(t)
		ep := newStripeEndpoint(t, r, dispatch.WithStore(store), dispatch.WithTimeout(time.Minute),
			dispatch.WithAsync(dispatch.AsyncConfig{Workers: 1}))
		for i := range 3 {
			code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", fmt.Sprintf("evt_stuck_%d", i))))
			require.Equal(t, 200, code)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, ep.Shutdown(ctx), context.DeadlineExceeded)
		for i := range 3 {
			c, err := store.Claim(context.Background(), fmt.Sprintf("stripe:evt_stuck_%d", i), time.Minute)
			require.NoError(t, err)
			assert.Equal(t, idempotency.Acquired, c.State, "event %d released for its retry", i)
		}
		require.NoError(t, ep.Shutdown(context.Background()), "a second Shutdown is harmless")
		// Not require.Eventually: it counts its own goroutine.
		for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; time.Sleep(5 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "goroutines still running: %d > %d", runtime.NumGoroutine(), before)
		}
	})
}

// Under DeadLetterUnknown an async event without a handler is claimed,
// acknowledged, dead-lettered by the worker and completed.
func TestAsyncUnknownTypeDeadLettered(t *testing.T) {
	r := dispatch.NewRouter()
	r.SetUnknownPolicy(dispatch.DeadLetterUnknown)
	dls := &dispatch.MemoryDeadLetters{}
	store := memStore(t)
	ep := newStripeEndpoint(t, r, dispatch.WithStore(store), dispatch.WithDeadLetters(dls), dispatch.WithAsync(dispatch.AsyncConfig{Retry: fastRetry}))
	code, _ := deliver(ep, signed(stripeBody(t, "charge.refunded", "evt_async_unknown")))
	require.Equal(t, 200, code)
	require.Eventually(t, func() bool { return len(dls.List()) == 1 }, 5*time.Second, 5*time.Millisecond, "dead letter")
	assert.ErrorIs(t, dls.List()[0].Err, dispatch.ErrNoHandler)
	require.Eventually(t, func() bool {
		c, err := store.Claim(context.Background(), "stripe:evt_async_unknown", time.Minute)
		return err == nil && c.State == idempotency.Completed
	}, 5*time.Second, 5*time.Millisecond, "completion")
}
