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
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
		// unknown registers a "*" handler returning it, when not nil.
		unknown error
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
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Complete(context.Background(), key, c.Token, time.Hour); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "same event still being processed", want: outcome{outcome: dispatch.OutcomeBusy, status: 409, body: `{"error":"event in progress"}`, retryAfter: true},
			before: func(t *testing.T, s idempotency.Store, key string) {
				_, err := s.Claim(context.Background(), key, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
			}},
		{name: "unknown event type", want: outcome{outcome: dispatch.OutcomeUnknownType, status: 200, body: `{"received":true}`},
			request: func(t *testing.T, _ []byte) *http.Request {
				return signed(stripeBody(t, "charge.refunded", "evt_unknown"))
			}},
		{name: "unknown event type, a \"*\" handler that dead-letters", unknown: dispatch.Permanent(errors.New("no handler yet")),
			want: outcome{outcome: dispatch.OutcomeDeadLettered, status: 200, body: `{"received":true}`, deadLetter: true},
			request: func(t *testing.T, _ []byte) *http.Request {
				return signed(stripeBody(t, "charge.refunded", "evt_unknown_dl"))
			}},
		{name: "unknown event type, a \"*\" handler that has it retried", unknown: errors.New("no handler yet"),
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
			if tt.unknown != nil {
				r.HandleFunc("*", func(context.Context, *events.Event) error { return tt.unknown })
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
			if len(deliveries) != 1 {
				t.Fatalf("one delivery record: got %d items, want %d: %v", len(deliveries), 1, deliveries)
			}
			if deliveries[0].Outcome != tt.want.outcome {
				t.Errorf("outcome: got %v, want %v", deliveries[0].Outcome, tt.want.outcome)
			}
			if deliveries[0].Status != rec.Code {
				t.Errorf("deliveries[0].Status: got %d, want %d", deliveries[0].Status, rec.Code)
			}
			if deliveries[0].EventSource != "stripe" {
				t.Errorf("named by the parser from the start: got %q, want %q", deliveries[0].EventSource, "stripe")
			}
			if want := []bool{true}; !slices.Equal(obs.inDelivery, want) {
				t.Errorf("EndDelivery gets StartDelivery's context: got %v, want %v", obs.inDelivery, want)
			}
			seen[deliveries[0].Outcome] = true

			if rec.Code != tt.want.status {
				t.Errorf("rec.Code: got %d, want %d", rec.Code, tt.want.status)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tt.want.body {
				t.Errorf("body: got %q, want %q", got, tt.want.body)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("rec.Header().Get(\"Content-Type\"): got %q, want %q", got, "application/json")
			}
			if got := rec.Header().Get("Retry-After") != ""; got != tt.want.retryAfter {
				t.Errorf("Retry-After: got %t, want %t", got, tt.want.retryAfter)
			}
			if got := handled.Load(); got != tt.want.handled {
				t.Errorf("handler runs: got %d, want %d", got, tt.want.handled)
			}
			if got := len(allLetters(t, dls)) == 1; got != tt.want.deadLetter {
				t.Errorf("dead-lettered: got %t, want %t", got, tt.want.deadLetter)
			}
			if got := rec.Body.String(); strings.Contains(got, "hunter2") {
				t.Errorf("internal error text never reaches the sender: got %q, want it not to contain %q", got, "hunter2")
			}
			if got := rec.Body.String(); strings.Contains(got, "whsec_") {
				t.Errorf("the secret never reaches the sender: got %q, want it not to contain %q", got, "whsec_")
			}
			if rec.Code == http.StatusMethodNotAllowed {
				if got := rec.Header().Get("Allow"); got != "POST" {
					t.Errorf("rec.Header().Get(\"Allow\"): got %q, want %q", got, "POST")
				}
			}
		})
	}
	// Only Endpoint.Recover ends so, never a delivery (recover_test.go).
	seen[dispatch.OutcomeRecovered] = true
	if len(seen) != len(dispatch.Outcomes()) {
		t.Errorf("every Outcome is some row's: got %d outcomes (%v), want %d", len(seen), seen, len(dispatch.Outcomes()))
	}
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
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	if err != nil {
		t.Fatal(err)
	}
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
			if res == nil {
				t.Fatalf("an HTTP answer: got nil, want non-nil")
			}
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
			if err != nil {
				t.Fatal(err)
			}
			if c.State != tc.retryState {
				t.Errorf("c.State: got %v, want %v", c.State, tc.retryState)
			}
		})
	}
}

