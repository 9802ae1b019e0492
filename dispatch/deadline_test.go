package dispatch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

const deadlineSecret = "whsec_deadline_tests"

// freshStripe is a signed Stripe delivery of event id, created now.
func freshStripe(id string) *http.Request {
	body := fmt.Appendf(nil, `{"id":%q,"type":"payment_intent.succeeded","created":%d,"data":{"object":{"id":"pi_1"}}}`,
		id, time.Now().Unix())
	return verifytest.NewRequest(verifytest.Stripe{Secret: deadlineSecret}, "/webhooks/stripe", body)
}

// newDeadlineEndpoint is a Stripe Endpoint on r, configured by opts, shut
// down when the test ends.
func newDeadlineEndpoint(t *testing.T, r *dispatch.Router, opts ...dispatch.Option) *dispatch.Endpoint {
	t.Helper()
	v, err := verify.NewStripe(deadlineSecret)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := dispatch.NewEndpointSafely(v, stripeevent.NewParser(), r, append([]dispatch.Option{dispatch.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Shutdown(context.Background()) })
	return ep
}

// serveWithin serves req on h and returns the recorded answer, failing the
// test if it takes longer than bound (then the delivery runs on, and the
// test's cleanup releases what it waits for).
func serveWithin(t *testing.T, h http.Handler, req *http.Request, bound time.Duration) (*httptest.ResponseRecorder, time.Duration) {
	t.Helper()
	rec := httptest.NewRecorder()
	done := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		h.ServeHTTP(rec, req)
		done <- time.Since(start)
	}()
	select {
	case took := <-done:
		return rec, took
	case <-time.After(bound):
		t.Fatalf("no answer within %s", bound)
		return nil, 0
	}
}

// stuckStore is an idempotency store whose claims wait — as for a pool
// connection that never frees, or a row lock — until their context ends
// or the test releases them.
type stuckStore struct {
	idempotency.Store
	release  chan struct{}
	deadline chan time.Time // the deadline each claim saw
}

func (s *stuckStore) Claim(ctx context.Context, key string, lease time.Duration) (idempotency.Claim, error) {
	d, _ := ctx.Deadline()
	s.deadline <- d
	select {
	case <-ctx.Done():
		return idempotency.Claim{}, fmt.Errorf("waiting for a connection: %w: %w", ctx.Err(), idempotency.ErrUnavailable)
	case <-s.release:
		return s.Store.Claim(ctx, key, lease)
	}
}

// A delivery that cannot start its commit within its deadline — here, its
// claim waits for a database that never answers — is answered 503 with
// Retry-After at the deadline, and its handler never runs. Before, the
// accept step's context had no deadline: the sender waited as long as the
// database did (the test's bound fails).
func TestDeadlineBoundsTheWaitBeforeTheCommit(t *testing.T) {
	mem, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	store := &stuckStore{Store: mem, release: make(chan struct{}), deadline: make(chan time.Time, 1)}
	var runs atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
		runs.Add(1)
		return nil
	})
	const timeout = 300 * time.Millisecond
	ep := newDeadlineEndpoint(t, r, dispatch.WithStore(store), dispatch.WithTimeout(timeout))
	t.Cleanup(func() { close(store.release) }) // before the Endpoint's Shutdown

	rec, took := serveWithin(t, ep, freshStripe("evt_stuck"), 5*time.Second)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("answer %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if took < timeout || took > timeout+time.Second {
		t.Errorf("answered after %s; want the deadline, %s", took, timeout)
	}
	if d := <-store.deadline; d.IsZero() {
		t.Error("the claim had no deadline")
	}
	if n := runs.Load(); n != 0 {
		t.Errorf("the handler ran %d times; a delivery that could not claim its event does nothing", n)
	}
}

// deadlineObserver keeps each delivery's arrival and end, for the tests.
type deadlineObserver struct {
	mu       sync.Mutex
	received []time.Time
	ended    chan dispatch.Delivery
	ctxs     chan context.Context // each request's context, as StartDelivery saw it
}

func newDeadlineObserver() *deadlineObserver {
	return &deadlineObserver{ended: make(chan dispatch.Delivery, 16), ctxs: make(chan context.Context, 16)}
}

