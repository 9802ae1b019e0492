package verify_test

// Differential tests: hookkit's verifiers against the providers' official
// SDKs, in both directions. What an SDK signs hookkit accepts, what hookkit's
// verifytest signs the SDK accepts, and for every single-byte mutation of
// body, header, secret, timestamp or URL the two make the same decision,
// hookkit's error wrapping the sentinel that matches the SDK's reason.
// The only divergences allowed are the ones the verifiers document.

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76/webhook"
	twilioclient "github.com/twilio/twilio-go/client"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// The SDKs read time.Now themselves, so differential cases keep timestamps
// well away from the tolerance boundary (tests run in well under a minute).
const boundaryMargin = 60 * time.Second

// stripeEventBody is the payment_intent.succeeded fixture compacted: a
// 1.5 KiB Stripe event as the benchmarks use it.
func stripeEventBody(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile("../testdata/stripe/payment_intent.succeeded.json")
	require.NoError(tb, err)
	var buf bytes.Buffer
	require.NoError(tb, json.Compact(&buf, raw))
	return buf.Bytes()
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
// for long inputs such as a 1.5 KiB body.
func flips(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = append([]byte(nil), b...)
		out[i][i] ^= 1
	}
	return out
}

// --- Stripe ---------------------------------------------------------------

// stripeAgree checks hookkit's decision on (header, body, secret) against
// stripe-go's ValidatePayloadWithTolerance.
func stripeAgree(t *testing.T, header string, body []byte, secret string) {
	t.Helper()
	v, err := verify.NewStripe(secret)
	if secret == "" || strings.HasPrefix(secret, "sk_") || strings.HasPrefix(secret, "rk_") || strings.HasPrefix(secret, "pk_") {
		require.ErrorIs(t, err, verify.ErrInvalidConfig)
		return
	}
	require.NoError(t, err)
	sdkErr := webhook.ValidatePayloadWithTolerance(body, header, secret, webhook.DefaultTolerance)
	ours := v.VerifyHeader(header, body)
	checkStripeDecision(t, header, ours, sdkErr)
}

func checkStripeDecision(t *testing.T, header string, ours, sdkErr error) {
	t.Helper()
	if ours != nil {
		var verr *verify.Error
		require.True(t, errors.As(ours, &verr), "every rejection is a *verify.Error: %v", ours)
	}
	// Documented differences: bounded headers, and a one-sided SDK tolerance.
	if len(header) > 8<<10 || strings.Count(header, ",") >= 64 {
		require.ErrorIs(t, ours, verify.ErrMalformedSignature, "header %.80q", header)
		return
	}
	if sdkErr == nil && errors.Is(ours, verify.ErrTimestampTooNew) {
		return
	}
	switch {
	case sdkErr == nil:
		require.NoError(t, ours, "stripe-go accepts %q", header)
	case errors.Is(sdkErr, webhook.ErrNotSigned):
		require.ErrorIs(t, ours, verify.ErrMissingSignature)
	case errors.Is(sdkErr, webhook.ErrInvalidHeader):
		require.ErrorIs(t, ours, verify.ErrMalformedSignature, "header %q", header)
	case errors.Is(sdkErr, webhook.ErrTooOld):
		// stripe-go reads a missing t as the zero time, always too old;
		// hookkit calls that header malformed.
		require.True(t, errors.Is(ours, verify.ErrTimestampTooOld) || errors.Is(ours, verify.ErrMalformedSignature),
			"stripe-go: too old; hookkit: %v (header %q)", ours, header)
	case errors.Is(sdkErr, webhook.ErrNoValidSignature):
		// stripe-go uses one error for "no v1 entry" and "no match", and
		// never checks the future, which hookkit does before the MAC.
		require.True(t, errors.Is(ours, verify.ErrSignatureMismatch) || errors.Is(ours, verify.ErrMissingSignature) ||
			errors.Is(ours, verify.ErrTimestampTooNew),
			"stripe-go: no valid signature; hookkit: %v (header %q)", ours, header)
	default:
		t.Fatalf("unexpected stripe-go error %v", sdkErr)
	}
}

func TestStripeDifferential(t *testing.T) {
	bodies := map[string][]byte{
		"event":     stripeEventBody(t),
		"empty":     {},
		"non-ascii": []byte(`{"description":"Réservation 12345 — café ☕"}`),
	}
	secrets := []string{"whsec_7Ia0BzN4YzqU1yJ3d2mWfKxL9pQeRt8s", "whsec_x"}
	offsets := []time.Duration{0, -4 * time.Minute, 4 * time.Minute, -6 * time.Minute, 6 * time.Minute, -48 * time.Hour}
	for name, body := range bodies {
		for _, secret := range secrets {
			for _, off := range offsets {
				t.Run(fmt.Sprintf("%s/%s/%s", name, secret[:7], off), func(t *testing.T) {
					at := time.Now().Add(off)
					signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at})
					// SDK signs, both verify.
					stripeAgree(t, signed.Header, body, secret)
					// hookkit's signer signs, the SDK agrees.
					ourHeader := verifytest.Stripe{Secret: secret, Time: at}.Header(body)
					require.Equal(t, signed.Header, ourHeader)
					if off > -time.Minute {
						require.NoError(t, webhook.ValidatePayloadWithTolerance(body, ourHeader, secret, webhook.DefaultTolerance))
					}
					for _, b := range flips(body) {
						stripeAgree(t, signed.Header, b, secret)
					}
					for _, h := range mutations([]byte(signed.Header), ",=0aftv1 x+-") {
						stripeAgree(t, string(h), body, secret)
					}
					for _, s := range mutations([]byte(secret), "_a") {
						stripeAgree(t, signed.Header, body, string(s))
					}
				})
			}
		}
	}
}

