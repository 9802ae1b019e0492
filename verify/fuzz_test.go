package verify_test

// Fuzz targets: one per header parser, and differential targets that must
// make the same accept/reject decision as stripe-go (Stripe) or a plain
// crypto/hmac or crypto/ed25519 reference (generic HMAC, Standard Webhooks
// v1a). The Twilio and Standard Webhooks targets whose reference is the
// provider's SDK live in the test-only module verify/sdkdiff. Seed corpora
// live in testdata/fuzz/<target>; `go test` runs them, and
// `go test -run '^$' -fuzz FuzzX ./verify` explores further.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

var sentinels = []error{verify.ErrMissingSignature, verify.ErrMalformedSignature, verify.ErrSignatureMismatch,
	verify.ErrTimestampTooOld, verify.ErrTimestampTooNew}

// checkWellFormed checks the contract every rejection keeps: an *Error
// wrapping exactly one sentinel, with a message that names its scheme.
func checkWellFormed(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var verr *verify.Error
	if !errors.As(err, &verr) {
		t.Fatalf("not a *verify.Error: %T %v", err, err)
	}
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("wraps %d sentinels, want 1: %v", n, err)
	}
	if !strings.HasPrefix(err.Error(), verr.Scheme+": ") {
		t.Fatalf("the message does not start with its scheme %q: %v", verr.Scheme, err)
	}
}

// mutate applies one fuzzer-chosen edit: replace the byte at pos with b, or
// delete it when b is 0.
func mutate(s []byte, pos uint16, b byte) []byte {
	if len(s) == 0 {
		return append(s, b)
	}
	i := int(pos) % len(s)
	out := append([]byte(nil), s...)
	if b == 0 {
		return append(out[:i], out[i+1:]...)
	}
	out[i] = b
	return out
}

func FuzzStripeHeader(f *testing.F) {
	body := []byte(`{"id":"evt_fuzz"}`)
	const secret = "whsec_fuzz"
	now := time.Now()
	f.Add(webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: now}).Header)
	f.Add("t=1,v1=00,v0=ff")
	f.Add("v1=,t=")
	f.Add("t=9223372036854775807,v1=" + strings.Repeat("a", 64))
	f.Fuzz(func(t *testing.T, header string) {
		v, err := verify.NewStripe(secret)
		if err != nil {
			t.Fatal(err)
		}
		ours := v.VerifyHeader(header, body)
		checkWellFormed(t, ours)
		checkStripeDecision(t, header, ours, webhook.ValidatePayloadWithTolerance(body, header, secret, webhook.DefaultTolerance))
	})
}

func FuzzStripeDifferential(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1"}`), "whsec_abc", int64(0), uint8(0), uint16(0), byte(0))
	f.Add([]byte(`{}`), "whsec_abc", int64(-400), uint8(1), uint16(3), byte('9'))
	f.Add([]byte("x"), "s", int64(400), uint8(2), uint16(0), byte('y'))
	f.Add([]byte(`{"a":1}`), "whsec_k", int64(10), uint8(3), uint16(2), byte(0))
	f.Fuzz(func(t *testing.T, body []byte, secret string, offset int64, what uint8, pos uint16, b byte) {
		offset %= 3600
		if d := offset*int64(time.Second) - int64(webhook.DefaultTolerance); d > -int64(boundaryMargin) && d < int64(boundaryMargin) {
			return // too close to the SDK's own time.Now boundary
		}
		if d := offset*int64(time.Second) + int64(webhook.DefaultTolerance); d > -int64(boundaryMargin) && d < int64(boundaryMargin) {
			return
		}
		header := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
			Payload: body, Secret: secret, Timestamp: time.Now().Add(time.Duration(offset) * time.Second)}).Header
		switch what % 4 {
		case 1:
			header = string(mutate([]byte(header), pos, b))
		case 2:
			body = mutate(body, pos, b)
		case 3:
			secret = string(mutate([]byte(secret), pos, b))
		}
		stripeAgree(t, header, body, secret)
	})
}

func FuzzTwilioForm(f *testing.F) {
	f.Add([]byte("MessageSid=SM1&MessageStatus=delivered&ErrorCode="))
	f.Add([]byte("a=1&a=2&a=1&b=%2B&c=hello+world&d=Zo%C3%AB"))
	f.Add([]byte("x=%zz"))
	f.Add([]byte("x=1;y=2"))
	f.Add([]byte("&&=&=x&y"))
	f.Fuzz(func(t *testing.T, body []byte) {
		const target = "https://example.com/twilio"
		v, err := verify.NewTwilio(twilioToken)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		form, perr := url.ParseQuery(string(body))
		if perr != nil {
			r.Header.Set("X-Twilio-Signature", verifytest.Twilio{AuthToken: twilioToken}.Signature(target, form))
			err := v.Verify(r, body)
			if err == nil {
				t.Fatalf("net/url refuses %q (%v), so must hookkit; it accepts", body, perr)
			}
			checkWellFormed(t, err)
			return
		}
		r.Header.Set("X-Twilio-Signature", verifytest.Twilio{AuthToken: twilioToken}.Signature(target, form))
		if err := v.Verify(r, body); err != nil {
			t.Fatalf("form %q: got %v, want nil", body, err)
		}
	})
}

