package verify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/verify"
)

var fixedNow = time.Unix(1732350000, 0)

func fixedClock() time.Time { return fixedNow }

func stripeSig(secret string, ts int64, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10) + "." + body))
	return hex.EncodeToString(m.Sum(nil))
}

func stripeRequest(header string, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader(body))
	if header != "" {
		r.Header.Set("Stripe-Signature", header)
	}
	return r
}

func TestStripe(t *testing.T) {
	const (
		secret = "whsec_test_secret"
		old    = "whsec_old_secret"
		body   = `{"id":"evt_1","type":"payment_intent.succeeded"}`
	)
	now := fixedNow.Unix()
	ts := strconv.FormatInt(now, 10)
	good := stripeSig(secret, now, body)
	tests := []struct {
		name   string
		header string
		body   string
		opts   []verify.Option
		want   error
	}{
		{"valid", "t=" + ts + ",v1=" + good, body, nil, nil},
		{"uppercase hex", "t=" + ts + ",v1=" + strings.ToUpper(good), body, nil, nil},
		{"second v1 matches", "t=" + ts + ",v1=" + stripeSig("other", now, body) + ",v1=" + good, body, nil, nil},
		{"v0 and unknown ignored", "t=" + ts + ",v0=abc,x=y,v1=" + good, body, nil, nil},
		{"rotated secret", "t=" + ts + ",v1=" + stripeSig(old, now, body), body, []verify.Option{verify.WithSecrets(old)}, nil},
		{"timestamp order free", "v1=" + good + ",t=" + ts, body, nil, nil},
		{"within past tolerance", "t=" + strconv.FormatInt(now-299, 10) + ",v1=" + stripeSig(secret, now-299, body), body, nil, nil},
		{"within future tolerance", "t=" + strconv.FormatInt(now+299, 10) + ",v1=" + stripeSig(secret, now+299, body), body, nil, nil},
		{"no header", "", body, nil, verify.ErrMissingSignature},
		{"only v0", "t=" + ts + ",v0=" + good, body, nil, verify.ErrMissingSignature},
		{"v1 not hex", "t=" + ts + ",v1=zz", body, nil, verify.ErrMissingSignature},
		{"no t", "v1=" + good, body, nil, verify.ErrMalformedSignature},
		{"t not a number", "t=abc,v1=" + good, body, nil, verify.ErrMalformedSignature},
		{"entry without =", "t=" + ts + ",v1=" + good + ",junk", body, nil, verify.ErrMalformedSignature},
		{"entry with two =", "t=" + ts + ",v1=" + good + "=", body, nil, verify.ErrMalformedSignature},
		{"trailing comma", "t=" + ts + ",v1=" + good + ",", body, nil, verify.ErrMalformedSignature},
		{"tampered body", "t=" + ts + ",v1=" + good, body + " ", nil, verify.ErrSignatureMismatch},
		{"wrong secret", "t=" + ts + ",v1=" + stripeSig("whsec_wrong", now, body), body, nil, verify.ErrSignatureMismatch},
		{"truncated signature", "t=" + ts + ",v1=" + good[:62], body, nil, verify.ErrSignatureMismatch},
		{"timestamp swapped", "t=" + strconv.FormatInt(now-1, 10) + ",v1=" + good, body, nil, verify.ErrSignatureMismatch},
		{"too old", "t=" + strconv.FormatInt(now-301, 10) + ",v1=" + stripeSig(secret, now-301, body), body, nil, verify.ErrTimestampTooOld},
		{"too new", "t=" + strconv.FormatInt(now+301, 10) + ",v1=" + stripeSig(secret, now+301, body), body, nil, verify.ErrTimestampTooNew},
		{"wider tolerance", "t=" + strconv.FormatInt(now-3000, 10) + ",v1=" + stripeSig(secret, now-3000, body), body,
			[]verify.Option{verify.WithTolerance(time.Hour)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.NewStripe(secret, append([]verify.Option{verify.WithClock(fixedClock)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			err = v.Verify(stripeRequest(tt.header, tt.body), []byte(tt.body))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if got := verify.StatusCode(err); got != http.StatusBadRequest {
				t.Errorf("StatusCode: got %d, want %d", got, http.StatusBadRequest)
			}
			var verr *verify.Error
			if !errors.As(err, &verr) {
				t.Fatalf("got %T, want a *verify.Error", err)
			}
			if verr.Scheme != "stripe" {
				t.Errorf("Scheme: got %q, want %q", verr.Scheme, "stripe")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("an error must never carry the secret: %v", err)
			}
			if strings.Contains(err.Error(), good) {
				t.Errorf("an error must never carry the expected signature: %v", err)
			}
		})
	}
}

func TestStripeErrorSaysWhichCheckFailed(t *testing.T) {
	v, err := verify.NewStripe("whsec_x", verify.WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	ts := fixedNow.Unix() - 412
	err = v.VerifyHeader("t="+strconv.FormatInt(ts, 10)+",v1="+stripeSig("whsec_x", ts, "{}"), []byte("{}"))
	const want = "stripe: timestamp 412s old, tolerance 5m0s: hookkit/verify: timestamp too old"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestNewStripeRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		opts   []verify.Option
	}{
		{"empty secret", "", nil},
		{"empty rotated secret", "whsec_a", []verify.Option{verify.WithSecrets("")}},
		{"api key", "sk_live_123", nil},
		{"restricted key", "rk_test_123", nil},
		{"zero tolerance", "whsec_a", []verify.Option{verify.WithTolerance(0)}},
		{"negative tolerance", "whsec_a", []verify.Option{verify.WithTolerance(-time.Second)}},
		{"nil clock", "whsec_a", []verify.Option{verify.WithClock(nil)}},
		{"twilio option", "whsec_a", []verify.Option{verify.WithPublicURL("https://example.com")}},
		{"hmac option", "whsec_a", []verify.Option{verify.WithPrefix("sha256=")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.NewStripe(tt.secret, tt.opts...)
			if !errors.Is(err, verify.ErrInvalidConfig) {
				t.Fatalf("got %v, want %v", err, verify.ErrInvalidConfig)
			}
			if v != nil {
				t.Error("got a non-nil verifier beside the error, want nil")
			}
		})
	}
}

// A hostile header must be refused before any MAC is computed. The clock is
// read only after parsing, just before the MAC, so a clock that was never
// called proves the work stopped at the parser.
func TestStripeRefusesHugeHeadersBeforeHashing(t *testing.T) {
	calls := 0
	v, err := verify.NewStripe("whsec_x", verify.WithClock(func() time.Time { calls++; return fixedNow }))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Repeat("x", 1<<20))
	ts := strconv.FormatInt(fixedNow.Unix(), 10)
	tests := map[string]string{
		"thousands of entries": "t=" + ts + strings.Repeat(",v1=00", 5000),
		"megabytes of text":    "t=" + ts + ",v1=" + strings.Repeat("ab", 2<<20),
		"65 entries":           "t=" + ts + strings.Repeat(",v0=1", 64),
	}
	for name, header := range tests {
		t.Run(name, func(t *testing.T) {
			err := v.Verify(stripeRequest(header, ""), body)
			if !errors.Is(err, verify.ErrMalformedSignature) {
				t.Fatalf("got %v, want %v", err, verify.ErrMalformedSignature)
			}
			if calls != 0 {
				t.Errorf("the clock was read %d times, want 0: the MAC was reached", calls)
			}
		})
	}
	// 64 entries is still a header we read.
	err = v.Verify(stripeRequest("t="+ts+strings.Repeat(",v0=1", 62)+",v1="+stripeSig("whsec_x", fixedNow.Unix(), "b"), ""), []byte("b"))
	if err != nil {
		t.Fatalf("64 entries: got %v, want nil", err)
	}
}
