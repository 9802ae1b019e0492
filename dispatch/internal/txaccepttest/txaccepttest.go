// Package txaccepttest checks the transactional accept step the same way on
// every database binding (dispatch/sqltx on PostgreSQL and SQLite,
// dispatch/pgxtx): a handler's writes and its event's completion commit
// together, failures roll both back, permanent failures commit a dead
// letter with the completion, and duplicates never run in parallel.
package txaccepttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// Binding is one binding on one database, with its tables created.
type Binding struct {
	Acceptor    dispatch.Acceptor
	DeadLetters dispatch.DeadLetterStore
	// Stats counts the open dead letters (Database.Stats).
	Stats func(ctx context.Context) (dispatch.QueueStats, error)
	// Effect records an effect of event id in the transaction ctx carries
	// (sqltx.Tx, pgxtx.Tx), failing when there is none. The effects table
	// has no unique constraint: a second run of a handler shows.
	Effect func(ctx context.Context, id string) error
	// Effects counts the committed effects of event id.
	Effects func(t *testing.T, id string) int
	// BreakDeadLetters makes dead letters fail to store; FixDeadLetters
	// undoes it.
	BreakDeadLetters, FixDeadLetters func(t *testing.T)
	// Replica is another Binding on the same tables through a connection pool
	// of its own, as a second replica of the host would be.
	Replica func(t *testing.T) Binding
	// ClosedRows counts the closed (resolved or discarded) dead letters,
	// and ClosedWithContent those of them that still hold a body, a
	// payload or headers. AgeClosed moves every closed letter's closing
	// time back past the retention.
	ClosedRows, ClosedWithContent func(t *testing.T) int
	AgeClosed                     func(t *testing.T)
	// Waits is true where a duplicate can wait out a lock timeout and be
	// answered 409 (PostgreSQL); SQLite queues every writer instead.
	Waits bool
}

const secret = "whsec_txmode_tests"

// Run runs every check, each on a Binding of its own from newBinding.
func Run(t *testing.T, newBinding func(t *testing.T) Binding) {
	for _, tt := range []struct {
		name string
		fn   func(*testing.T, Binding)
	}{
		{"EffectAndCompletionCommitTogether", effectOnce},
		{"HandlerThatIgnoresTheTransactionWorks", ignoresTheTransaction},
		{"HandlerErrorRollsBackAndFreesTheKey", errorRollsBack},
		{"HandlerPanicRollsBackAndFreesTheKey", panicRollsBack},
		{"HandlerTimeoutRollsBackAndFreesTheKey", timeoutRollsBack},
		{"PermanentFailureCommitsTheDeadLetterWithTheCompletion", permanentDeadLetters},
		{"UndecodablePayloadIsDeadLettered", undecodable},
		{"DeadLetterThatCannotBeStoredCompletesNothing", deadLetterFailure},
		{"DeadLettersListGetRerunDiscard", deadLetterOperations},
		{"ClosedDeadLettersKeepNoBodyAndArePruned", closedDeadLetters},
		{"ConcurrentRerunsOfOneDeadLetterRunOnce", concurrentReruns},
		{"ControlBytesInASignedIDAre400", controlBytesInID},
		{"ConcurrentDuplicatesRunOnce", concurrentDuplicates},
		{"TwoReplicasRaceSixteenCopiesOfTwoHundredEvents", replicasRace},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newBinding(t)) })
	}
}