// The generic HMAC verifier has no SDK; its reference is crypto/hmac used
// the way GitHub documents X-Hub-Signature-256.
func FuzzHMACHeader(f *testing.F) {
	f.Add("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", []byte("Hello, World!"))
	f.Add("sha256=", []byte(""))
	f.Add("sha1=abc", []byte("x"))
	f.Add("sha256="+strings.Repeat("G", 64), []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		const secret = "It's a Secret to Everybody"
		v, err := verify.NewHMAC([]byte(secret), "X-Hub-Signature-256", verify.WithPrefix("sha256="))
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("X-Hub-Signature-256", header)
		ours := v.Verify(r, body)
		checkWellFormed(t, ours)

		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		want := m.Sum(nil)
		sent, ok := strings.CutPrefix(header, "sha256=")
		got, derr := hex.DecodeString(sent)
		accept := ok && derr == nil && hmac.Equal(got, want)
		if accept != (ours == nil) {
			t.Fatalf("header %q: crypto/hmac accepts: %v; hookkit: %v", header, accept, ours)
		}
	})
}

func FuzzHMACDifferential(f *testing.F) {
	f.Add([]byte(`{"id":"1"}`), []byte("secret"), int64(0), uint8(0), uint16(0), byte(0))
	f.Add([]byte(`{"id":"1"}`), []byte("secret"), int64(-400), uint8(1), uint16(9), byte('A'))
	f.Add([]byte(`{"id":"1"}`), []byte("secret"), int64(20), uint8(2), uint16(2), byte('x'))
	f.Add([]byte(`{"id":"1"}`), []byte("secret"), int64(20), uint8(3), uint16(0), byte('9'))
	f.Fuzz(func(t *testing.T, body, secret []byte, offset int64, what uint8, pos uint16, b byte) {
		if len(secret) == 0 {
			return
		}
		offset %= 3600
		now := fixedNow
		v, err := verify.NewHMAC(secret, "X-Slack-Signature", verify.WithPrefix("v0="),
			verify.WithTimestampHeader("X-Slack-Request-Timestamp"), verify.WithSignedContent("v0:{timestamp}:{body}"),
			verify.WithClock(func() time.Time { return now }))
		if err != nil {
			t.Fatal(err)
		}
		ts := strconv.FormatInt(now.Unix()+offset, 10)
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("v0:" + ts + ":"))
		m.Write(body)
		sig := "v0=" + hex.EncodeToString(m.Sum(nil))
		signedBody := append([]byte(nil), body...)
		switch what % 4 {
		case 1:
			sig = string(mutate([]byte(sig), pos, b))
		case 2:
			body = mutate(body, pos, b)
		case 3:
			ts = string(mutate([]byte(ts), pos, b))
		}
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("X-Slack-Signature", sig)
		r.Header.Set("X-Slack-Request-Timestamp", ts)
		err = v.Verify(r, body)
		checkWellFormed(t, err)

		// Reference: Slack's documented check, written out directly.
		n, perr := strconv.ParseInt(ts, 10, 64)
		ref := hmac.New(sha256.New, secret)
		ref.Write([]byte("v0:" + ts + ":"))
		ref.Write(body)
		sent, ok := strings.CutPrefix(sig, "v0=")
		got, derr := hex.DecodeString(sent)
		fresh := perr == nil && n >= now.Unix()-300 && n <= now.Unix()+300
		accept := ok && derr == nil && fresh && hmac.Equal(got, ref.Sum(nil)) && r.Header.Get("X-Slack-Request-Timestamp") != ""
		if accept != (err == nil) {
			t.Fatalf("the reference accepts: %v; hookkit: %v (body changed: %v)", accept, err, !bytes.Equal(body, signedBody))
		}
	})
}

// FuzzStandardV1aHeader: whatever the signature header holds beside (or
// instead of) a good v1a entry, the verifier with the public key accepts
// exactly when some v1a entry is the canonical base64 of a signature that
// crypto/ed25519 verifies, and its errors are well formed.
func FuzzStandardV1aHeader(f *testing.F) {
	signing, public, err := verifytest.StandardKeyPair(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	pub, err := verify.DecodeStandardPublicKey(public)
	if err != nil {
		f.Fatal(err)
	}
	body := []byte(`{"type":"booking.created"}`)
	now := time.Now()
	h, err := verifytest.Standard{Secret: signing, ID: "msg_1", Time: now}.Headers(body)
	if err != nil {
		f.Fatal(err)
	}
	good := h.Get("Webhook-Signature")
	f.Add(good)
	f.Add("v1a," + strings.Repeat("A", 88))
	f.Add("v1a,,, v1a")
	f.Add("v1,abc v1a,x v2,y")
	f.Add(good[:40])
	v, err := verify.NewStandard(public)
	if err != nil {
		f.Fatal(err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	msg := append([]byte("msg_1."+ts+"."), body...)
	f.Fuzz(func(t *testing.T, sig string) {
		for _, header := range []string{sig, sig + " " + good, good + " " + sig} {
			err := v.VerifyHeaders("msg_1", ts, header, body)
			checkWellFormed(t, err)
			want := false
			if len(header) <= 8<<10 && strings.Count(header, " ") < 64 {
				for _, entry := range strings.Split(header, " ") {
					version, text, ok := strings.Cut(entry, ",")
					text, _, _ = strings.Cut(text, ",")
					raw, decErr := base64.StdEncoding.Strict().DecodeString(text)
					if ok && version == "v1a" && decErr == nil && len(text) == 88 && ed25519.Verify(pub, msg, raw) {
						want = true
					}
				}
			}
			if want != (err == nil) {
				t.Fatalf("header %q: ed25519 says %v, hookkit %v", header, want, err)
			}
		}
	})
}
