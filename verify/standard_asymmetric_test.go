package verify_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
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

// A known answer for v1a, computed outside Go: RFC 8032's first test key
// (seed 9d61b1..., public key d75a98...) signing the specification's
// example message with OpenSSL 3.0 (openssl pkeyutl -sign -rawin).
const (
	katPublicKey = "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	katSigning   = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
	katID        = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	katTimestamp = "1674087231"
	katBody      = `{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"1f81eb52-5198-4599-803e-771906343485"}}`
	katSignature = "v1a,pbpYBMlty2hExn4zt0UTGb6BaP2Vq5AfyzjB9GGV3x/wCJKd8UjOCf8Qhaji6TKY9C5eNMnlF0GG4udaO6B7Ag=="
)

var katTime = time.Unix(1674087231, 0)

func TestStandardV1aKnownAnswer(t *testing.T) {
	v, err := verify.NewStandard(katPublicKey, verify.WithClock(func() time.Time { return katTime }))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyHeaders(katID, katTimestamp, katSignature, []byte(katBody)); err != nil {
		t.Fatalf("the known answer: got %v, want nil", err)
	}
	if err := v.VerifyHeaders(katID, katTimestamp, katSignature, []byte(katBody+" ")); !errors.Is(err, verify.ErrSignatureMismatch) {
		t.Errorf("a changed body: got %v, want %v", err, verify.ErrSignatureMismatch)
	}
	if err := v.VerifyHeaders("msg_other", katTimestamp, katSignature, []byte(katBody)); !errors.Is(err, verify.ErrSignatureMismatch) {
		t.Errorf("another id: got %v, want %v", err, verify.ErrSignatureMismatch)
	}

	// verifytest signs the same bytes the same way (ed25519 is deterministic).
	h, err := verifytest.Standard{Secret: katSigning, ID: katID, Time: katTime}.Headers([]byte(katBody))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("Webhook-Signature"); got != katSignature {
		t.Errorf("verifytest signs: got %s, want %s", got, katSignature)
	}
}

// keyPair returns a fresh whsk_/whpk_ pair.
func keyPair(t testing.TB) (signing, public string) {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	signing, public, err := verifytest.StandardKeyPair(seed)
	if err != nil {
		t.Fatal(err)
	}
	return signing, public
}

func TestStandardV1a(t *testing.T) {
	signing, public := keyPair(t)
	otherSigning, otherPublic := keyPair(t)
	body := []byte(`{"type":"booking.created","data":{"booking_id":"12345"}}`)
	now := time.Now()
	signed := func(secret string, more ...string) string {
		h, err := verifytest.Standard{Secret: secret, More: more, ID: "msg_1", Time: now}.Headers(body)
		if err != nil {
			t.Fatal(err)
		}
		return h.Get("Webhook-Signature")
	}
	v1a := signed(signing)
	v1 := signed(standardSecret)
	sig := strings.TrimPrefix(v1a, "v1a,")

	tests := []struct {
		name    string
		keys    []string // NewStandard's secret, then WithSecrets
		header  string
		wantErr error
	}{
		{"v1a only", []string{public}, v1a, nil},
		{"v1 only", []string{standardSecret}, v1, nil},
		{"both entries, both keys", []string{standardSecret, public}, signed(standardSecret, signing), nil},
		{"both entries, the public key only", []string{public}, signed(standardSecret, signing), nil},
		{"both entries, the secret only", []string{standardSecret}, signed(signing, standardSecret), nil},
		{"rotation to asymmetric: the sender still signs v1 only", []string{public, standardSecret}, v1, nil},
		{"rotation to asymmetric: the sender signs v1a only", []string{standardSecret, public}, v1a, nil},
		{"rotation of public keys: the old one", []string{otherPublic, public}, v1a, nil},
		{"rotation of public keys: the new one", []string{public, otherPublic}, signed(otherSigning), nil},
		{"v1a signed by another key", []string{public}, signed(otherSigning), verify.ErrSignatureMismatch},
		{"v1a signed over another id", []string{public}, "v1a," + base64.StdEncoding.EncodeToString(
			ed25519.Sign(ed25519.NewKeyFromSeed(mustSeed(t, signing)), []byte("msg_2."+strconv.FormatInt(now.Unix(), 10)+"."+string(body)))),
			verify.ErrSignatureMismatch},
		{"truncated v1a", []string{public}, "v1a," + sig[:40], verify.ErrSignatureMismatch},
		{"v1a without padding", []string{public}, "v1a," + strings.TrimRight(sig, "="), verify.ErrSignatureMismatch},
		{"non-base64 v1a", []string{public}, "v1a," + strings.Repeat("!", len(sig)), verify.ErrSignatureMismatch},
		{"v1a with the v1 HMAC in it", []string{public}, "v1a," + strings.TrimPrefix(v1, "v1,"), verify.ErrSignatureMismatch},
		{"v1a entry, only a symmetric secret", []string{standardSecret}, v1a, verify.ErrMissingSignature},
		{"v1 entry, only a public key", []string{public}, v1, verify.ErrMissingSignature},
		{"neither kind", []string{standardSecret, public}, "v2,abc", verify.ErrMissingSignature},
		{"a v1a signature labelled v1", []string{public}, "v1," + sig, verify.ErrMissingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.NewStandard(tt.keys[0], verify.WithSecrets(tt.keys[1:]...))
			if err != nil {
				t.Fatal(err)
			}
			err = v.VerifyHeaders("msg_1", strconv.FormatInt(now.Unix(), 10), tt.header, body)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), sig) {
				t.Errorf("the error quotes a signature: %v", err)
			}
		})
	}
}

