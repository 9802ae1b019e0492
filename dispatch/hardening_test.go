package dispatch_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
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
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// The attack: a captured, validly signed "undelivered" callback sent again
// with a fresh I-Twilio-Idempotency-Token each time (Twilio does not sign
// that header, and its signatures carry no timestamp). Every replay must be
// a duplicate of the first delivery.
func TestTwilioReplayWithFreshTokensIsADuplicate(t *testing.T) {
	v, err := verify.NewTwilio("twilio_token")
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	r := dispatch.NewRouter()
	dispatch.On(r, twilioevent.MessageUndelivered, func(context.Context, *events.Event, *twilioevent.MessageStatus) error {
		runs.Add(1) // a fallback email would be queued here
		return nil
	})
	ep := dispatch.NewEndpoint(v, twilioevent.NewParser(), r, dispatch.WithLogger(quiet))
	defer ep.Shutdown(context.Background())
	form := []byte(url.Values{"MessageSid": {"SM42"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}}.Encode())

	for _, token := range []string{"tok-original", "tok-2", "tok-3", "tok-4", "tok-5", ""} {
		req := verifytest.NewRequest(verifytest.Twilio{AuthToken: "twilio_token"}, "https://api.example.com/twilio", form)
		if token != "" {
			req.Header.Set("I-Twilio-Idempotency-Token", token)
		}
		status, body := deliver(ep, req)
		if status != 200 {
			t.Errorf("token %q: %s: got %d, want 200", token, body, status)
		}
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("the handler ran once for one signed callback: got %d, want 1", got)
	}
}

// An event ID is a key kept for days: a parser must not turn a huge header
// into a huge key.
func TestHugeEventIDIsRefused(t *testing.T) {
	var runs atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("*", func(context.Context, *events.Event) error { runs.Add(1); return nil })
	ep := newStripeEndpoint(t, r)
	body := stripeBody(t, "payment_intent.succeeded", "evt_"+strings.Repeat("x", 512<<10))
	status, _ := deliver(ep, signed(body))
	if status != 400 {
		t.Errorf("status: got %d, want 400", status)
	}
	if got := runs.Load(); got != 0 {
		t.Errorf("runs.Load(): got %d, want 0", got)
	}
}

// A host's own parser is held to the same bounds.
func TestCustomParserIDsAreBounded(t *testing.T) {
	v, err := verify.NewHMAC([]byte("secret"), "X-Signature")
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]string{"empty": "", "huge": strings.Repeat("k", events.MaxIDBytes+1)} {
		t.Run(name, func(t *testing.T) {
			var runs atomic.Int32
			r := dispatch.NewRouter()
			r.HandleFunc("*", func(context.Context, *events.Event) error { runs.Add(1); return nil })
			p := events.ParserFunc(func(_ *http.Request, body []byte) (*events.Event, error) {
				return &events.Event{Source: "custom", ID: id, Type: "thing.happened", Body: body}, nil
			})
			ep := dispatch.NewEndpoint(v, p, r, dispatch.WithLogger(quiet))
			defer ep.Shutdown(context.Background())
			req := verifytest.NewRequest(verifytest.HMAC{Secret: []byte("secret"), Header: "X-Signature"}, "/hook", []byte(`{}`))
			status, _ := deliver(ep, req)
			if status != 400 {
				t.Errorf("status: got %d, want 400", status)
			}
			if got := runs.Load(); got != 0 {
				t.Errorf("runs.Load(): got %d, want 0", got)
			}
		})
	}
}

// trickle opens a raw connection to addr and sends a POST whose body it
// trickles one byte every 50ms, far slower than any sender, until the test
// ends. It returns a channel that receives the status line, if any.
func trickle(t *testing.T, addr string) <-chan string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_, err = io.WriteString(conn, "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	status := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(conn).ReadString('\n')
		status <- strings.TrimSpace(line)
	}()
	return status
}

// signalOnRead calls first on the first Read of the body it wraps.
type signalOnRead struct {
	io.ReadCloser
	first func()
}

func (s *signalOnRead) Read(p []byte) (int, error) {
	s.first()
	return s.ReadCloser.Read(p)
}

