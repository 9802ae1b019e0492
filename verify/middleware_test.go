package verify_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// recordingHandler records whether it ran and what body it read, twice.
type recordingHandler struct {
	called      bool
	first, next []byte
}

func (h *recordingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.called = true
	h.first, _ = io.ReadAll(r.Body)
	if r.GetBody != nil {
		rc, _ := r.GetBody()
		h.next, _ = io.ReadAll(rc)
	}
	w.WriteHeader(http.StatusNoContent)
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestMiddleware(t *testing.T) {
	const secret = "whsec_mw"
	stripe, err := verify.NewStripe(secret)
	if err != nil {
		t.Fatal(err)
	}
	twilio, err := verify.NewTwilio("tok")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"evt_mw","type":"charge.refunded"}`)
	form := []byte(url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"failed"}}.Encode())

	tests := []struct {
		name     string
		v        verify.Verifier
		opts     []verify.MiddlewareOption
		req      func() *http.Request
		status   int
		wantNext bool
		wantBody []byte
	}{
		{"signed", stripe, nil, func() *http.Request {
			return verifytest.NewRequest(verifytest.Stripe{Secret: secret}, "/hook", body)
		}, http.StatusNoContent, true, body},
		{"unsigned", stripe, nil, func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		}, http.StatusBadRequest, false, nil},
		{"twilio forged answers 403", twilio, nil, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "https://example.com/sms", bytes.NewReader(form))
			r.Header.Set("X-Twilio-Signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
			return r
		}, http.StatusForbidden, false, nil},
		{"twilio signed", twilio, nil, func() *http.Request {
			return verifytest.NewRequest(verifytest.Twilio{AuthToken: "tok"}, "https://example.com/sms", form)
		}, http.StatusNoContent, true, form},
		{"over the limit with Content-Length", stripe, []verify.MiddlewareOption{verify.WithMaxBodyBytes(16)}, func() *http.Request {
			return verifytest.NewRequest(verifytest.Stripe{Secret: secret}, "/hook", body)
		}, http.StatusRequestEntityTooLarge, false, nil},
		{"over the limit, chunked", stripe, []verify.MiddlewareOption{verify.WithMaxBodyBytes(16)}, func() *http.Request {
			r := verifytest.NewRequest(verifytest.Stripe{Secret: secret}, "/hook", body)
			r.ContentLength = -1
			r.Body = io.NopCloser(bytes.NewReader(body))
			return r
		}, http.StatusRequestEntityTooLarge, false, nil},
		{"exactly at the limit", stripe, []verify.MiddlewareOption{verify.WithMaxBodyBytes(int64(len(body)))}, func() *http.Request {
			r := verifytest.NewRequest(verifytest.Stripe{Secret: secret}, "/hook", body)
			r.ContentLength = -1
			return r
		}, http.StatusNoContent, true, body},
		{"unreadable body", stripe, nil, func() *http.Request {
			r := verifytest.NewRequest(verifytest.Stripe{Secret: secret}, "/hook", body)
			r.Body = io.NopCloser(failingReader{})
			return r
		}, http.StatusBadRequest, false, nil},
		{"custom error handler", stripe, []verify.MiddlewareOption{verify.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, verify.ErrMissingSignature) {
				w.WriteHeader(http.StatusUnauthorized)
			}
		})}, func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		}, http.StatusUnauthorized, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &recordingHandler{}
			rec := httptest.NewRecorder()
			verify.Middleware(tt.v, tt.opts...)(next).ServeHTTP(rec, tt.req())
			if rec.Code != tt.status {
				t.Errorf("status: got %d, want %d", rec.Code, tt.status)
			}
			if next.called != tt.wantNext {
				t.Errorf("next called: got %v, want %v", next.called, tt.wantNext)
			}
			if tt.wantNext {
				if !bytes.Equal(next.first, tt.wantBody) {
					t.Errorf("next reads the verified body: got %q, want %q", next.first, tt.wantBody)
				}
				if !bytes.Equal(next.next, tt.wantBody) {
					t.Errorf("GetBody returns it again: got %q, want %q", next.next, tt.wantBody)
				}
			} else if rec.Code != http.StatusUnauthorized {
				if got := rec.Header().Get("Content-Type"); got != "application/json" {
					t.Errorf("Content-Type: got %q, want %q", got, "application/json")
				}
				if strings.Contains(rec.Body.String(), "whsec") {
					t.Errorf("the answer quotes the secret: %s", rec.Body)
				}
			}
		})
	}
}

func TestReadBody(t *testing.T) {
	b, err := verify.ReadBody(nil, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("abc")), 3)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "abc" {
		t.Errorf("got %q, want %q", b, "abc")
	}

	_, err = verify.ReadBody(nil, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("abcd")), 3)
	if !errors.Is(err, verify.ErrBodyTooLarge) {
		t.Fatalf("one byte over the limit: got %v, want %v", err, verify.ErrBodyTooLarge)
	}
	if got := verify.StatusCode(err); got != http.StatusRequestEntityTooLarge {
		t.Errorf("StatusCode: got %d, want %d", got, http.StatusRequestEntityTooLarge)
	}

	r := httptest.NewRequest(http.MethodPost, "/", nil)
	b, err = verify.ReadBody(nil, r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 0 {
		t.Errorf("no body: got %q, want none", b)
	}

	big := bytes.Repeat([]byte("x"), verify.DefaultMaxBodyBytes+1)
	r = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(big))
	r.ContentLength = -1
	_, err = verify.ReadBody(httptest.NewRecorder(), r, 0)
	if !errors.Is(err, verify.ErrBodyTooLarge) {
		t.Fatalf("the default limit is 1 MiB: got %v, want %v", err, verify.ErrBodyTooLarge)
	}
}

// Middleware and the verifiers share one Option type; each refuses the
// options that are not its own, and invalid values, at construction.
func TestMiddlewareOptionsAreValidated(t *testing.T) {
	v, err := verify.NewStripe("whsec_x")
	if err != nil {
		t.Fatal(err)
	}
	for name, opt := range map[string]verify.Option{
		"WithMaxBodyBytes(0)":   verify.WithMaxBodyBytes(0),
		"WithErrorHandler(nil)": verify.WithErrorHandler(nil),
		"a verifier's option":   verify.WithTolerance(time.Minute),
		"a verifier's secrets":  verify.WithSecrets("whsec_old"),
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			func() {
				defer func() { err, _ = recover().(error) }()
				verify.Middleware(v, opt)
			}()
			if !errors.Is(err, verify.ErrInvalidConfig) {
				t.Fatalf("Middleware panicked with %v, want %v", err, verify.ErrInvalidConfig)
			}
		})
	}
	_, err = verify.NewStripe("whsec_x", verify.WithMaxBodyBytes(1<<10))
	if !errors.Is(err, verify.ErrInvalidConfig) {
		t.Fatalf("a Middleware option given to a verifier: got %v, want %v", err, verify.ErrInvalidConfig)
	}
	if !strings.Contains(err.Error(), "WithMaxBodyBytes apply only to Middleware") {
		t.Errorf("the error does not say the option is Middleware's: %v", err)
	}
}

// MiddlewareSafely returns, as an error wrapping ErrInvalidConfig, what
// Middleware panics with.
func TestNewMiddlewareReturnsTheError(t *testing.T) {
	v, err := verify.NewHMAC([]byte("k"), "X-Sig")
	if err != nil {
		t.Fatal(err)
	}
	for name, build := range map[string]func() error{
		"nil verifier":         func() error { _, err := verify.MiddlewareSafely(nil); return err },
		"a verifier's option":  func() error { _, err := verify.MiddlewareSafely(v, verify.WithTolerance(time.Minute)); return err },
		"a non-positive limit": func() error { _, err := verify.MiddlewareSafely(v, verify.WithMaxBodyBytes(0)); return err },
	} {
		if err := build(); !errors.Is(err, verify.ErrInvalidConfig) {
			t.Errorf("%s: got %v, want %v", name, err, verify.ErrInvalidConfig)
		}
	}
	mw, err := verify.MiddlewareSafely(v, verify.WithMaxBodyBytes(10))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mw(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("more than ten bytes")))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status: got %d, want %d", rec.Code, http.StatusRequestEntityTooLarge)
	}
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		verify.Middleware(nil)
		return false
	}()
	if !panicked {
		t.Error("Middleware(nil) did not panic")
	}
}