func mustSeed(t *testing.T, signing string) []byte {
	t.Helper()
	seed, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(signing, "whsk_"))
	if err != nil {
		t.Fatal(err)
	}
	return seed
}

// Keys in the wrong form are constructor errors that say which form was
// expected.
func TestStandardKeyForms(t *testing.T) {
	signing, public := keyPair(t)
	raw := strings.TrimPrefix(public, "whpk_")
	priv := ed25519.NewKeyFromSeed(mustSeed(t, signing))
	for _, tt := range []struct {
		name, key, says string
	}{
		{"a whsk_ signing key where a public key belongs", signing, "whpk_"},
		{"a whsk_ key in WithSecrets", signing, "signing key"},
		{"a public key that is not base64", "whpk_not*base64", "not base64 after whpk_"},
		{"a public key of 31 bytes", "whpk_" + base64.StdEncoding.EncodeToString(make([]byte, 31)), "want an ed25519 key of 32"},
		{"a private key's 64 bytes behind whpk_", "whpk_" + base64.StdEncoding.EncodeToString(priv), "want an ed25519 key of 32"},
		{"an empty public key", "whpk_", "want an ed25519 key of 32"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify.NewStandard(tt.key)
			if !errors.Is(err, verify.ErrInvalidConfig) {
				t.Fatalf("got %v, want %v", err, verify.ErrInvalidConfig)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("the error does not say %q: %v", tt.says, err)
			}
			_, err = verify.NewStandard(standardSecret, verify.WithSecrets(tt.key))
			if !errors.Is(err, verify.ErrInvalidConfig) {
				t.Fatalf("in WithSecrets: got %v, want %v", err, verify.ErrInvalidConfig)
			}
		})
	}
	if _, err := verify.DecodeStandardPublicKey("whsec_" + raw); !errors.Is(err, verify.ErrInvalidConfig) {
		t.Errorf("a public key behind whsec_: got %v, want %v", err, verify.ErrInvalidConfig)
	}
}