func TestTwilioRejectionsAre403(t *testing.T) {
	v, err := verify.NewTwilio("twilio_token")
	if err != nil {
		t.Fatal(err)
	}
	r := dispatch.NewRouter()
	var delivered atomic.Int32
	dispatch.On(r, twilioevent.MessageDelivered, func(_ context.Context, _ *events.Event, m *twilioevent.MessageStatus) error {
		delivered.Add(1)
		if m.To != "+15551234567" {
			t.Errorf("m.To: got %q, want %q", m.To, "+15551234567")
		}
		return nil
	})
	ep := dispatch.NewEndpoint(v, twilioevent.NewParser(), r, dispatch.WithLogger(quiet))
	defer ep.Shutdown(context.Background())
	form := []byte(url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}, "To": {"+15551234567"}}.Encode())

	status, _ := deliver(ep, verifytest.NewRequest(verifytest.Twilio{AuthToken: "twilio_token"}, "https://api.example.com/twilio", form))
	if status != 200 {
		t.Errorf("status: got %d, want 200", status)
	}
	status, _ = deliver(ep, verifytest.NewRequest(verifytest.Twilio{AuthToken: "wrong"}, "https://api.example.com/twilio", form))
	if status != 403 {
		t.Errorf("status: got %d, want 403", status)
	}
	if got := delivered.Load(); got != 1 {
		t.Errorf("delivered.Load(): got %d, want 1", got)
	}
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
	if want := (map[int]int{409: len(reqs) - 1}); !reflect.DeepEqual(counts, want) {
		t.Errorf("the others, while the first runs: got %v, want %v", counts, want)
	}
	close(release)
	if got := <-codes; got != 200 {
		t.Errorf("the first, once its handler returns: got %d, want 200", got)
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("the handler ran once: got %d, want 1", got)
	}
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
	if want := []int{500, 500, 200}; !slices.Equal(got, want) {
		t.Errorf("answers: got %v, want %v", got, want)
	}
	if got := runs.Load(); got != 3 {
		t.Errorf("runs.Load(): got %d, want 3", got)
	}
	code, _ := deliver(ep, signed(body))
	if code != 200 {
		t.Errorf("a fourth delivery is a duplicate: got %d, want 200", code)
	}
	if got := runs.Load(); got != 3 {
		t.Errorf("runs.Load(): got %d, want 3", got)
	}
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
	if code != 500 {
		t.Errorf("code: got %d, want 500", code)
	}
	if got := time.Since(start); got >= 2*time.Second {
		t.Errorf("time.Since(start): got %v, want < %v", got, 2*time.Second)
	}
	c, err := store.Claim(context.Background(), "stripe:evt_slow", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != idempotency.Acquired {
		t.Errorf("a timed-out event is released for the retry: got %v, want %v", c.State, idempotency.Acquired)
	}
}

func TestNewEndpointRefusesUnsafeSetups(t *testing.T) {
	v, err := verify.NewStripe(stripeSecret)
	if err != nil {
		t.Fatal(err)
	}
	for name, setup := range map[string]func(){
		"nil verifier": func() { dispatch.NewEndpoint(nil, stripeevent.NewParser(), dispatch.NewRouter()) },
		"nil parser":   func() { dispatch.NewEndpoint(v, nil, dispatch.NewRouter()) },
		"nil router":   func() { dispatch.NewEndpoint(v, stripeevent.NewParser(), nil) },
		// A lease shorter than the handler timeout would let a retry run
		// beside a slow handler.
		"lease shorter than the timeout": func() {
			dispatch.NewEndpoint(v, stripeevent.NewParser(), dispatch.NewRouter(),
				dispatch.WithTimeout(time.Minute), dispatch.WithLease(30*time.Second))
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewEndpoint with a %s did not panic", name)
				}
			}()
			setup()
		}()
	}
}
