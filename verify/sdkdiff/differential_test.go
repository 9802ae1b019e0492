package sdkdiff_test

// Differential tests: hookkit's Twilio and Standard Webhooks verifiers
// against twilio-go and the Standard Webhooks reference library, in both
// directions. What a library signs hookkit accepts, what hookkit's
// verifytest signs the library accepts, and for every single-byte mutation
// of body, header, secret, timestamp or URL the two make the same decision,
// hookkit's error wrapping the sentinel that matches the library's reason.
// The only divergences allowed are the ones the verifiers document.

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	twilioclient "github.com/twilio/twilio-go/client"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// The libraries read time.Now themselves, so differential cases keep
// timestamps well away from the tolerance boundary (tests run in well
// under a minute).
const boundaryMargin = 60 * time.Second

const standardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// The vectors Twilio's SDKs share in their test suites: auth token 12345
// and these parameters.
const twilioToken = "12345"

var twilioParams = url.Values{
	"Digits":                {"1234"},
	"CallSid":               {"CA1234567890ABCDE"},
	"To":                    {"+18005551212"},
	"Caller":                {"+14158675309"},
	"From":                  {"+14158675309"},
	"ReasonConferenceEnded": {"test"},
	"Reason":                {"Participant"},
}

// mutations returns every single-byte variant of b: each byte replaced by
// each of replacements (and by itself with its low bit flipped), deleted,
// and duplicated.
func mutations(b []byte, replacements string) [][]byte {
	var out [][]byte
	for i := range b {
		for _, c := range append([]byte(replacements), b[i]^1) {
			if c == b[i] {
				continue
			}
			m := append([]byte(nil), b...)
			m[i] = c
			out = append(out, m)
		}
		out = append(out, append(append([]byte(nil), b[:i]...), b[i+1:]...))
		out = append(out, append(append(append([]byte(nil), b[:i+1]...), b[i]), b[i+1:]...))
	}
	return out
}

// flips returns b with each byte's low bit flipped in turn: the mutation set
// for long inputs such as a JSON body.
func flips(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = append([]byte(nil), b...)
		out[i][i] ^= 1
	}
	return out
}

// --- Standard Webhooks ----------------------------------------------------