func (o *deadlineObserver) StartDelivery(ctx context.Context, d *dispatch.Delivery) context.Context {
	o.mu.Lock()
	o.received = append(o.received, d.Received)
	o.mu.Unlock()
	o.ctxs <- ctx
	return ctx
}

func (o *deadlineObserver) EndDelivery(_ context.Context, d *dispatch.Delivery) {
	o.ended <- *d
}

func (o *deadlineObserver) StartAttempt(ctx context.Context, _ *dispatch.AttemptRecord) context.Context {
	return ctx
}

func (o *deadlineObserver) EndAttempt(context.Context, *dispatch.AttemptRecord) {}

// The handler has what remains of the delivery's deadline, counted from
// the delivery's arrival, not a timeout of its own started when it is
// called (before, WithTimeout gave each handler call a fresh one, on top
// of whatever the claim had waited).
func TestHandlerHasWhatRemainsOfTheDeadline(t *testing.T) {
	obs := newDeadlineObserver()
	handlerDeadline := make(chan time.Time, 1)
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, _ *events.Event) error {
		d, _ := ctx.Deadline()
		handlerDeadline <- d
		return nil
	})
	r.Observe(obs)
	const timeout = 4 * time.Second
	ep := newDeadlineEndpoint(t, r, dispatch.WithTimeout(timeout))
	rec, _ := serveWithin(t, ep, freshStripe("evt_remaining"), 10*time.Second)
	if rec.Code != http.StatusOK {
		t.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
	got := <-handlerDeadline
	want := (<-obs.ended).Received.Add(timeout)
	if !got.Equal(want) {
		t.Errorf("the handler's deadline is %s after the delivery's arrival; want exactly %s", got.Sub(want)+timeout, timeout)
	}
}

// A sender that hangs up before its answer is recorded as gone: the
// delivery's record (observers, archives) and its log line say so, so that
// a 200 nobody received is not counted as one that was. The delivery
// itself finishes: its retry is a duplicate.
func TestSenderThatHungUpIsRecorded(t *testing.T) {
	obs := newDeadlineObserver()
	started, release := make(chan struct{}, 1), make(chan struct{})
	var runs atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
		if runs.Add(1) == 1 {
			started <- struct{}{}
			<-release
		}
		return nil
	})
	r.Observe(obs)
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	ep := newDeadlineEndpoint(t, r, dispatch.WithLogger(logger))
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)

	req := freshStripe("evt_hung_up")
	body := new(bytes.Buffer)
	body.ReadFrom(req.Body)
	ctx, hangUp := context.WithCancel(context.Background())
	out, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/webhooks/stripe", bytes.NewReader(body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	out.Header = req.Header.Clone()
	sent := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(out)
		if err == nil {
			res.Body.Close()
		}
		sent <- err
	}()
	<-started
	serverCtx := <-obs.ctxs
	hangUp()
	if err := <-sent; !errors.Is(err, context.Canceled) {
		t.Fatalf("the client's request ended with %v, want its cancellation", err)
	}
	<-serverCtx.Done() // the server has seen the connection close
	close(release)
	d := <-obs.ended
	if !d.SenderGone || d.Status != http.StatusOK || d.Outcome != dispatch.OutcomeProcessed {
		t.Errorf("delivery recorded as %s %d, sender gone %t; want processed 200, sender gone", d.Outcome, d.Status, d.SenderGone)
	}
	logMu.Lock()
	line := logs.String()
	logMu.Unlock()
	if !strings.Contains(line, "sender_gone=true") {
		t.Errorf("the log line does not say the sender was gone: %s", line)
	}

	// The sender's retry, on a connection it keeps: a duplicate, and a
	// sender that read its answer.
	res, err := http.DefaultClient.Do(mustClone(t, srv.URL, req.Header, body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	<-obs.ctxs
	d = <-obs.ended
	if res.StatusCode != http.StatusOK || d.Outcome != dispatch.OutcomeDuplicate || d.SenderGone {
		t.Errorf("retry: %d, recorded %s, sender gone %t; want 200 duplicate, received", res.StatusCode, d.Outcome, d.SenderGone)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want 1", n)
	}
}

func mustClone(t *testing.T, base string, header http.Header, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/webhooks/stripe", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	return req
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Past WithMaxInFlight deliveries in flight, the next one is answered 503
// with Retry-After at once, without reading its body or running anything;
// once one ends, deliveries are served again.
func TestMaxInFlightRefusesAtOnce(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	var runs atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(_ context.Context, e *events.Event) error {
		runs.Add(1)
		if e.ID == "evt_first" {
			started <- struct{}{}
			<-release
		}
		return nil
	})
	ep := newDeadlineEndpoint(t, r, dispatch.WithMaxInFlight(1))
	first := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, freshStripe("evt_first"))
		first <- rec.Code
	}()
	<-started
	rec, _ := serveWithin(t, ep, freshStripe("evt_second"), 5*time.Second)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("past the limit: %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	close(release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("the first delivery: %d", code)
	}
	rec, _ = serveWithin(t, ep, freshStripe("evt_second"), 5*time.Second)
	if rec.Code != http.StatusOK {
		t.Errorf("once the first ended, the retry: %d", rec.Code)
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("%d handler runs, want 2 (the refused delivery ran nothing)", n)
	}
	v, err := verify.NewStripe(deadlineSecret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dispatch.NewEndpointSafely(v, stripeevent.NewParser(), r, dispatch.WithMaxInFlight(0)); !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Errorf("WithMaxInFlight(0): %v, want ErrInvalidConfig", err)
	}
}