// endpoint serves payment_intent.succeeded events to handle through m.
func endpoint(t *testing.T, m Binding, handle func(ctx context.Context, e *events.Event) error, opts ...dispatch.Option) (*dispatch.Endpoint, *dispatch.Router) {
	t.Helper()
	v, err := verify.NewStripe(secret)
	require.NoError(t, err)
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", handle)
	ep, err := dispatch.New(v, stripeevent.NewParser(), r,
		append([]dispatch.Option{dispatch.WithAcceptor(m.Acceptor), dispatch.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { ep.Shutdown(context.Background()) })
	return ep, r
}

// body is a payment_intent.succeeded with event ID id, and a payload that
// decodes into *stripe.PaymentIntent unless broken.
func body(id string, broken bool) []byte {
	amount := "5000"
	if broken {
		amount = `"a lot"`
	}
	return []byte(fmt.Sprintf(`{"id":%q,"object":"event","type":"payment_intent.succeeded","created":%d,`+
		`"data":{"object":{"id":"pi_%s","object":"payment_intent","amount":%s,"metadata":{"booking_id":"12345"}}}}`,
		id, time.Now().Unix(), id, amount))
}

func deliver(h http.Handler, b []byte) int {
	req := verifytest.NewRequest(verifytest.Stripe{Secret: secret}, "/webhooks/stripe", b)
	// Never kept with a dead letter: credentials, and signatures under
	// names no word list finds.
	req.Header.Set("Authorization", "Bearer host-credential")
	req.Header.Set("X-Shopify-Hmac-Sha256", "c2lnbmF0dXJl")
	req.Header.Set("X-Webhook-Hmac", "ab12")
	req.Header.Set("X-Client-Cert", "-----BEGIN CERTIFICATE-----")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func effectOnce(t *testing.T, m Binding) {
	var runs atomic.Int32
	ep, _ := endpoint(t, m, func(ctx context.Context, e *events.Event) error {
		runs.Add(1)
		return m.Effect(ctx, e.ID)
	})
	require.Equal(t, 200, deliver(ep, body("evt_once", false)))
	require.Equal(t, 200, deliver(ep, body("evt_once", false)), "a duplicate after the commit")
	assert.Equal(t, 1, m.Effects(t, "evt_once"))
	assert.EqualValues(t, 1, runs.Load(), "the duplicate did not run")
}

// A handler with nothing to write (or writing elsewhere) needs no change:
// it runs, its event completes, a duplicate is a duplicate.
func ignoresTheTransaction(t *testing.T, m Binding) {
	var runs atomic.Int32
	ep, _ := endpoint(t, m, func(context.Context, *events.Event) error {
		runs.Add(1)
		return nil
	})
	require.Equal(t, 200, deliver(ep, body("evt_no_tx", false)))
	require.Equal(t, 200, deliver(ep, body("evt_no_tx", false)))
	assert.EqualValues(t, 1, runs.Load())
}

// failThenSucceed delivers an event whose handler records its effect and
// then fails with fail, then delivers it again with a handler that
// succeeds: the first run leaves nothing, the retry runs it to effect.
func failThenSucceed(t *testing.T, m Binding, fail func(ctx context.Context) error, opts ...dispatch.Option) {
	var first atomic.Bool
	first.Store(true)
	ep, _ := endpoint(t, m, func(ctx context.Context, e *events.Event) error {
		if err := m.Effect(ctx, e.ID); err != nil {
			return err
		}
		if first.Swap(false) {
			return fail(ctx)
		}
		return nil
	}, opts...)
	require.Equal(t, 500, deliver(ep, body("evt_fail", false)))
	assert.Zero(t, m.Effects(t, "evt_fail"), "the failed run's write is rolled back")
	require.Equal(t, 200, deliver(ep, body("evt_fail", false)), "the key is free for the sender's retry")
	assert.Equal(t, 1, m.Effects(t, "evt_fail"))
}

func errorRollsBack(t *testing.T, m Binding) {
	failThenSucceed(t, m, func(context.Context) error { return errors.New("SMS gateway down") })
}

func panicRollsBack(t *testing.T, m Binding) {
	failThenSucceed(t, m, func(context.Context) error { panic("nil booking") })
}

func timeoutRollsBack(t *testing.T, m Binding) {
	failThenSucceed(t, m, func(ctx context.Context) error {
		<-ctx.Done() // a handler stuck on a slow service, watching its context
		return ctx.Err()
	}, dispatch.WithTimeout(200*time.Millisecond))
}

func permanentDeadLetters(t *testing.T, m Binding) {
	var runs atomic.Int32
	ep, _ := endpoint(t, m, func(ctx context.Context, e *events.Event) error {
		runs.Add(1)
		if err := m.Effect(ctx, e.ID); err != nil {
			return err
		}
		return dispatch.Permanent(errors.New("booking 12345 was deleted"))
	})
	require.Equal(t, 200, deliver(ep, body("evt_permanent", false)))
	assert.Zero(t, m.Effects(t, "evt_permanent"), "the handler's writes are rolled back")
	dl, err := m.DeadLetters.Get(context.Background(), "stripe:evt_permanent")
	require.NoError(t, err)
	assert.Contains(t, dl.Err.Error(), "booking 12345 was deleted")
	assert.Equal(t, 1, dl.Attempts)
	assert.Equal(t, http.Header{"Content-Type": {"application/json"}}, dl.Event.Header,
		"only what a re-run needs: no signature (Stripe's, Shopify's), no credential")
	require.Equal(t, 200, deliver(ep, body("evt_permanent", false)), "a duplicate of a dead letter")
	assert.EqualValues(t, 1, runs.Load(), "the key was completed with the dead letter")
}

func undecodable(t *testing.T, m Binding) {
	v, err := verify.NewStripe(secret)
	require.NoError(t, err)
	r := dispatch.NewRouter()
	dispatch.On(r, events.NewType[*struct{ Amount int64 }]("payment_intent.succeeded"),
		func(context.Context, *events.Event, *struct{ Amount int64 }) error { return nil })
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(m.Acceptor), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	require.Equal(t, 200, deliver(ep, body("evt_undecodable", true)))
	dl, err := m.DeadLetters.Get(context.Background(), "stripe:evt_undecodable")
	require.NoError(t, err)
	assert.Contains(t, dl.Err.Error(), "a JSON string cannot be a Go int64")
}

func deadLetterFailure(t *testing.T, m Binding) {
	ep, _ := endpoint(t, m, func(ctx context.Context, e *events.Event) error {
		return dispatch.Permanent(errors.New("no such booking"))
	})
	m.BreakDeadLetters(t)
	require.Equal(t, 500, deliver(ep, body("evt_dl_fails", false)), "not stored anywhere: not acknowledged")
	m.FixDeadLetters(t)
	require.Equal(t, 200, deliver(ep, body("evt_dl_fails", false)), "the key was not completed: the retry runs")
	_, err := m.DeadLetters.Get(context.Background(), "stripe:evt_dl_fails")
	require.NoError(t, err)
}

func deadLetterOperations(t *testing.T, m Binding) {
	ctx := context.Background()
	var fixed atomic.Bool
	ep, r := endpoint(t, m, func(ctx context.Context, e *events.Event) error {
		if !fixed.Load() {
			return dispatch.Permanent(errors.New("no reminder template"))
		}
		return m.Effect(ctx, e.ID)
	})
	start := time.Now()
	for _, id := range []string{"evt_dl_a", "evt_dl_b", "evt_dl_c"} {
		require.Equal(t, 200, deliver(ep, body(id, false)))
	}

	page, err := m.DeadLetters.List(ctx, dispatch.DeadLetterFilter{})
	require.NoError(t, err)
	all := page.Letters
	require.Len(t, all, 3)
	stats, err := m.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, dispatch.QueueStats{DeadLetters: 3}, stats)
	assert.Equal(t, "evt_dl_a", all[0].Event.ID, "oldest first")
	assert.Empty(t, all[0].Event.Body, "a listing reads no body")
	one, err := m.DeadLetters.Get(ctx, "stripe:evt_dl_a")
	require.NoError(t, err)
	assert.Equal(t, "application/json", one.Event.Header.Get("Content-Type"))
	assert.Empty(t, one.Event.Header.Get("Stripe-Signature"), "no signature is kept")
	assert.Empty(t, one.Event.Header.Get("Authorization"), "no credential is kept")
	assert.True(t, bytes.HasPrefix(one.Event.Body, []byte(`{"id":"evt_dl_a"`)), "the raw body as verified")
	assert.True(t, bytes.Contains(one.Event.Data, []byte(`"pi_evt_dl_a"`)), "the payload a re-run decodes")
	for _, f := range []struct {
		filter dispatch.DeadLetterFilter
		want   int
	}{
		{dispatch.DeadLetterFilter{Source: "stripe"}, 3},
		{dispatch.DeadLetterFilter{Source: "twilio"}, 0},
		{dispatch.DeadLetterFilter{Type: "payment_intent.succeeded"}, 3},
		{dispatch.DeadLetterFilter{Type: "charge.refunded"}, 0},
		{dispatch.DeadLetterFilter{Since: start.Add(-time.Minute)}, 3},
		{dispatch.DeadLetterFilter{Since: time.Now().Add(time.Minute)}, 0},
		{dispatch.DeadLetterFilter{Until: start.Add(-time.Minute)}, 0},
		{dispatch.DeadLetterFilter{Limit: 2}, 2},
	} {
		got, err := m.DeadLetters.List(ctx, f.filter)
		require.NoError(t, err)
		assert.Len(t, got.Letters, f.want, "%+v", f.filter)
	}

	err = m.DeadLetters.Rerun(ctx, r, "stripe:evt_dl_a")
	require.Error(t, err, "still failing")
	dl, err := m.DeadLetters.Get(ctx, "stripe:evt_dl_a")
	require.NoError(t, err, "a failed re-run leaves it open")
	assert.Equal(t, 2, dl.Attempts)

	fixed.Store(true)
	require.NoError(t, m.DeadLetters.Rerun(ctx, r, "stripe:evt_dl_a"))
	assert.Equal(t, 1, m.Effects(t, "evt_dl_a"), "the re-run's effect is committed with the resolution")
	_, err = m.DeadLetters.Get(ctx, "stripe:evt_dl_a")
	require.ErrorIs(t, err, dispatch.ErrNotDeadLettered, "resolved")
	require.ErrorIs(t, m.DeadLetters.Rerun(ctx, r, "stripe:evt_dl_a"), dispatch.ErrNotDeadLettered)

	require.NoError(t, m.DeadLetters.Discard(ctx, "stripe:evt_dl_b"))
	require.ErrorIs(t, m.DeadLetters.Discard(ctx, "stripe:evt_dl_b"), dispatch.ErrNotDeadLettered)
	left, err := m.DeadLetters.List(ctx, dispatch.DeadLetterFilter{})
	require.NoError(t, err)
	require.Len(t, left.Letters, 1)
	assert.Equal(t, "evt_dl_c", left.Letters[0].Event.ID)
	assert.Zero(t, m.Effects(t, "evt_dl_b"), "discarded, never run")
	stats, err = m.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, dispatch.QueueStats{DeadLetters: 1}, stats, "resolved and discarded letters are not counted")
}

func concurrentDuplicates(t *testing.T, m Binding) {
	var runs atomic.Int32
	ep, _ := endpoint(t, m, func(ctx context.Context, e *events.Event) error {
		runs.Add(1)
		time.Sleep(50 * time.Millisecond) // long enough for the others to arrive
		return m.Effect(ctx, e.ID)
	})
	codes := storm(ep, [][]byte{body("evt_storm", false)}, 16)
	assert.Equal(t, 16, codes[200]+codes[409], "only 200 and 409: %v", codes)
	assert.Equal(t, 1, m.Effects(t, "evt_storm"))
	assert.EqualValues(t, 1, runs.Load(), "never run beside itself, never run again")
}

// storm delivers copies of each body at once, spread over handlers, and
// counts the answers. A copy answered 503 or 500 is sent again, as its
// sender would: a burst larger than the pool can serve by the delivery's
// deadline is answered 503 rather than left waiting.
func storm(eps http.Handler, bodies [][]byte, copies int, more ...http.Handler) map[int]int {
	handlers := append([]http.Handler{eps}, more...)
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
		start  = make(chan struct{})
	)
	for i, b := range bodies {
		for c := range copies {
			wg.Add(1)
			go func(h http.Handler) {
				defer wg.Done()
				<-start
				code := deliver(h, b)
				for code == http.StatusServiceUnavailable || code == http.StatusInternalServerError {
					code = deliver(h, b)
				}
				mu.Lock()
				counts[code]++
				mu.Unlock()
			}(handlers[(i+c)%len(handlers)])
		}
	}
	close(start)
	wg.Wait()
	return counts
}

