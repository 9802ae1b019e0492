package verify_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// Published test vectors: each provider's documentation shows a secret, a
// body and the signature it produces.
func TestHMACPublishedVectors(t *testing.T) {
	tests := []struct {
		name    string
		secret  string
		header  string
		opts    []verify.Option
		body    string
		headers map[string]string
		now     time.Time
	}{
		{
			name:   "GitHub",
			secret: "It's a Secret to Everybody",
			header: "X-Hub-Signature-256",
			opts:   []verify.Option{verify.WithPrefix("sha256=")},
			body:   "Hello, World!",
			headers: map[string]string{
				"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
			},
		},
		{
			name:   "Slack",
			secret: "8f742231b10e8888abcd99yyyzzz85a5",
			header: "X-Slack-Signature",
			opts: []verify.Option{verify.WithPrefix("v0="), verify.WithTimestampHeader("X-Slack-Request-Timestamp"),
				verify.WithSignedContent("v0:{timestamp}:{body}")},
			body: "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
			headers: map[string]string{
				"X-Slack-Request-Timestamp": "1531420618",
				"X-Slack-Signature":         "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
			},
			now: time.Unix(1531420618, 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if !tt.now.IsZero() {
				opts = append(opts, verify.WithClock(func() time.Time { return tt.now }))
			}
			v, err := verify.NewHMAC([]byte(tt.secret), tt.header, opts...)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(tt.body))
			for k, val := range tt.headers {
				r.Header.Set(k, val)
			}
			if err := v.Verify(r, []byte(tt.body)); err != nil {
				t.Fatalf("the published vector: got %v, want nil", err)
			}
			if err := v.Verify(r, []byte(tt.body+" ")); !errors.Is(err, verify.ErrSignatureMismatch) {
				t.Fatalf("a changed body: got %v, want %v", err, verify.ErrSignatureMismatch)
			}
		})
	}
}

func TestHMACPresets(t *testing.T) {
	secret := []byte("preset secret")
	body := []byte(`{"id":"evt_1","type":"payment.succeeded"}`)
	tests := []struct {
		name   string
		verify []verify.Option
		signer verifytest.HMAC
	}{
		{"etail", nil, verifytest.HMAC{Header: "Etail-Signature"}},
		{"github", []verify.Option{verify.WithPrefix("sha256=")}, verifytest.HMAC{Header: "X-Hub-Signature-256", Prefix: "sha256="}},
		{"shopify", []verify.Option{verify.WithEncoding(verify.Base64)}, verifytest.HMAC{Header: "X-Shopify-Hmac-Sha256", Encoding: verify.Base64}},
		{"stripe-like timestamp", []verify.Option{verify.WithTimestampHeader("X-Timestamp"), verify.WithClock(fixedClock)},
			verifytest.HMAC{Header: "X-Sig", TimestampHeader: "X-Timestamp"}},
		{"slack", []verify.Option{verify.WithPrefix("v0="), verify.WithTimestampHeader("X-Slack-Request-Timestamp"),
			verify.WithSignedContent("v0:{timestamp}:{body}"), verify.WithClock(fixedClock)},
			verifytest.HMAC{Header: "X-Slack-Signature", Prefix: "v0=", TimestampHeader: "X-Slack-Request-Timestamp", SignedContent: "v0:{timestamp}:{body}"}},
		{"body then literal", []verify.Option{verify.WithSignedContent("{body}|v2")}, verifytest.HMAC{Header: "X-Sig", SignedContent: "{body}|v2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.NewHMAC(secret, tt.signer.Header, tt.verify...)
			if err != nil {
				t.Fatal(err)
			}
			signer := tt.signer
			signer.Secret, signer.Time = secret, fixedNow
			r := verifytest.NewRequest(signer, "https://example.com/hook", body)
			if err := v.Verify(r, body); err != nil {
				t.Fatalf("signed: got %v, want nil", err)
			}

			tampered := append([]byte(nil), body...)
			tampered[3] ^= 1
			if err := v.Verify(r, tampered); !errors.Is(err, verify.ErrSignatureMismatch) {
				t.Fatalf("tampered body: got %v, want %v", err, verify.ErrSignatureMismatch)
			}

			signer.Secret = []byte("other secret")
			if err := v.Verify(verifytest.NewRequest(signer, "https://example.com/hook", body), body); !errors.Is(err, verify.ErrSignatureMismatch) {
				t.Fatalf("another secret: got %v, want %v", err, verify.ErrSignatureMismatch)
			}
		})
	}
}

