package dispatch_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// TestStatusTable walks README.md's status table: for each situation, the
// status the sender sees, the body, what happened to the event, and the one
// delivery record an Observer receives, with its Outcome. Every Outcome is
// some row's.
func TestStatusTable(t *testing.T) {
	type outcome struct {
		outcome    dispatch.Outcome
		status     int
		body       string
		handled    int32 // handler runs
		deadLetter bool
		retryAfter bool
	}
	tests := []struct {
		name    string
		handler func(ctx context.Context, e *events.Event, pi *stripe.PaymentIntent) error
		opts    []dispatch.Option
		unknown dispatch.UnknownPolicy
		// before runs before the delivery, with the store and the event's key.
		before  func(t *testing.T, s idempotency.Store, key string)
		request func(t *testing.T, body []byte) *http.Request
		// acceptor replaces the default accept step (and its store).
		acceptor dispatch.Acceptor
		// trickle sends the body too slowly, over a real connection.
		trickle bool
		want    outcome
	}{
		{name: "processed", want: outcome{outcome: dispatch.OutcomeProcessed, status: 200, body: `{"received":true}`, handled: 1}},
		{name: "duplicate of a completed event", want: outcome{outcome: dispatch.OutcomeDuplicate, status: 200, body: `{"received":true}`},
			before: func(t *testing.T, s idempotency.Store, key string) {
				c, err := s.Claim(context.Background(), key, time.Minute)
				require.NoError(t, err)
				require.NoError(t, s.Complete(context.Background(), key, c.Token, time.Hour))
			}},
		{name: "same event still being processed", want: outcome{outcome: dispatch.OutcomeBusy, status: 409, body: `{"error":"event in progress"}`, retryAfter: true},
			before: func(t *testing.T, s idempotency.Store, key string) {
				_, err := s.Claim(context.Background(), key, time.Minute)
				require.NoError(t, err)
			}},
		{name: "unknown event type", want: outcome{outcome: dispatch.OutcomeUnknownType, status: 200, body: `{"received":true}`},
			request: func(t *testing.T, _ []byte) *http.Request {
				return signed(stripeBody(t, "charge.refunded", "evt_unknown"))
			}},
		{name: "unknown event type, dead-letter policy", unknown: dispatch.DeadLetterUnknown,
			want: outcome{outcome: dispatch.OutcomeDeadLettered, status: 200, body: `{"received":true}`, deadLetter: true},
			request: func(t *testing.T, _ []byte) *http.Request {
				return signed(stripeBody(t, "charge.refunded", "evt_unknown_dl"))
			}},
		{name: "unknown event type, retry policy", unknown: dispatch.RetryUnknown,
			want: outcome{outcome: dispatch.OutcomeFailed, status: 500, body: `{"error":"processing failed"}`},
			request: func(t *testing.T, _ []byte) *http.Request {
				return signed(stripeBody(t, "charge.refunded", "evt_unknown_retry"))
			}},
		{name: "signature missing", want: outcome{outcome: dispatch.OutcomeRejectedSignature, status: 400, body: `{"error":"invalid signature"}`},
			request: func(t *testing.T, body []byte) *http.Request {
				return httptest.NewRequest(http.MethodPost, "/webhooks/stripe", bytes.NewReader(body))
			}},
		{name: "signature wrong", want: outcome{outcome: dispatch.OutcomeRejectedSignature, status: 400, body: `{"error":"invalid signature"}`},
			request: func(t *testing.T, body []byte) *http.Request {
				return verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_someone_else"}, "/webhooks/stripe", body)
			}},
		{name: "signature stale", want: outcome{outcome: dispatch.OutcomeRejectedSignature, status: 400, body: `{"error":"invalid signature"}`},
			request: func(t *testing.T, body []byte) *http.Request {
				return verifytest.NewRequest(verifytest.Stripe{Secret: stripeSecret, Time: time.Now().Add(-time.Hour)}, "/webhooks/stripe", body)
			}},
		{name: "body tampered", want: outcome{outcome: dispatch.OutcomeRejectedSignature, status: 400, body: `{"error":"invalid signature"}`},
			request: func(t *testing.T, body []byte) *http.Request {
				r := signed(body)
				r.Body = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(bytes.Replace(body, []byte("5000"), []byte("9000"), 1))).Body
				return r
			}},
		{name: "body over the limit", opts: []dispatch.Option{dispatch.WithMaxBodyBytes(512)},
			want: outcome{outcome: dispatch.OutcomeTooLarge, status: 413, body: `{"error":"body too large"}`}},
		{name: "verified but unparsable", want: outcome{outcome: dispatch.OutcomeMalformed, status: 400, body: `{"error":"malformed event"}`},
			request: func(t *testing.T, _ []byte) *http.Request { return signed([]byte(`{"id":"evt_x","data":{}}`)) }},
		{name: "verified JSON that is not an object", want: outcome{outcome: dispatch.OutcomeMalformed, status: 400, body: `{"error":"malformed event"}`},
			request: func(t *testing.T, _ []byte) *http.Request { return signed([]byte(`not json`)) }},
		{name: "handler error", want: outcome{outcome: dispatch.OutcomeFailed, status: 500, body: `{"error":"processing failed"}`, handled: 1},
			handler: func(context.Context, *events.Event, *stripe.PaymentIntent) error {
				return errors.New("database is down: password=hunter2")
			}},
		{name: "handler panic", want: outcome{outcome: dispatch.OutcomeFailed, status: 500, body: `{"error":"processing failed"}`, handled: 1},
			handler: func(context.Context, *events.Event, *stripe.PaymentIntent) error { panic("nil booking") }},
		{name: "store unavailable", opts: []dispatch.Option{dispatch.WithStore(downStore{})},
			want: outcome{outcome: dispatch.OutcomeUnavailable, status: 503, body: `{"error":"temporarily unavailable"}`, retryAfter: true}},
		{name: "handler says permanent", want: outcome{outcome: dispatch.OutcomeDeadLettered, status: 200, body: `{"received":true}`, handled: 1, deadLetter: true},
			handler: func(context.Context, *events.Event, *stripe.PaymentIntent) error {
				return dispatch.Permanent(errors.New("booking 12345 does not exist"))
			}},
		{name: "payload does not decode into its type", want: outcome{outcome: dispatch.OutcomeDeadLettered, status: 200, body: `{"received":true}`, deadLetter: true},
			request: func(t *testing.T, _ []byte) *http.Request {
				return signed([]byte(`{"id":"evt_bad_payload","type":"payment_intent.succeeded","created":1,"data":{"object":{"amount":"a lot"}}}`))
			}},
		{name: "not a POST", want: outcome{outcome: dispatch.OutcomeMethodNotAllowed, status: 405, body: `{"error":"method not allowed"}`},
			request: func(t *testing.T, body []byte) *http.Request {
				r := signed(body)
				r.Method = http.MethodGet
				return r
			}},
		{name: "body not received in time", trickle: true,
			want: outcome{outcome: dispatch.OutcomeReadTimeout, status: 408, body: `{"error":"body not received in time"}`}},
		{name: "job committed to a durable queue", acceptor: &listQueue{},
			want: outcome{outcome: dispatch.OutcomeQueued, status: 200, body: `{"received":true}`}},
	}
	seen := map[dispatch.Outcome]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var handled atomic.Int32
			r := dispatch.NewRouter()
			dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(ctx context.Context, e *events.Event, pi *stripe.PaymentIntent) error {
				handled.Add(1)
				if tt.handler != nil {
					return tt.handler(ctx, e, pi)
				}
				return nil
			})
			obs := &recorder{}
			r.Observe(obs)
			store := memStore(t)
			dls := &dispatch.MemoryDeadLetters{}
			opts := append([]dispatch.Option{dispatch.WithStore(store), dispatch.WithDeadLetters(dls)}, tt.opts...)
			if tt.acceptor != nil {
				opts = []dispatch.Option{dispatch.WithAcceptor(tt.acceptor)}
			}
			if tt.trickle {
				opts = append(opts, dispatch.WithReadTimeout(200*time.Millisecond))
			}
			if tt.unknown != dispatch.AcknowledgeUnknown {
				opts = append(opts, dispatch.WithUnknownPolicy(tt.unknown))
			}
			ep := newStripeEndpoint(t, r, opts...)

			body := stripeBody(t, "payment_intent.succeeded", "evt_status_table")
			if tt.before != nil {
				tt.before(t, store, "stripe:evt_status_table")
			}
			req := signed(body)
			if tt.request != nil {
				req = tt.request(t, body)
			}
			rec := httptest.NewRecorder()
			if tt.trickle {
				rec = trickled(t, ep)
			} else {
				ep.ServeHTTP(rec, req)
			}

			deliveries, _ := obs.records()
			require.Len(t, deliveries, 1, "one delivery record")
			assert.Equal(t, tt.want.outcome, deliveries[0].Outcome, "%s", deliveries[0].Outcome)
			assert.Equal(t, rec.Code, deliveries[0].Status)
			assert.Equal(t, "stripe", deliveries[0].EventSource, "named by the parser from the start")
			assert.Equal(t, []bool{true}, obs.inDelivery, "EndDelivery gets StartDelivery's context")
			seen[deliveries[0].Outcome] = true

			assert.Equal(t, tt.want.status, rec.Code)
			assert.Equal(t, tt.want.body, strings.TrimSpace(rec.Body.String()))
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			assert.Equal(t, tt.want.retryAfter, rec.Header().Get("Retry-After") != "", "Retry-After")
			assert.Equal(t, tt.want.handled, handled.Load(), "handler runs")
			assert.Equal(t, tt.want.deadLetter, len(dls.All()) == 1, "dead-lettered")
			assert.NotContains(t, rec.Body.String(), "hunter2", "internal error text never reaches the sender")
			assert.NotContains(t, rec.Body.String(), "whsec_")
			if rec.Code == http.StatusMethodNotAllowed {
				assert.Equal(t, "POST", rec.Header().Get("Allow"))
			}
		})
	}
	assert.Len(t, seen, len(dispatch.Outcomes()), "every Outcome is some row's: %v", seen)
}