const etailSecret = "etail_secret_for_age_tests"

// etailDelivery is a signed Etail Depot payment.succeeded created at
// created: Etail signs its body, and no time beside it.
func etailDelivery(id string, created time.Time) *http.Request {
	body := fmt.Appendf(nil, `{"id":%q,"type":"payment.succeeded","created":%d,"data":{"object":{"id":"pay_1","amount":10000,"currency":"USD","status":"succeeded"}}}`,
		id, created.Unix())
	return verifytest.NewRequest(verifytest.HMAC{Secret: []byte(etailSecret), Header: "Etail-Signature"}, "/webhooks/etail", body)
}

// A captured Etail delivery verifies forever: replayed on day four, when
// its key has been forgotten (the store here has never seen it), it would
// run again. With WithMaxAge it is refused, 400, logged, and not run; an
// event within the window runs, and its in-window replay is a duplicate.
// The age window must not outlive the key window: NewEndpointSafely refuses it.
func TestMaxAgeRefusesAReplayPastTheKeepWindow(t *testing.T) {
	v, err := verify.NewHMAC([]byte(etailSecret), "Etail-Signature")
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]int{}
	var mu sync.Mutex
	r := dispatch.NewRouter()
	r.HandleFunc("payment.succeeded", func(_ context.Context, e *events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		runs[e.ID]++
		return nil
	})
	var logs bytes.Buffer
	var logMu sync.Mutex
	ep, err := dispatch.NewEndpointSafely(v, etailevent.NewParser(), r, dispatch.WithMaxAge(84*time.Hour),
		dispatch.WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Shutdown(context.Background()) })

	now := time.Now()
	for _, c := range []struct {
		id      string
		created time.Time
		want    int
		runs    int
	}{
		{"evt_day_four", now.Add(-97 * time.Hour), http.StatusBadRequest, 0},
		{"evt_yesterday", now.Add(-26 * time.Hour), http.StatusOK, 1},
		{"evt_yesterday", now.Add(-26 * time.Hour), http.StatusOK, 1}, // a replay within the window: a duplicate
	} {
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, etailDelivery(c.id, c.created))
		mu.Lock()
		n := runs[c.id]
		mu.Unlock()
		if rec.Code != c.want || n != c.runs {
			t.Errorf("%s created %s ago: %d, %d runs; want %d, %d runs", c.id, now.Sub(c.created).Round(time.Hour), rec.Code, n, c.want, c.runs)
		}
	}
	logMu.Lock()
	line := logs.String()
	logMu.Unlock()
	if !strings.Contains(line, "evt_day_four") || !strings.Contains(line, "WithMaxAge") || !strings.Contains(line, "level=WARN") {
		t.Errorf("the refusal is not logged as a warning naming the event and the window: %s", line)
	}

	if _, err := dispatch.NewEndpointSafely(v, etailevent.NewParser(), r, dispatch.WithMaxAge(100*time.Hour)); !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Errorf("an age window longer than the default keep window (96h): %v, want ErrInvalidConfig", err)
	}
	if _, err := dispatch.NewEndpointSafely(v, etailevent.NewParser(), r, dispatch.WithMaxAge(100*time.Hour), dispatch.WithKeep(120*time.Hour)); err != nil {
		t.Errorf("an age window within WithKeep: %v", err)
	}
	if _, err := dispatch.NewEndpointSafely(v, etailevent.NewParser(), r, dispatch.WithMaxAge(0)); !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Errorf("WithMaxAge(0): %v, want ErrInvalidConfig", err)
	}
}