func TestStripeDifferentialTimestamps(t *testing.T) {
	const secret = "whsec_timestamps"
	body := []byte(`{"id":"evt_ts"}`)
	now := time.Now().Unix()
	tolerance := int64(webhook.DefaultTolerance / time.Second)
	margin := int64(boundaryMargin / time.Second)
	for _, ts := range []int64{now, now - 1, now + 1, now - tolerance + margin, now - tolerance - margin,
		now + tolerance - margin, now + tolerance + margin, 0, -1, 1 << 40, -(1 << 40), 1<<63 - 1, -1 << 63} {
		sig := webhook.ComputeSignature(time.Unix(ts, 0), body, secret)
		for _, text := range []string{strconv.FormatInt(ts, 10), "+" + strconv.FormatInt(ts, 10), "0" + strconv.FormatInt(ts, 10)} {
			header := fmt.Sprintf("t=%s,v1=%x", text, sig)
			t.Run(header[:min(len(header), 30)], func(t *testing.T) { stripeAgree(t, header, body, secret) })
		}
	}
}

// --- Standard Webhooks ----------------------------------------------------

func standardAgree(t *testing.T, id, ts, sig string, body []byte, secret string) {
	t.Helper()
	wh, sdkCfgErr := standardwebhooks.NewWebhook(secret)
	v, cfgErr := verify.NewStandard(secret)
	if sdkCfgErr != nil || cfgErr != nil {
		// hookkit also refuses secrets that decode to nothing.
		require.Error(t, cfgErr, "the reference library refuses secret %q", secret)
		require.ErrorIs(t, cfgErr, verify.ErrInvalidConfig)
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
		require.True(t, errors.As(ours, &verr))
	}
	if len(sig) > 8<<10 || strings.Count(sig, " ") >= 64 {
		require.ErrorIs(t, ours, verify.ErrMalformedSignature)
		return
	}
	switch {
	case sdkErr == nil:
		require.NoError(t, ours, "the reference library accepts id=%q ts=%q sig=%q", id, ts, sig)
	case errors.Is(sdkErr, standardwebhooks.ErrRequiredHeaders):
		require.ErrorIs(t, ours, verify.ErrMissingSignature)
	case errors.Is(sdkErr, standardwebhooks.ErrInvalidHeaders):
		require.ErrorIs(t, ours, verify.ErrMalformedSignature)
	case errors.Is(sdkErr, standardwebhooks.ErrMessageTooOld):
		require.ErrorIs(t, ours, verify.ErrTimestampTooOld)
	case errors.Is(sdkErr, standardwebhooks.ErrMessageTooNew):
		require.ErrorIs(t, ours, verify.ErrTimestampTooNew)
	case errors.Is(sdkErr, standardwebhooks.ErrNoMatchingSignature):
		require.True(t, errors.Is(ours, verify.ErrSignatureMismatch) || errors.Is(ours, verify.ErrMissingSignature),
			"reference: no match; hookkit: %v (sig %q)", ours, sig)
	default:
		t.Fatalf("unexpected reference error %v", sdkErr)
	}
}

func TestStandardDifferential(t *testing.T) {
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	body := []byte(`{"type":"booking.confirmed","timestamp":"2026-11-23T08:00:00Z","data":{"booking_id":"12345","client_phone":"+15551234567"}}`)
	for _, secret := range []string{standardSecret, strings.TrimPrefix(standardSecret, "whsec_")} {
		for _, off := range []time.Duration{0, -4 * time.Minute, 4 * time.Minute, -6 * time.Minute, 6 * time.Minute} {
			t.Run(fmt.Sprintf("%s/%s", secret[:6], off), func(t *testing.T) {
				at := time.Now().Add(off)
				wh, err := standardwebhooks.NewWebhook(secret)
				require.NoError(t, err)
				sig, err := wh.Sign(id, at, body)
				require.NoError(t, err)
				ts := strconv.FormatInt(at.Unix(), 10)
				standardAgree(t, id, ts, sig, body, secret)

				ours, err := verifytest.Standard{Secret: secret, ID: id, Time: at}.Headers(body)
				require.NoError(t, err)
				require.Equal(t, sig, ours.Get("webhook-signature"))
				if off.Abs() < time.Minute {
					require.NoError(t, wh.Verify(body, ours))
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
		require.ErrorIs(t, cfgErr, verify.ErrInvalidConfig)
		return
	}
	require.NoError(t, cfgErr)
	rv := twilioclient.NewRequestValidator(c.token)
	sdkOK := rv.ValidateBody(c.url(), c.body, c.sig)
	ours := v.Verify(c.request(), c.body)
	if ours != nil {
		require.Equal(t, http.StatusForbidden, verify.StatusCode(ours))
	}
	if len(c.sig) > 256 {
		require.ErrorIs(t, ours, verify.ErrMalformedSignature)
		return
	}
	if sdkOK {
		require.NoError(t, ours, "twilio-go accepts %s with body %q", c.url(), c.body)
	} else {
		require.Error(t, ours, "twilio-go rejects %s with body %q sig %q", c.url(), c.body, c.sig)
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
				require.True(t, rv.ValidateBody(c.url(), body, c.sig), "twilio-go accepts what verifytest signs")
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
	require.True(t, rv.ValidateBody(c.url(), body, c.sig))
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
