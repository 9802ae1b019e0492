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
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/internal/servicetest"
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
	// LockWaitOver reports whether a statement on the binding's keys
	// table has waited for a lock for longer than d (PostgreSQL only).
	LockWaitOver func(t *testing.T, d time.Duration) bool
	// AddExpiredKeys writes n idempotency keys whose keep window has
	// ended; ExpiredKeys counts those left.
	AddExpiredKeys func(t *testing.T, n int)
	ExpiredKeys    func(t *testing.T) int
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
		{"OrderedConcurrentDuplicatesRunOnce", orderedDuplicates},
		{"OrderedTwoReplicasRaceSixteenCopiesOfTwoHundredEvents", orderedReplicasRace},
		{"OrderedWaitForItsObjectOutlastsTheLockTimeout", orderedWaitOutlastsTheLockTimeout},
		{"OrderedClaimsPruneExpiredKeys", orderedClaimsPrune},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newBinding(t)) })
	}
}

// endpoint serves payment_intent.succeeded events to handle through m.
func endpoint(t *testing.T, m Binding, handle func(ctx context.Context, e *events.Event) error, opts ...dispatch.Option) (*dispatch.Endpoint, *dispatch.Router) {
	t.Helper()
	v, err := verify.NewStripe(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", handle)
	ep, err := dispatch.NewEndpointSafely(v, stripeevent.NewParser(), r,
		append([]dispatch.Option{dispatch.WithAcceptor(m.Acceptor), dispatch.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
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

// expect delivers b to h and fails t at once unless h answers status.
func expect(t *testing.T, h http.Handler, b []byte, status int, what string) {
	t.Helper()
	if got := deliver(h, b); got != status {
		t.Fatalf("%s: got status %d, want %d", what, got, status)
	}
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
	expect(t, ep, body("evt_once", false), 200, "delivering evt_once")
	expect(t, ep, body("evt_once", false), 200, "a duplicate after the commit")
	if got := m.Effects(t, "evt_once"); got != 1 {
		t.Errorf("effects: got %d, want 1", got)
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("the duplicate did not run: got %d, want 1", got)
	}
}

// A handler with nothing to write (or writing elsewhere) needs no change:
// it runs, its event completes, a duplicate is a duplicate.
func ignoresTheTransaction(t *testing.T, m Binding) {
	var runs atomic.Int32
	ep, _ := endpoint(t, m, func(context.Context, *events.Event) error {
		runs.Add(1)
		return nil
	})
	expect(t, ep, body("evt_no_tx", false), 200, "delivering evt_no_tx")
	expect(t, ep, body("evt_no_tx", false), 200, "delivering evt_no_tx")
	if got := runs.Load(); got != 1 {
		t.Errorf("handler runs: got %d, want 1", got)
	}
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
	expect(t, ep, body("evt_fail", false), 500, "delivering evt_fail")
	if got := m.Effects(t, "evt_fail"); got != 0 {
		t.Errorf("the failed run's write is rolled back: got %d, want 0", got)
	}
	expect(t, ep, body("evt_fail", false), 200, "the key is free for the sender's retry")
	if got := m.Effects(t, "evt_fail"); got != 1 {
		t.Errorf("effects after the retry: got %d, want 1", got)
	}
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
	expect(t, ep, body("evt_permanent", false), 200, "delivering evt_permanent")
	if got := m.Effects(t, "evt_permanent"); got != 0 {
		t.Errorf("the handler's writes are rolled back: got %d, want 0", got)
	}
	dl, err := m.DeadLetters.Get(context.Background(), "stripe:evt_permanent")
	if err != nil {
		t.Fatal(err)
	}
	if got := dl.Err.Error(); !strings.Contains(got, "booking 12345 was deleted") {
		t.Errorf("dl.Err.Error(): got %q, want it to contain %q", got, "booking 12345 was deleted")
	}
	if dl.Attempts != 1 {
		t.Errorf("dl.Attempts: got %d, want 1", dl.Attempts)
	}
	if want := (http.Header{"Content-Type": {"application/json"}}); !reflect.DeepEqual(dl.Event.Header, want) {
		t.Errorf("only what a re-run needs: no signature (Stripe's, Shopify's), no credential: got %v, want %v", dl.Event.Header, want)
	}
	expect(t, ep, body("evt_permanent", false), 200, "a duplicate of a dead letter")
	if got := runs.Load(); got != 1 {
		t.Errorf("the key was completed with the dead letter: got %d, want 1", got)
	}
}

func undecodable(t *testing.T, m Binding) {
	v, err := verify.NewStripe(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := dispatch.NewRouter()
	dispatch.On(r, events.NewType[*struct{ Amount int64 }]("payment_intent.succeeded"),
		func(context.Context, *events.Event, *struct{ Amount int64 }) error { return nil })
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(m.Acceptor), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	expect(t, ep, body("evt_undecodable", true), 200, "delivering evt_undecodable")
	dl, err := m.DeadLetters.Get(context.Background(), "stripe:evt_undecodable")
	if err != nil {
		t.Fatal(err)
	}
	if got := dl.Err.Error(); !strings.Contains(got, "a JSON string cannot be a Go int64") {
		t.Errorf("dl.Err.Error(): got %q, want it to contain %q", got, "a JSON string cannot be a Go int64")
	}
}

func deadLetterFailure(t *testing.T, m Binding) {
	ep, _ := endpoint(t, m, func(ctx context.Context, e *events.Event) error {
		return dispatch.Permanent(errors.New("no such booking"))
	})
	m.BreakDeadLetters(t)
	expect(t, ep, body("evt_dl_fails", false), 500, "not stored anywhere: not acknowledged")
	m.FixDeadLetters(t)
	expect(t, ep, body("evt_dl_fails", false), 200, "the key was not completed: the retry runs")
	_, err := m.DeadLetters.Get(context.Background(), "stripe:evt_dl_fails")
	if err != nil {
		t.Fatal(err)
	}
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
		expect(t, ep, body(id, false), 200, "delivering "+id)
	}

	page, err := m.DeadLetters.List(ctx, dispatch.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	all := page.Letters
	if len(all) != 3 {
		t.Fatalf("dead letters: got %d, want 3", len(all))
	}
	stats, err := m.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (dispatch.QueueStats{DeadLetters: 3}); stats != want {
		t.Errorf("stats: got %v, want %v", stats, want)
	}
	if all[0].Event.ID != "evt_dl_a" {
		t.Errorf("oldest first: got %q, want %q", all[0].Event.ID, "evt_dl_a")
	}
	if len(all[0].Event.Body) != 0 {
		t.Errorf("a listing reads no body: got %d bytes", len(all[0].Event.Body))
	}
	one, err := m.DeadLetters.Get(ctx, "stripe:evt_dl_a")
	if err != nil {
		t.Fatal(err)
	}
	if got := one.Event.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("one.Event.Header.Get(\"Content-Type\"): got %q, want %q", got, "application/json")
	}
	if got := one.Event.Header.Get("Stripe-Signature"); got != "" {
		t.Errorf("no signature is kept: got %q, want empty", got)
	}
	if got := one.Event.Header.Get("Authorization"); got != "" {
		t.Errorf("no credential is kept: got %q, want empty", got)
	}
	if !bytes.HasPrefix(one.Event.Body, []byte(`{"id":"evt_dl_a"`)) {
		t.Errorf("the raw body as verified")
	}
	if !bytes.Contains(one.Event.Data, []byte(`"pi_evt_dl_a"`)) {
		t.Errorf("the payload a re-run decodes")
	}
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
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Letters) != f.want {
			t.Errorf("List(%+v): got %d letters, want %d", f.filter, len(got.Letters), f.want)
		}
	}

	err = m.DeadLetters.Rerun(ctx, r, "stripe:evt_dl_a")
	if err == nil {
		t.Fatalf("still failing: got nil error, want one")
	}
	dl, err := m.DeadLetters.Get(ctx, "stripe:evt_dl_a")
	if err != nil {
		t.Fatalf("a failed re-run leaves it open: %v", err)
	}
	if dl.Attempts != 2 {
		t.Errorf("dl.Attempts: got %d, want 2", dl.Attempts)
	}

	fixed.Store(true)
	if err := m.DeadLetters.Rerun(ctx, r, "stripe:evt_dl_a"); err != nil {
		t.Fatal(err)
	}
	if got := m.Effects(t, "evt_dl_a"); got != 1 {
		t.Errorf("the re-run's effect is committed with the resolution: got %d, want 1", got)
	}
	_, err = m.DeadLetters.Get(ctx, "stripe:evt_dl_a")
	if !errors.Is(err, dispatch.ErrNotDeadLettered) {
		t.Fatalf("resolved: got %v, want %v", err, dispatch.ErrNotDeadLettered)
	}
	if err := m.DeadLetters.Rerun(ctx, r, "stripe:evt_dl_a"); !errors.Is(err, dispatch.ErrNotDeadLettered) {
		t.Fatalf("a second Rerun: got %v, want %v", err, dispatch.ErrNotDeadLettered)
	}

	if err := m.DeadLetters.Discard(ctx, "stripe:evt_dl_b"); err != nil {
		t.Fatal(err)
	}
	if err := m.DeadLetters.Discard(ctx, "stripe:evt_dl_b"); !errors.Is(err, dispatch.ErrNotDeadLettered) {
		t.Fatalf("a second Discard: got %v, want %v", err, dispatch.ErrNotDeadLettered)
	}
	left, err := m.DeadLetters.List(ctx, dispatch.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Letters) != 1 {
		t.Fatalf("dead letters left: got %d, want 1", len(left.Letters))
	}
	if left.Letters[0].Event.ID != "evt_dl_c" {
		t.Errorf("the letter left: got %q, want %q", left.Letters[0].Event.ID, "evt_dl_c")
	}
	if got := m.Effects(t, "evt_dl_b"); got != 0 {
		t.Errorf("discarded, never run: got %d, want 0", got)
	}
	stats, err = m.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (dispatch.QueueStats{DeadLetters: 1}); stats != want {
		t.Errorf("resolved and discarded letters are not counted: got %v, want %v", stats, want)
	}
}

func concurrentDuplicates(t *testing.T, m Binding) { duplicates(t, m, false) }

// duplicates: copies of one event, delivered at once, run once; ordered,
// its handlers are guarded by stripeevent.Ordering.
func duplicates(t *testing.T, m Binding, ordered bool) {
	const copies = 16
	// The first run holds on until every copy has entered the accept step,
	// so that they all claim while it runs.
	var arrived sync.WaitGroup
	arrived.Add(copies)
	counted := m
	counted.Acceptor = acceptorFunc(func(ctx context.Context, a dispatch.Acceptance) dispatch.Result {
		arrived.Done()
		return m.Acceptor.Accept(ctx, a)
	})
	var runs atomic.Int32
	ep, r := endpoint(t, counted, func(ctx context.Context, e *events.Event) error {
		runs.Add(1)
		if !waitAll(&arrived, 10*time.Second) {
			t.Errorf("not every copy reached the accept step within 10s")
		}
		return m.Effect(ctx, e.ID)
	})
	if ordered {
		r.Use(dispatch.Ordered(stripeevent.Ordering))
	}
	codes := storm(ep, [][]byte{body("evt_storm", false)}, copies)
	if codes[200]+codes[409] != copies {
		t.Errorf("answers: got %v, want only 200 and 409", codes)
	}
	if got := m.Effects(t, "evt_storm"); got != 1 {
		t.Errorf("effects: got %d, want 1", got)
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("never run beside itself, never run again: got %d runs, want 1", got)
	}
}

// acceptorFunc is an Acceptor from a function.
type acceptorFunc func(ctx context.Context, a dispatch.Acceptance) dispatch.Result

func (f acceptorFunc) Accept(ctx context.Context, a dispatch.Acceptance) dispatch.Result {
	return f(ctx, a)
}

// waitAll waits for wg, for at most d, and reports whether it ended.
func waitAll(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
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

func replicasRace(t *testing.T, m Binding) { race(t, m, false) }

// race: two replicas, 16 copies of 200 events; ordered, the handlers are
// guarded by stripeevent.Ordering, each event about an object of its own
// (every copy of it claims its key and its object at once).
func race(t *testing.T, m Binding, ordered bool) {
	if testing.Short() {
		t.Skip("3,200 deliveries")
	}
	second := m.Replica(t)
	handle := func(m Binding) func(ctx context.Context, e *events.Event) error {
		return func(ctx context.Context, e *events.Event) error { return m.Effect(ctx, e.ID) }
	}
	a, ra := endpoint(t, m, handle(m))
	b, rb := endpoint(t, second, handle(second))
	objects := servicetest.RandomName("pi_race_")
	var bodies [][]byte
	for i := range 200 {
		id := fmt.Sprintf("evt_race_%03d", i)
		if !ordered {
			bodies = append(bodies, body(id, false))
			continue
		}
		bodies = append(bodies, objectBody(id, fmt.Sprintf("%s_%03d", objects, i), time.Now().Unix()))
	}
	if ordered {
		ra.Use(dispatch.Ordered(stripeevent.Ordering))
		rb.Use(dispatch.Ordered(stripeevent.Ordering))
	}
	codes := storm(a, bodies, 16, b)
	if codes[200]+codes[409] != 3200 {
		t.Errorf("answers: got %v, want only 200 and 409", codes)
	}
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
		expect(t, ep, body(id, false), 200, "delivering "+id)
	}
	fixed.Store(true)
	if err := m.DeadLetters.Rerun(ctx, r, "stripe:evt_close_a"); err != nil {
		t.Fatal(err)
	}
	if err := m.DeadLetters.Discard(ctx, "stripe:evt_close_b"); err != nil {
		t.Fatal(err)
	}
	if got := m.ClosedRows(t); got != 2 {
		t.Errorf("closed letters: got %d, want 2", got)
	}
	if got := m.ClosedWithContent(t); got != 0 {
		t.Errorf("a closed letter keeps no body (phone numbers, emails): got %d, want 0", got)
	}

	m.AgeClosed(t)
	if err := m.DeadLetters.Discard(ctx, "stripe:evt_close_c"); err != nil {
		t.Fatal(err)
	}
	if got := m.ClosedRows(t); got != 1 {
		t.Errorf("letters closed past the retention are deleted: got %d, want 1", got)
	}
}

// Concurrent re-runs of one dead letter (a double click) give one effect.
func concurrentReruns(t *testing.T, m Binding) {
	ctx := context.Background()
	const n = 8
	var fixed atomic.Bool
	var runs atomic.Int32
	// The first successful run holds on until every re-run has been
	// issued, so that they arrive while it runs.
	var issued sync.WaitGroup
	issued.Add(n)
	ep, r := endpoint(t, m, func(ctx context.Context, e *events.Event) error {
		if !fixed.Load() {
			return dispatch.Permanent(errors.New("no such booking"))
		}
		runs.Add(1)
		issued.Wait()
		return m.Effect(ctx, e.ID)
	})
	expect(t, ep, body("evt_double_click", false), 200, "delivering evt_double_click")
	fixed.Store(true)
	errs := make(chan error, n)
	for range n {
		go func() {
			issued.Done()
			errs <- m.DeadLetters.Rerun(ctx, r, "stripe:evt_double_click")
		}()
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
	if ok != 1 || gone != n-1 {
		t.Errorf("re-runs: got %d that ran it and %d that found it gone, want 1 and %d", ok, gone, n-1)
	}
	if got := m.Effects(t, "evt_double_click"); got != 1 {
		t.Errorf("one effect: got %d, want 1", got)
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("handler runs: got %d, want 1", got)
	}
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
		if got := deliver(ep, b); got != 400 {
			t.Errorf("status of an ID holding %s: got %d, want 400", id, got)
		}
	}
	if got := runs.Load(); got != 0 {
		t.Errorf("handler runs: got %d, want 0", got)
	}
}