func replicasRace(t *testing.T, m Binding) {
	if testing.Short() {
		t.Skip("3,200 deliveries")
	}
	second := m.Replica(t)
	handle := func(m Binding) func(ctx context.Context, e *events.Event) error {
		return func(ctx context.Context, e *events.Event) error { return m.Effect(ctx, e.ID) }
	}
	a, _ := endpoint(t, m, handle(m))
	b, _ := endpoint(t, second, handle(second))
	var bodies [][]byte
	for i := range 200 {
		bodies = append(bodies, body(fmt.Sprintf("evt_race_%03d", i), false))
	}
	codes := storm(a, bodies, 16, b)
	assert.Equal(t, 3200, codes[200]+codes[409], "only 200 and 409: %v", codes)
	for i := range 200 {
		id := fmt.Sprintf("evt_race_%03d", i)
		if n := m.Effects(t, id); n != 1 {
			t.Errorf("%s: %d effects, want 1", id, n)
		}
	}
	if os.Getenv("HOOKKIT_VERBOSE") != "" {
		t.Logf("answers: %v", codes)
	}
}

// Closing a dead letter (resolving re-run, discard) drops its body,
// payload and headers; letters closed past the retention are deleted by
// later closings, with no pruner for the host to run.
func closedDeadLetters(t *testing.T, m Binding) {
	ctx := context.Background()
	var fixed atomic.Bool
	ep, r := endpoint(t, m, func(ctx context.Context, e *events.Event) error {
		if !fixed.Load() {
			return dispatch.Permanent(errors.New("no such booking"))
		}
		return nil
	})
	for _, id := range []string{"evt_close_a", "evt_close_b", "evt_close_c"} {
		require.Equal(t, 200, deliver(ep, body(id, false)))
	}
	fixed.Store(true)
	require.NoError(t, m.DeadLetters.Rerun(ctx, r, "stripe:evt_close_a"))
	require.NoError(t, m.DeadLetters.Discard(ctx, "stripe:evt_close_b"))
	assert.Equal(t, 2, m.ClosedRows(t))
	assert.Zero(t, m.ClosedWithContent(t), "a closed letter keeps no body (phone numbers, emails)")

	m.AgeClosed(t)
	require.NoError(t, m.DeadLetters.Discard(ctx, "stripe:evt_close_c"))
	assert.Equal(t, 1, m.ClosedRows(t), "letters closed past the retention are deleted")
}