// A client that trickles its body must not hold Shutdown past its deadline.
func TestShutdownHonoursItsDeadlineAgainstATricklingClient(t *testing.T) {
	ep := newStripeEndpoint(t, dispatch.NewRouter())
	reading, served := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The Endpoint reads the body only once the request counts as in
		// flight: its first Read says Shutdown must wait for it.
		r.Body = &signalOnRead{ReadCloser: r.Body, first: func() { once.Do(func() { close(reading) }) }}
		ep.ServeHTTP(w, r)
		close(served)
	})) // no server timeouts: the Endpoint must bound itself
	t.Cleanup(srv.Close) // after trickle's cleanup has closed the client side
	trickle(t, srv.Listener.Addr().String())
	<-reading

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	returned := make(chan error, 1)
	go func() { returned <- ep.Shutdown(ctx) }()
	select {
	case err := <-returned:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err: got %v, want %v", err, context.DeadlineExceeded)
		}
		if got := time.Since(start); got >= 1500*time.Millisecond {
			t.Errorf("time.Since(start): got %v, want < %v", got, 1500*time.Millisecond)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Shutdown with a 500ms deadline was still blocked after 4s")
	}
	// Its deadline passed, Shutdown interrupted the read: the request
	// ends well within the read timeout (DefaultReadTimeout).
	select {
	case <-served:
	case <-time.After(3 * time.Second):
		t.Fatal("the trickled body's read went on 3s after Shutdown's deadline")
	}
}