func standardAgree(t *testing.T, id, ts, sig string, body []byte, secret string) {
	t.Helper()
	wh, sdkCfgErr := standardwebhooks.NewWebhook(secret)
	v, cfgErr := verify.NewStandard(secret)
	if sdkCfgErr != nil || cfgErr != nil {
		// hookkit also refuses secrets that decode to nothing.
		if !errors.Is(cfgErr, verify.ErrInvalidConfig) {
			t.Fatalf("secret %q: the reference library says %v; hookkit: %v, want %v", secret, sdkCfgErr, cfgErr, verify.ErrInvalidConfig)
		}
		return
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", sig)
	sdkErr := wh.Verify(body, h)
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header = h
	ours := v.Verify(r, body)
	if ours != nil {
		var verr *verify.Error
		if !errors.As(ours, &verr) {
			t.Fatalf("every rejection is a *verify.Error: got %T %v", ours, ours)
		}
	}
	if len(sig) > 8<<10 || strings.Count(sig, " ") >= 64 {
		if !errors.Is(ours, verify.ErrMalformedSignature) {
			t.Fatalf("sig %.80q: got %v, want %v", sig, ours, verify.ErrMalformedSignature)
		}
		return
	}
	var want []error // hookkit's error must wrap one of these
	switch {
	case sdkErr == nil:
		if ours != nil {
			t.Fatalf("the reference library accepts id=%q ts=%q sig=%q; hookkit: %v", id, ts, sig, ours)
		}
		return
	case errors.Is(sdkErr, standardwebhooks.ErrRequiredHeaders):
		want = []error{verify.ErrMissingSignature}
	case errors.Is(sdkErr, standardwebhooks.ErrInvalidHeaders):
		want = []error{verify.ErrMalformedSignature}
	case errors.Is(sdkErr, standardwebhooks.ErrMessageTooOld):
		want = []error{verify.ErrTimestampTooOld}
	case errors.Is(sdkErr, standardwebhooks.ErrMessageTooNew):
		want = []error{verify.ErrTimestampTooNew}
	case errors.Is(sdkErr, standardwebhooks.ErrNoMatchingSignature):
		want = []error{verify.ErrSignatureMismatch, verify.ErrMissingSignature}
	default:
		t.Fatalf("unexpected reference error %v", sdkErr)
	}
	if !isAny(ours, want) {
		t.Fatalf("reference: %v; hookkit: %v, want one of %v (id=%q ts=%q sig=%q)", sdkErr, ours, want, id, ts, sig)
	}
}

// isAny reports whether err wraps one of targets.
func isAny(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func TestStandardDifferential(t *testing.T) {
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	body := []byte(`{"type":"booking.confirmed","timestamp":"2026-11-23T08:00:00Z","data":{"booking_id":"12345","client_phone":"+15551234567"}}`)
	for _, secret := range []string{standardSecret, strings.TrimPrefix(standardSecret, "whsec_")} {
		for _, off := range []time.Duration{0, -4 * time.Minute, 4 * time.Minute, -6 * time.Minute, 6 * time.Minute} {
			t.Run(fmt.Sprintf("%s/%s", secret[:6], off), func(t *testing.T) {
				at := time.Now().Add(off)
				wh, err := standardwebhooks.NewWebhook(secret)
				if err != nil {
					t.Fatal(err)
				}
				sig, err := wh.Sign(id, at, body)
				if err != nil {
					t.Fatal(err)
				}
				ts := strconv.FormatInt(at.Unix(), 10)
				standardAgree(t, id, ts, sig, body, secret)

				ours, err := verifytest.Standard{Secret: secret, ID: id, Time: at}.Headers(body)
				if err != nil {
					t.Fatal(err)
				}
				if got := ours.Get("webhook-signature"); got != sig {
					t.Fatalf("verifytest signs %q, want the reference library's %q", got, sig)
				}
				if off.Abs() < time.Minute {
					if err := wh.Verify(body, ours); err != nil {
						t.Fatalf("the reference library rejects what verifytest signs: %v", err)
					}
				}

				for _, b := range flips(body) {
					standardAgree(t, id, ts, sig, b, secret)
				}
				for _, m := range mutations([]byte(sig), " ,v12+/=A") {
					standardAgree(t, id, ts, string(m), body, secret)
				}
				for _, m := range mutations([]byte(id), "._ ") {
					standardAgree(t, string(m), ts, sig, body, secret)
				}
				for _, m := range mutations([]byte(ts), "0+- a") {
					standardAgree(t, id, string(m), sig, body, secret)
				}
				for _, m := range mutations([]byte(secret), "_=A+") {
					standardAgree(t, id, ts, sig, body, string(m))
				}
				standardAgree(t, id, ts, "v1,"+strings.Repeat("A", 43)+"= "+sig, body, secret)
				standardAgree(t, id, ts, sig+",trailing", body, secret)
			})
		}
	}
}

// --- Twilio ---------------------------------------------------------------

// twilioCase is a request as Twilio sends it, split the way a server sees it.
type twilioCase struct {
	scheme, host, target string
	body                 []byte
	sig, token           string
}

func (c twilioCase) url() string { return c.scheme + "://" + c.host + c.target }

func (c twilioCase) request() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(c.body))
	r.Host, r.RequestURI = c.host, c.target
	if c.scheme == "https" {
		r.TLS = &tls.ConnectionState{}
	}
	r.Header.Set("X-Twilio-Signature", c.sig)
	return r
}

// twilioUniqueKeys reports whether body is a form without repeated names:
// twilio-go signs only the first value of a name, Twilio every distinct
// value, so only unique names are comparable.
func twilioUniqueKeys(body []byte) bool {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return true
	}
	for _, vs := range form {
		if len(vs) > 1 {
			return false
		}
	}
	return true
}