// listQueue is an accept step that queues events in a slice, as a durable
// queue would in its table.
type listQueue struct {
	mu     sync.Mutex
	events []*events.Event
}

func (q *listQueue) Accept(_ context.Context, a dispatch.Acceptance) dispatch.Result {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.events = append(q.events, a.Event)
	return dispatch.Result{Outcome: dispatch.OutcomeQueued}
}

// trickled sends ep a delivery whose body arrives one byte every 50ms,
// over a real connection, and returns the answer read from the wire once
// ep has finished with the request.
func trickled(t *testing.T, ep *dispatch.Endpoint) *httptest.ResponseRecorder {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		ep.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	require.NoError(t, err)
	answered := make(chan *http.Response, 1)
	go func() {
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			res = nil
		}
		answered <- res
	}()
	var res *http.Response
	for tick := time.NewTicker(50 * time.Millisecond); res == nil; {
		select {
		case res = <-answered:
			require.NotNil(t, res, "an HTTP answer")
		case <-tick.C:
			conn.Write([]byte(" "))
		case <-time.After(5 * time.Second):
			t.Fatal("no answer to a trickling body")
		}
	}
	<-done
	rec := httptest.NewRecorder()
	for k, v := range res.Header {
		rec.Header()[k] = v
	}
	rec.WriteHeader(res.StatusCode)
	io.Copy(rec.Body, res.Body)
	return rec
}