// Concurrent re-runs of one dead letter (a double click) give one effect.
func concurrentReruns(t *testing.T, m Binding) {
	ctx := context.Background()
	var fixed atomic.Bool
	var runs atomic.Int32
	ep, r := endpoint(t, m, func(ctx context.Context, e *events.Event) error {
		if !fixed.Load() {
			return dispatch.Permanent(errors.New("no such booking"))
		}
		runs.Add(1)
		time.Sleep(20 * time.Millisecond) // let the other re-runs arrive
		return m.Effect(ctx, e.ID)
	})
	require.Equal(t, 200, deliver(ep, body("evt_double_click", false)))
	fixed.Store(true)
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() { errs <- m.DeadLetters.Rerun(ctx, r, "stripe:evt_double_click") }()
	}
	var ok, gone int
	for range n {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.Is(err, dispatch.ErrNotDeadLettered):
			gone++
		default:
			t.Errorf("re-run: %v", err)
		}
	}
	assert.Equal(t, 1, ok)
	assert.Equal(t, n-1, gone)
	assert.Equal(t, 1, m.Effects(t, "evt_double_click"), "one effect")
	assert.EqualValues(t, 1, runs.Load())
}

// A signed event ID holding a NUL (which PostgreSQL's text cannot store)
// is malformed, 400, never a 503 the sender retries for days.
func controlBytesInID(t *testing.T, m Binding) {
	var runs atomic.Int32
	ep, _ := endpoint(t, m, func(context.Context, *events.Event) error {
		runs.Add(1)
		return nil
	})
	for _, id := range []string{`evt\u0000x`, `evt\u001bx`, `evt\u0085x`} {
		b := []byte(`{"id":"` + id + `","object":"event","type":"payment_intent.succeeded","created":1795420801,` +
			`"data":{"object":{"id":"pi_1","object":"payment_intent","amount":5000}}}`)
		assert.Equal(t, 400, deliver(ep, b), id)
	}
	assert.Zero(t, runs.Load())
}