// The result is crypto/ed25519's own on the same message, for random keys,
// bodies and tampered signatures.
func TestStandardV1aAgreesWithEd25519(t *testing.T) {
	now := time.Now()
	for i := range 300 {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, i*7)
		rand.Read(body)
		id := "msg_" + strconv.Itoa(i)
		ts := strconv.FormatInt(now.Unix(), 10)
		msg := append([]byte(id+"."+ts+"."), body...)
		sig := ed25519.Sign(priv, msg)
		if i%3 == 1 {
			sig[i%len(sig)] ^= 1 << (i % 8)
		}
		if i%3 == 2 && len(body) > 0 {
			body[i%len(body)] ^= 0x20
			msg = append([]byte(id+"."+ts+"."), body...)
		}
		v, err := verify.NewStandard("whpk_" + base64.StdEncoding.EncodeToString(pub))
		if err != nil {
			t.Fatal(err)
		}
		got := v.VerifyHeaders(id, ts, "v1a,"+base64.StdEncoding.EncodeToString(sig), body)
		if want := ed25519.Verify(pub, msg, sig); want != (got == nil) {
			t.Fatalf("case %d: crypto/ed25519 says %v, hookkit %v", i, want, got)
		}
	}
}

// Svix's libraries take each of id, timestamp and signature from its svix-
// header first, then from the webhook- one; hookkit decides as they do.
func TestStandardSvixHeaderPrecedence(t *testing.T) {
	body := []byte(`{"type":"booking.created"}`)
	now := time.Now()
	good, err := verifytest.Standard{Secret: standardSecret, ID: "msg_1", Time: now}.Headers(body)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := verifytest.Standard{Secret: standardSecret, ID: "msg_1", Time: now.Add(-time.Hour)}.Headers(body)
	if err != nil {
		t.Fatal(err)
	}
	ts, sig := good.Get("Webhook-Timestamp"), good.Get("Webhook-Signature")
	tests := []struct {
		name    string
		headers map[string]string
		wantErr error
	}{
		{"webhook-* only", map[string]string{"Webhook-Id": "msg_1", "Webhook-Timestamp": ts, "Webhook-Signature": sig}, nil},
		{"svix-* only", map[string]string{"Svix-Id": "msg_1", "Svix-Timestamp": ts, "Svix-Signature": sig}, nil},
		{"all svix-* valid, a stale webhook-signature", map[string]string{"Svix-Id": "msg_1", "Svix-Timestamp": ts, "Svix-Signature": sig,
			"Webhook-Signature": stale.Get("Webhook-Signature")}, nil},
		{"all svix-* valid, other webhook-* values", map[string]string{"Svix-Id": "msg_1", "Svix-Timestamp": ts, "Svix-Signature": sig,
			"Webhook-Id": "msg_9", "Webhook-Timestamp": stale.Get("Webhook-Timestamp"), "Webhook-Signature": "v1,x"}, nil},
		{"svix-id, svix-timestamp and webhook-signature", map[string]string{"Svix-Id": "msg_1", "Svix-Timestamp": ts, "Webhook-Signature": sig}, nil},
		{"webhook-id, svix-timestamp, svix-signature", map[string]string{"Webhook-Id": "msg_1", "Svix-Timestamp": ts, "Svix-Signature": sig}, nil},
		{"a wrong svix-signature wins over a right webhook-signature", map[string]string{"Svix-Id": "msg_1", "Svix-Timestamp": ts,
			"Svix-Signature": stale.Get("Webhook-Signature"), "Webhook-Signature": sig}, verify.ErrSignatureMismatch},
		{"a stale svix-timestamp wins", map[string]string{"Svix-Id": "msg_1", "Svix-Timestamp": stale.Get("Webhook-Timestamp"),
			"Webhook-Timestamp": ts, "Svix-Signature": sig}, verify.ErrTimestampTooOld},
		{"no id in either family", map[string]string{"Svix-Timestamp": ts, "Webhook-Signature": sig}, verify.ErrMissingSignature},
	}
	v, err := verify.NewStandard(standardSecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			for k, val := range tt.headers {
				r.Header.Set(k, val)
			}
			err := v.Verify(r, body)
			if tt.wantErr == nil && err != nil {
				t.Errorf("got %v, want nil", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
		})
	}
}