// A failed or panicking handler releases its claim: the sender's retry runs
// the handler again. A permanent failure completes it: the retry is a
// duplicate.
func TestClaimAfterOutcome(t *testing.T) {
	for name, tc := range map[string]struct {
		first      error
		panics     bool
		retryState idempotency.State
	}{
		"error releases":      {first: errors.New("transient"), retryState: idempotency.Acquired},
		"panic releases":      {panics: true, retryState: idempotency.Acquired},
		"permanent completes": {first: dispatch.Permanent(errors.New("no such booking")), retryState: idempotency.Completed},
		"success completes":   {retryState: idempotency.Completed},
	} {
		t.Run(name, func(t *testing.T) {
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
				if tc.panics {
					panic("boom")
				}
				return tc.first
			})
			store := memStore(t)
			ep := newStripeEndpoint(t, r, dispatch.WithStore(store))
			deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_claim")))
			c, err := store.Claim(context.Background(), "stripe:evt_claim", time.Minute)
			require.NoError(t, err)
			assert.Equal(t, tc.retryState, c.State)
		})
	}
}

func TestTwilioRejectionsAre403(t *testing.T) {
	v, err := verify.NewTwilio("twilio_token")
	require.NoError(t, err)
	r := dispatch.NewRouter()
	var delivered atomic.Int32
	dispatch.On(r, twilioevent.MessageDelivered, func(_ context.Context, _ *events.Event, m *twilioevent.MessageStatus) error {
		delivered.Add(1)
		assert.Equal(t, "+15551234567", m.To)
		return nil
	})
	ep := dispatch.NewEndpoint(v, twilioevent.NewParser(), r, dispatch.WithLogger(quiet))
	defer ep.Shutdown(context.Background())
	form := []byte(url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}, "To": {"+15551234567"}}.Encode())

	status, _ := deliver(ep, verifytest.NewRequest(verifytest.Twilio{AuthToken: "twilio_token"}, "https://api.example.com/twilio", form))
	assert.Equal(t, 200, status)
	status, _ = deliver(ep, verifytest.NewRequest(verifytest.Twilio{AuthToken: "wrong"}, "https://api.example.com/twilio", form))
	assert.Equal(t, 403, status)
	assert.EqualValues(t, 1, delivered.Load())
}

