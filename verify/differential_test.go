package verify_test

// Differential tests: hookkit's Stripe verifier against stripe-go, in both
// directions. What stripe-go signs hookkit accepts, what hookkit's
// verifytest signs stripe-go accepts, and for every single-byte mutation of
// body, header, secret or timestamp the two make the same decision,
// hookkit's error wrapping the sentinel that matches stripe-go's reason.
// The only divergences allowed are the ones the verifier documents.
// stripe-go is a dependency of the core module (events/stripeevent), so
// these tests live here; the Twilio and Standard Webhooks ones, whose SDKs
// only tests need, live in the test-only module verify/sdkdiff.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

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
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		tb.Fatal(err)
	}
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
		if !errors.Is(err, verify.ErrInvalidConfig) {
			t.Fatalf("secret %q: got %v, want %v", secret, err, verify.ErrInvalidConfig)
		}
		return
	}
	if err != nil {
		t.Fatalf("secret %q: %v", secret, err)
	}
	sdkErr := webhook.ValidatePayloadWithTolerance(body, header, secret, webhook.DefaultTolerance)
	ours := v.VerifyHeader(header, body)
	checkStripeDecision(t, header, ours, sdkErr)
}

func checkStripeDecision(t *testing.T, header string, ours, sdkErr error) {
	t.Helper()
	if ours != nil {
		var verr *verify.Error
		if !errors.As(ours, &verr) {
			t.Fatalf("every rejection is a *verify.Error: got %T %v", ours, ours)
		}
	}
	// Documented differences: bounded headers, and a one-sided SDK tolerance.
	if len(header) > 8<<10 || strings.Count(header, ",") >= 64 {
		if !errors.Is(ours, verify.ErrMalformedSignature) {
			t.Fatalf("header %.80q: got %v, want %v", header, ours, verify.ErrMalformedSignature)
		}
		return
	}
	if sdkErr == nil && errors.Is(ours, verify.ErrTimestampTooNew) {
		return
	}
	var want []error // hookkit's error must wrap one of these
	switch {
	case sdkErr == nil:
		if ours != nil {
			t.Fatalf("stripe-go accepts %q; hookkit: %v", header, ours)
		}
		return
	case errors.Is(sdkErr, webhook.ErrNotSigned):
		want = []error{verify.ErrMissingSignature}
	case errors.Is(sdkErr, webhook.ErrInvalidHeader):
		want = []error{verify.ErrMalformedSignature}
	case errors.Is(sdkErr, webhook.ErrTooOld):
		// stripe-go reads a missing t as the zero time, always too old;
		// hookkit calls that header malformed.
		want = []error{verify.ErrTimestampTooOld, verify.ErrMalformedSignature}
	case errors.Is(sdkErr, webhook.ErrNoValidSignature):
		// stripe-go uses one error for "no v1 entry" and "no match", and
		// never checks the future, which hookkit does before the MAC.
		want = []error{verify.ErrSignatureMismatch, verify.ErrMissingSignature, verify.ErrTimestampTooNew}
	default:
		t.Fatalf("unexpected stripe-go error %v", sdkErr)
	}
	if !isAny(ours, want) {
		t.Fatalf("stripe-go: %v; hookkit: %v, want one of %v (header %q)", sdkErr, ours, want, header)
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
					if ourHeader != signed.Header {
						t.Fatalf("verifytest signs %q, want stripe-go's %q", ourHeader, signed.Header)
					}
					if off > -time.Minute {
						if err := webhook.ValidatePayloadWithTolerance(body, ourHeader, secret, webhook.DefaultTolerance); err != nil {
							t.Fatalf("stripe-go rejects what verifytest signs: %v", err)
						}
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
