package verify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/hookkit/hookkit/verify"
)

const standardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func standardSig(secret, id string, ts int64, body string) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "." + body))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestStandard(t *testing.T) {
	const (
		id   = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
		body = `{"type":"booking.created","timestamp":"2026-11-23T08:00:00Z","data":{"booking_id":"12345"}}`
	)
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of 24 bytes."))
	now := fixedNow.Unix()
	good := standardSig(standardSecret, id, now, body)
	headers := func(prefix, id string, ts int64, sig string) http.Header {
		h := http.Header{}
		h.Set(prefix+"-id", id)
		h.Set(prefix+"-timestamp", strconv.FormatInt(ts, 10))
		h.Set(prefix+"-signature", sig)
		return h
	}
	tests := []struct {
		name   string
		header http.Header
		body   string
		opts   []verify.Option
		want   error
	}{
		{"valid", headers("webhook", id, now, "v1,"+good), body, nil, nil},
		{"svix headers", headers("svix", id, now, "v1,"+good), body, nil, nil},
		{"several entries", headers("webhook", id, now, "v1,Zm9v v1a,xyz v1,"+good), body, nil, nil},
		{"rotated secret", headers("webhook", id, now, "v1,"+standardSig(other, id, now, body)), body, []verify.Option{verify.WithSecrets(other)}, nil},
		{"no headers", http.Header{}, body, nil, verify.ErrMissingSignature},
		{"no id", headers("webhook", "", now, "v1,"+good), body, nil, verify.ErrMissingSignature},
		{"no v1 entry", headers("webhook", id, now, "v2,"+good), body, nil, verify.ErrMissingSignature},
		{"timestamp not a number", func() http.Header {
			h := headers("webhook", id, now, "v1,"+good)
			h.Set("webhook-timestamp", "yesterday")
			return h
		}(), body, nil, verify.ErrMalformedSignature},
		{"too many entries", headers("webhook", id, now, strings.Repeat("v1,x ", 64)+"v1,"+good), body, nil, verify.ErrMalformedSignature},
		{"tampered body", headers("webhook", id, now, "v1,"+good), body + "\n", nil, verify.ErrSignatureMismatch},
		{"other id", headers("webhook", "msg_other", now, "v1,"+good), body, nil, verify.ErrSignatureMismatch},
		{"unpadded base64", headers("webhook", id, now, "v1,"+strings.TrimRight(good, "=")), body, nil, verify.ErrSignatureMismatch},
		{"too old", headers("webhook", id, now-301, "v1,"+standardSig(standardSecret, id, now-301, body)), body, nil, verify.ErrTimestampTooOld},
		{"too new", headers("webhook", id, now+301, "v1,"+standardSig(standardSecret, id, now+301, body)), body, nil, verify.ErrTimestampTooNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.NewStandard(standardSecret, append([]verify.Option{verify.WithClock(fixedClock)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/webhooks/bookings", strings.NewReader(tt.body))
			r.Header = tt.header
			err = v.Verify(r, []byte(tt.body))
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
			if strings.Contains(err.Error(), good) {
				t.Errorf("the error quotes the expected signature: %v", err)
			}
		})
	}
}

func TestNewStandardSecrets(t *testing.T) {
	raw := strings.TrimPrefix(standardSecret, "whsec_")
	for _, s := range []string{standardSecret, raw} {
		if _, err := verify.NewStandard(s); err != nil {
			t.Fatalf("NewStandard(%q): %v", s, err)
		}
	}
	bad := []struct {
		name, secret string
		opts         []verify.Option
	}{
		{"empty", "", nil},
		{"prefix only", "whsec_", nil},
		{"not base64", "whsec_not base64!", nil},
		{"bad rotated", standardSecret, []verify.Option{verify.WithSecrets("%%%")}},
		{"twilio option", standardSecret, []verify.Option{verify.WithPublicURL("https://example.com")}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify.NewStandard(tt.secret, tt.opts...)
			if !errors.Is(err, verify.ErrInvalidConfig) {
				t.Fatalf("got %v, want %v", err, verify.ErrInvalidConfig)
			}
		})
	}
	_, err := verify.NewStandard("whsec_YWJjZA")
	if !errors.Is(err, verify.ErrInvalidConfig) {
		t.Fatalf("unpadded base64 is not what the specification prints: got %v, want %v", err, verify.ErrInvalidConfig)
	}
	if !strings.Contains(err.Error(), "unlike Stripe's") {
		t.Errorf("the error does not hint at the Stripe/Standard mix-up: %v", err)
	}
}