// The body read itself is bounded in time.
func TestBodyReadIsBoundedInTime(t *testing.T) {
	ep := newStripeEndpoint(t, dispatch.NewRouter(), dispatch.WithReadTimeout(300*time.Millisecond))
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	status := trickle(t, srv.Listener.Addr().String())
	select {
	case line := <-status:
		if !strings.Contains(line, "408") {
			t.Errorf("a body that does not arrive in time: got %q, want it to contain %q", line, "408")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a trickling body held the request for 3s despite a 300ms read timeout")
	}
}

// Logs are bounded whatever the request, and never carry body text.
func TestLogsAreBoundedAndCarryNoBodyText(t *testing.T) {
	const leak = "LEAKED-VALUE-77"
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	t.Run("huge query, bad signature", func(t *testing.T) {
		logs.Reset()
		v, err := verify.NewTwilio("twilio_token")
		if err != nil {
			t.Fatal(err)
		}
		ep := dispatch.NewEndpoint(v, twilioevent.NewParser(), dispatch.NewRouter(), dispatch.WithLogger(logger))
		defer ep.Shutdown(context.Background())
		form := []byte("MessageSid=SM1&MessageStatus=sent")
		target := "https://api.example.com/twilio?pad=" + strings.Repeat("x", 900<<10)
		req := verifytest.NewRequest(verifytest.Twilio{AuthToken: "wrong"}, target, form)
		status, _ := deliver(ep, req)
		if status != 403 {
			t.Fatalf("status: got %d, want 403", status)
		}
		if got := logs.Len(); got >= 4<<10 {
			t.Errorf("a 900 KiB target made %d bytes of log: got %d, want < %d", logs.Len(), got, 4<<10)
		}
	})

	bodies := map[string]string{
		"created is not a number": `{"id":"evt_a","type":"payment_intent.succeeded","created":"` + leak + `","data":{"object":{}}}`,
		"amount is a fraction":    `{"id":"evt_b","type":"payment_intent.succeeded","created":1,"data":{"object":{"amount":77.` + "7777" + `}}}`,
		"a time that is not one":  `{"id":"evt_c","type":"booking.created","created":1,"data":{"object":{"when":"` + leak + `"}}}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			logs.Reset()
			r := dispatch.NewRouter()
			dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(context.Context, *events.Event, *stripe.PaymentIntent) error { return nil })
			dispatch.On(r, events.NewType[*struct{ When time.Time }]("booking.created"),
				func(context.Context, *events.Event, *struct{ When time.Time }) error { return nil })
			dls := &dispatch.MemoryDeadLetters{}
			ep := newStripeEndpoint(t, r, dispatch.WithLogger(logger), dispatch.WithDeadLetters(dls))
			status, _ := deliver(ep, signed([]byte(body)))
			if !slices.Contains([]int{200, 400}, status) {
				t.Errorf("status: got %d, want 200 or 400", status)
			}
			if got := logs.String(); strings.Contains(got, leak) {
				t.Errorf("logs.String(): got %q, want it not to contain %q", got, leak)
			}
			if got := logs.String(); strings.Contains(got, "77.7777") {
				t.Errorf("logs.String(): got %q, want it not to contain %q", got, "77.7777")
			}
			if got := logs.String(); got == "" {
				t.Errorf("the rejection or dead letter is logged: got empty, want a value")
			}
			for _, dl := range allLetters(t, dls) {
				if got := dl.Err.Error(); strings.Contains(got, leak) {
					t.Errorf("dl.Err.Error(): got %q, want it not to contain %q", got, leak)
				}
				if got := dl.Err.Error(); strings.Contains(got, "77.7777") {
					t.Errorf("dl.Err.Error(): got %q, want it not to contain %q", got, "77.7777")
				}
			}
		})
	}
}

// Every handler failure reaches the Endpoint's logger exactly once; a panic
// once, with its stack.
func TestHandlerFailuresAreLoggedOnce(t *testing.T) {
	for name, h := range map[string]func() error{
		"error": func() error { return errors.New("booking database unavailable") },
		"panic": func() error { panic("nil booking") },
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return h() })
			ep := newStripeEndpoint(t, r, dispatch.WithLogger(logger))
			status, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_logged_"+name)))
			if status != 500 {
				t.Fatalf("status: got %d, want 500", status)
			}

			var failures []map[string]any
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatal(err)
				}
				if rec["id"] == "evt_logged_"+name {
					failures = append(failures, rec)
				}
			}
			if len(failures) != 1 {
				t.Fatalf("one line for the failed delivery:\n%s: got %d items, want %d: %v", logs.String(), len(failures), 1, failures)
			}
			rec := failures[0]
			if rec["outcome"] != "failed" {
				t.Errorf("rec[\"outcome\"]: got %v, want %v", rec["outcome"], "failed")
			}
			want := map[string]string{"error": "booking database unavailable", "panic": "nil booking"}[name]
			if got, _ := rec["error"].(string); !strings.Contains(got, want) {
				t.Errorf("the line's error: got %q, want it to contain %q", got, want)
			}
			if name == "panic" {
				if rec["level"] != "ERROR" {
					t.Errorf("rec[\"level\"]: got %v, want %v", rec["level"], "ERROR")
				}
				if got, _ := rec["stack"].(string); !strings.Contains(got, "runtime/debug.Stack") {
					t.Errorf("the line's stack: got %q, want it to contain %q", got, "runtime/debug.Stack")
				}
			} else {
				if rec["level"] != "WARN" {
					t.Errorf("rec[\"level\"]: got %v, want %v", rec["level"], "WARN")
				}
			}
		})
	}
}

// An option that would break every delivery is refused at construction,
// naming the option, instead of answering 500 (WithTimeout(0)) or 200 then
// 409 forever (WithKeep(0)).
func TestOptionsAreValidated(t *testing.T) {
	v, err := verify.NewStripe(stripeSecret)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		option string
		opt    dispatch.Option
	}{
		{"WithTimeout", dispatch.WithTimeout(0)},
		{"WithTimeout", dispatch.WithTimeout(-time.Second)},
		{"WithKeep", dispatch.WithKeep(0)},
		{"WithLease", dispatch.WithLease(0)},
		{"WithReadTimeout", dispatch.WithReadTimeout(0)},
		{"WithMaxBodyBytes", dispatch.WithMaxBodyBytes(0)},
		{"WithRetryAfter", dispatch.WithRetryAfter(0)},
		{"WithStore", dispatch.WithStore(nil)},
		{"WithLogger", dispatch.WithLogger(nil)},
		{"WithDeadLetters", dispatch.WithDeadLetters(nil)},
		{"WithArchive", dispatch.WithArchive(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.option, func(t *testing.T) {
			_, err := dispatch.NewEndpointSafely(v, stripeevent.NewParser(), dispatch.NewRouter(), tt.opt)
			if !errors.Is(err, dispatch.ErrInvalidConfig) {
				t.Fatalf("err: got %v, want %v", err, dispatch.ErrInvalidConfig)
			}
			if got := err.Error(); !strings.Contains(got, tt.option) {
				t.Errorf("err.Error(): got %q, want it to contain %q", got, tt.option)
			}
			func() {
				defer func() {
					if p, _ := recover().(error); p == nil || p.Error() != err.Error() {
						t.Errorf("NewEndpoint panicked with %v, want New's error %q", p, err)
					}
				}()
				dispatch.NewEndpoint(v, stripeevent.NewParser(), dispatch.NewRouter(), tt.opt)
			}()
		})
	}
	_, err = dispatch.NewEndpointSafely(v, stripeevent.NewParser(), dispatch.NewRouter(), dispatch.WithTimeout(time.Minute), dispatch.WithLease(30*time.Second))
	if !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Fatalf("a lease shorter than the handler timeout: got %v, want %v", err, dispatch.ErrInvalidConfig)
	}
	_, err = dispatch.NewEndpointSafely(nil, stripeevent.NewParser(), dispatch.NewRouter())
	if !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Fatalf("no verifier: got %v, want %v", err, dispatch.ErrInvalidConfig)
	}
}

// A log line never carries a raw control character from a request: not
// U+0085 or U+009B (which JSON encoders pass through), not from the event
// type, its ID or the target. Before, an event type holding them was
// accepted and logged raw.
func TestLogsCarryNoRawControlCharacters(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ep := newStripeEndpoint(t, dispatch.NewRouter(), dispatch.WithLogger(logger))
	for _, body := range []string{
		`{"id":"evt_c1","type":"payment_intent.\u0085succeeded","data":{"object":{}}}`,
		`{"id":"evt_\u009b2J","type":"payment_intent.succeeded","data":{"object":{}}}`,
		`{"id":"evt_nel\u2028","type":"x","data":{"object":{}}}`,
	} {
		status, _ := deliver(ep, signed([]byte(body)))
		if status != 400 {
			t.Errorf("status for %s: got %d, want 400", body, status)
		}
	}
	req := signed([]byte(`{"id":"evt_ok","type":"unknown.type","data":{"object":{}}}`))
	req.URL.Path += "\u0085\u009b"
	deliver(ep, req)
	if got := logs.String(); got == "" {
		t.Fatalf("logs.String(): got empty, want a value")
	}
	for _, raw := range []string{"\u0085", "\u009b", "\u2028"} {
		if got := logs.String(); strings.Contains(got, raw) {
			t.Errorf("logs.String(): got %q, want it not to contain %q", got, raw)
		}
	}
}

// tagWriter is middleware's writer as a value holding a slice: a type
// that cannot be a map key, which sets read deadlines through the writer
// it wraps.
type tagWriter struct {
	http.ResponseWriter
	tags []string
}

func (w tagWriter) SetReadDeadline(t time.Time) error {
	return http.NewResponseController(w.ResponseWriter).SetReadDeadline(t)
}

// outerWriter is a second middleware's writer, a comparable type holding
// the first's uncomparable one.
type outerWriter struct{ http.ResponseWriter }

func (w outerWriter) SetReadDeadline(t time.Time) error {
	return w.ResponseWriter.(interface{ SetReadDeadline(time.Time) error }).SetReadDeadline(t)
}

// A delivery through a writer that cannot be a map key (its type, or the
// value it holds) is served as any other: its body read is bounded and
// interruptible all the same.
func TestWriterThatIsNotComparable(t *testing.T) {
	for name, wrap := range map[string]func(http.ResponseWriter) http.ResponseWriter{
		"its type": func(w http.ResponseWriter) http.ResponseWriter {
			return tagWriter{ResponseWriter: w, tags: []string{"mw"}}
		},
		"the value it holds": func(w http.ResponseWriter) http.ResponseWriter {
			return outerWriter{tagWriter{ResponseWriter: w, tags: []string{"mw"}}}
		},
	} {
		t.Run(name, func(t *testing.T) { testWriterThatIsNotComparable(t, wrap) })
	}
}

func testWriterThatIsNotComparable(t *testing.T, wrap func(http.ResponseWriter) http.ResponseWriter) {
	ep := newStripeEndpoint(t, dispatch.NewRouter())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ep.ServeHTTP(wrap(w), r)
	}))
	t.Cleanup(srv.Close)
	body := []byte(`{"id":"evt_tag","object":"event","type":"payment_intent.succeeded","created":` +
		strconv.FormatInt(time.Now().Unix(), 10) + `,"data":{"object":{"id":"pi_tag"}}}`)
	signed := verifytest.NewRequest(verifytest.Stripe{Secret: stripeSecret}, "/", body)
	req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = signed.Header
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("the delivery got no answer: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200 (an unknown type is acknowledged)", res.StatusCode)
	}
}