func TestHMACRejections(t *testing.T) {
	secret := []byte("s3cret")
	body := []byte(`{"id":"1"}`)
	v, err := verify.NewHMAC(secret, "X-Sig", verify.WithPrefix("sha256="), verify.WithTimestampHeader("X-Ts"), verify.WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	signed := func(ts int64) *http.Request {
		return verifytest.NewRequest(verifytest.HMAC{Secret: secret, Header: "X-Sig", Prefix: "sha256=", TimestampHeader: "X-Ts", Time: time.Unix(ts, 0)},
			"/hook", body)
	}
	now := fixedNow.Unix()
	tests := []struct {
		name   string
		mutate func(r *http.Request)
		ts     int64
		want   error
	}{
		{"valid", func(*http.Request) {}, now, nil},
		{"no signature", func(r *http.Request) { r.Header.Del("X-Sig") }, now, verify.ErrMissingSignature},
		{"no timestamp", func(r *http.Request) { r.Header.Del("X-Ts") }, now, verify.ErrMissingSignature},
		{"no prefix", func(r *http.Request) { r.Header.Set("X-Sig", strings.TrimPrefix(r.Header.Get("X-Sig"), "sha256=")) }, now, verify.ErrMalformedSignature},
		{"not hex", func(r *http.Request) { r.Header.Set("X-Sig", "sha256="+strings.Repeat("g", 64)) }, now, verify.ErrMalformedSignature},
		{"short hex", func(r *http.Request) { r.Header.Set("X-Sig", r.Header.Get("X-Sig")[:70]) }, now, verify.ErrMalformedSignature},
		{"huge header", func(r *http.Request) { r.Header.Set("X-Sig", "sha256="+strings.Repeat("a", 1<<20)) }, now, verify.ErrMalformedSignature},
		{"timestamp not a number", func(r *http.Request) { r.Header.Set("X-Ts", "soon") }, now, verify.ErrMalformedSignature},
		{"timestamp changed", func(r *http.Request) { r.Header.Set("X-Ts", strconv.FormatInt(now-1, 10)) }, now, verify.ErrSignatureMismatch},
		{"too old", func(*http.Request) {}, now - 400, verify.ErrTimestampTooOld},
		{"too new", func(*http.Request) {}, now + 400, verify.ErrTimestampTooNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signed(tt.ts)
			tt.mutate(r)
			err := v.Verify(r, body)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewHMACRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		header string
		opts   []verify.Option
	}{
		{"empty secret", nil, "X-Sig", nil},
		{"empty header", []byte("k"), "", nil},
		{"tolerance without timestamp", []byte("k"), "X-Sig", []verify.Option{verify.WithTolerance(time.Minute)}},
		{"timestamp not signed", []byte("k"), "X-Sig", []verify.Option{verify.WithTimestampHeader("X-Ts"), verify.WithSignedContent("{body}")}},
		{"timestamp without header", []byte("k"), "X-Sig", []verify.Option{verify.WithSignedContent("{timestamp}{body}")}},
		{"no body", []byte("k"), "X-Sig", []verify.Option{verify.WithSignedContent("static")}},
		{"body twice", []byte("k"), "X-Sig", []verify.Option{verify.WithSignedContent("{body}{body}")}},
		{"unknown encoding", []byte("k"), "X-Sig", []verify.Option{verify.WithEncoding(verify.Encoding(7))}},
		{"empty timestamp header", []byte("k"), "X-Sig", []verify.Option{verify.WithTimestampHeader("")}},
		{"twilio option", []byte("k"), "X-Sig", []verify.Option{verify.WithPublicURL("https://example.com")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.NewHMAC(tt.secret, tt.header, tt.opts...)
			if !errors.Is(err, verify.ErrInvalidConfig) {
				t.Fatalf("got %v, want %v", err, verify.ErrInvalidConfig)
			}
			if v != nil {
				t.Error("got a non-nil verifier beside the error, want nil")
			}
		})
	}
}