func twilioAgree(t *testing.T, c twilioCase) {
	t.Helper()
	v, cfgErr := verify.NewTwilio(c.token)
	if c.token == "" {
		if !errors.Is(cfgErr, verify.ErrInvalidConfig) {
			t.Fatalf("an empty token: got %v, want %v", cfgErr, verify.ErrInvalidConfig)
		}
		return
	}
	if cfgErr != nil {
		t.Fatalf("token %q: %v", c.token, cfgErr)
	}
	rv := twilioclient.NewRequestValidator(c.token)
	sdkOK := rv.ValidateBody(c.url(), c.body, c.sig)
	ours := v.Verify(c.request(), c.body)
	if ours != nil {
		if got := verify.StatusCode(ours); got != http.StatusForbidden {
			t.Fatalf("StatusCode(%v): got %d, want %d", ours, got, http.StatusForbidden)
		}
	}
	if len(c.sig) > 256 {
		if !errors.Is(ours, verify.ErrMalformedSignature) {
			t.Fatalf("a %d-byte signature: got %v, want %v", len(c.sig), ours, verify.ErrMalformedSignature)
		}
		return
	}
	if sdkOK && ours != nil {
		t.Fatalf("twilio-go accepts %s with body %q; hookkit: %v", c.url(), c.body, ours)
	}
	if !sdkOK && ours == nil {
		t.Fatalf("twilio-go rejects %s with body %q sig %q; hookkit accepts", c.url(), c.body, c.sig)
	}
}

func TestTwilioDifferential(t *testing.T) {
	forms := []url.Values{
		twilioParams,
		{"MessageSid": {"SM7f3a"}, "MessageStatus": {"delivered"}, "ErrorCode": {""}, "Body": {"50% off + free café ☕ & more=yes"}},
		{},
	}
	targets := []struct{ scheme, host, target string }{
		{"https", "mycompany.com", "/myapp.php?foo=1&bar=2"},
		{"https", "example.com:8443", "/twilio/sms?x=%20y"},
		{"http", "localhost:8080", "/cb"},
		{"http", "example.com", "/a/b"},
	}
	for fi, form := range forms {
		for _, tg := range targets {
			t.Run(fmt.Sprintf("form%d%s%s", fi, tg.host, tg.target), func(t *testing.T) {
				body := []byte(form.Encode())
				c := twilioCase{scheme: tg.scheme, host: tg.host, target: tg.target, body: body, token: twilioToken}
				c.sig = verifytest.Twilio{AuthToken: twilioToken}.Signature(c.url(), form)
				rv := twilioclient.NewRequestValidator(twilioToken)
				if !rv.ValidateBody(c.url(), body, c.sig) {
					t.Fatalf("twilio-go rejects what verifytest signs: %s %q sig %q", c.url(), body, c.sig)
				}
				twilioAgree(t, c)

				for _, b := range mutations(body, "=&%+;a") {
					if twilioUniqueKeys(b) {
						m := c
						m.body = b
						twilioAgree(t, m)
					}
				}
				for _, s := range mutations([]byte(c.sig), "+/=A") {
					m := c
					m.sig = string(s)
					twilioAgree(t, m)
				}
				for _, u := range mutations([]byte(tg.target), "/?&=%a") {
					m := c
					m.target = string(u)
					if !strings.HasPrefix(m.target, "/") {
						continue // not a request target a server would hand over
					}
					twilioAgree(t, m)
				}
				for _, h := range mutations([]byte(tg.host), ":.a1") {
					m := c
					m.host = string(h)
					if strings.ContainsAny(m.host, "/?#@[]") {
						continue
					}
					twilioAgree(t, m)
				}
				for _, tok := range mutations([]byte(twilioToken), "a") {
					m := c
					m.token = string(tok)
					twilioAgree(t, m)
				}
			})
		}
	}
}

func TestTwilioDifferentialJSON(t *testing.T) {
	body := []byte(`{"MessageSid":"SM7f3a","MessageStatus":"undelivered","ErrorCode":"30003"}`)
	r := verifytest.NewRequest(verifytest.Twilio{AuthToken: twilioToken}, "https://example.com/sms/status?site=7", body)
	c := twilioCase{scheme: "https", host: "example.com", target: r.URL.RequestURI(), body: body,
		sig: r.Header.Get("X-Twilio-Signature"), token: twilioToken}
	rv := twilioclient.NewRequestValidator(twilioToken)
	if !rv.ValidateBody(c.url(), body, c.sig) {
		t.Fatalf("twilio-go rejects what verifytest signs: %s %q sig %q", c.url(), body, c.sig)
	}
	twilioAgree(t, c)
	for _, b := range flips(body) {
		m := c
		m.body = b
		twilioAgree(t, m)
	}
	for _, u := range mutations([]byte(c.target), "0aF&=") {
		m := c
		m.target = string(u)
		twilioAgree(t, m)
	}
}