// Without WithMaxAge, an Endpoint whose verifier accepts signatures of any
// age (Etail Depot's HMAC over the body alone) still refuses an event older
// than seven eighths of its keep window: the replay on day four of a
// delivery whose key has been forgotten does not run. One whose verifier
// bounds a signature's age itself (an HMAC with a signed timestamp) is not
// checked: a recorded event re-signed now runs, whatever its age.
func TestMaxAgeIsOnByDefaultWhereNothingSignedCarriesATime(t *testing.T) {
	bodyOnly, err := verify.NewHMAC([]byte(etailSecret), "Etail-Signature")
	if err != nil {
		t.Fatal(err)
	}
	timed, err := verify.NewHMAC([]byte(etailSecret), "Etail-Signature",
		verify.WithTimestampHeader("Etail-Timestamp"), verify.WithSignedContent("{timestamp}.{body}"))
	if err != nil {
		t.Fatal(err)
	}
	timedSigner := verifytest.HMAC{Secret: []byte(etailSecret), Header: "Etail-Signature",
		TimestampHeader: "Etail-Timestamp", SignedContent: "{timestamp}.{body}"}
	now := time.Now()
	for _, c := range []struct {
		name    string
		v       verify.Verifier
		opts    []dispatch.Option
		req     func(id string, created time.Time) *http.Request
		created time.Time
		want    int
	}{
		{"body-only HMAC, day four", bodyOnly, nil, etailDelivery, now.Add(-97 * time.Hour), http.StatusBadRequest},
		{"body-only HMAC, 85 hours", bodyOnly, nil, etailDelivery, now.Add(-85 * time.Hour), http.StatusBadRequest},
		{"body-only HMAC, 83 hours", bodyOnly, nil, etailDelivery, now.Add(-83 * time.Hour), http.StatusOK},
		{"body-only HMAC, WithKeep 24h, 22 hours", bodyOnly, []dispatch.Option{dispatch.WithKeep(24 * time.Hour)}, etailDelivery, now.Add(-22 * time.Hour), http.StatusBadRequest},
		{"body-only HMAC, WithKeep 24h, 20 hours", bodyOnly, []dispatch.Option{dispatch.WithKeep(24 * time.Hour)}, etailDelivery, now.Add(-20 * time.Hour), http.StatusOK},
		{"timestamped HMAC, a month", timed, nil, func(id string, created time.Time) *http.Request {
			body := fmt.Appendf(nil, `{"id":%q,"type":"payment.succeeded","created":%d,"data":{"object":{"id":"pay_1","amount":10000,"currency":"USD","status":"succeeded"}}}`,
				id, created.Unix())
			return verifytest.NewRequest(timedSigner, "/webhooks/etail", body)
		}, now.Add(-30 * 24 * time.Hour), http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			runs := 0
			r := dispatch.NewRouter()
			r.HandleFunc("payment.succeeded", func(context.Context, *events.Event) error { runs++; return nil })
			ep, err := dispatch.NewEndpointSafely(c.v, etailevent.NewParser(), r, append(c.opts, dispatch.WithLogger(slog.New(slog.DiscardHandler)))...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ep.Shutdown(context.Background()) })
			rec := httptest.NewRecorder()
			ep.ServeHTTP(rec, c.req("evt_"+strings.ReplaceAll(c.name, " ", "_"), c.created))
			wantRuns := 0
			if c.want == http.StatusOK {
				wantRuns = 1
			}
			if rec.Code != c.want || runs != wantRuns {
				t.Errorf("%d, %d runs; want %d, %d runs (%s)", rec.Code, runs, c.want, wantRuns, rec.Body)
			}
		})
	}
}