// 64 identical deliveries at once: the handler runs once; while it runs,
// every other delivery is told 409 (in progress), and the first 200; none
// is told 500. The handler is held until the other 63 are answered, so the
// test does not depend on how the goroutines are scheduled.
func TestConcurrentDuplicates(t *testing.T) {
	var runs atomic.Int32
	release := make(chan struct{})
	r := dispatch.NewRouter()
	dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(context.Context, *events.Event, *stripe.PaymentIntent) error {
		runs.Add(1)
		<-release
		return nil
	})
	ep := newStripeEndpoint(t, r)
	body := stripeBody(t, "payment_intent.succeeded", "evt_concurrent")
	reqs := make([]*http.Request, 64)
	for i := range reqs {
		reqs[i] = signed(body)
	}
	codes := make(chan int, len(reqs))
	start := make(chan struct{})
	for _, req := range reqs {
		go func() {
			<-start
			code, _ := deliver(ep, req)
			codes <- code
		}()
	}
	close(start)
	counts := map[int]int{}
	for range len(reqs) - 1 {
		counts[<-codes]++
	}
	assert.Equal(t, map[int]int{409: len(reqs) - 1}, counts, "the others, while the first runs")
	close(release)
	assert.Equal(t, 200, <-codes, "the first, once its handler returns")
	assert.EqualValues(t, 1, runs.Load(), "the handler ran once")
}

// Sync mode: a handler that fails twice then succeeds; the sender sees
// 500, 500, 200 and the handler ran three times.
func TestSyncFailTwiceThenSucceed(t *testing.T) {
	var runs atomic.Int32
	r := dispatch.NewRouter()
	dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(context.Context, *events.Event, *stripe.PaymentIntent) error {
		if runs.Add(1) <= 2 {
			return errors.New("booking database unavailable")
		}
		return nil
	})
	ep := newStripeEndpoint(t, r)
	body := stripeBody(t, "payment_intent.succeeded", "evt_flaky")
	var got []int
	for range 3 {
		code, _ := deliver(ep, signed(body))
		got = append(got, code)
	}
	assert.Equal(t, []int{500, 500, 200}, got)
	assert.EqualValues(t, 3, runs.Load())
	code, _ := deliver(ep, signed(body))
	assert.Equal(t, 200, code, "a fourth delivery is a duplicate")
	assert.EqualValues(t, 3, runs.Load())
}

func TestHandlerTimeout(t *testing.T) {
	r := dispatch.NewRouter()
	dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(ctx context.Context, _ *events.Event, _ *stripe.PaymentIntent) error {
		<-ctx.Done() // a handler blocked on a slow database, watching its context
		return ctx.Err()
	})
	store := memStore(t)
	ep := newStripeEndpoint(t, r, dispatch.WithTimeout(50*time.Millisecond), dispatch.WithStore(store))
	start := time.Now()
	code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_slow")))
	assert.Equal(t, 500, code)
	assert.Less(t, time.Since(start), 2*time.Second)
	c, err := store.Claim(context.Background(), "stripe:evt_slow", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, idempotency.Acquired, c.State, "a timed-out event is released for the retry")
}

func TestNewEndpointRefusesUnsafeSetups(t *testing.T) {
	v, err := verify.NewStripe(stripeSecret)
	require.NoError(t, err)
	assert.Panics(t, func() { dispatch.NewEndpoint(nil, stripeevent.NewParser(), dispatch.NewRouter()) })
	assert.Panics(t, func() { dispatch.NewEndpoint(v, nil, dispatch.NewRouter()) })
	assert.Panics(t, func() { dispatch.NewEndpoint(v, stripeevent.NewParser(), nil) })
	assert.Panics(t, func() {
		dispatch.NewEndpoint(v, stripeevent.NewParser(), dispatch.NewRouter(),
			dispatch.WithTimeout(time.Minute), dispatch.WithLease(30*time.Second))
	}, "a lease shorter than the handler timeout would let a retry run beside a slow handler")
}
