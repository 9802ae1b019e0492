package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// Each benchmark group measures one delivery three ways in the same run:
// hookkit's verifier, the provider's official SDK, and a pre-keyed bare
// crypto/hmac over exactly the bytes the scheme signs (the floor). Twilio's
// and Standard Webhooks' groups live in the test-only module verify/sdkdiff,
// beside those SDKs; v1a has no SDK row, its floor is bare ed25519.Verify.

func BenchmarkStripe(b *testing.B) {
	const secret = "whsec_7Ia0BzN4YzqU1yJ3d2mWfKxL9pQeRt8s"
	body := stripeEventBody(b)
	now := time.Now()
	header := verifytest.Stripe{Secret: secret, Time: now}.Header(body)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", nil)
	req.Header.Set("Stripe-Signature", header)
	v, err := verify.NewStripe(secret)
	if err != nil {
		b.Fatal(err)
	}
	if err := v.Verify(req, body); err != nil {
		b.Fatal(err)
	}
	b.Logf("body %d bytes", len(body))

	b.Run("hookkit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Verify(req, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stripe-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := webhook.ValidatePayloadWithTolerance(body, header, secret, webhook.DefaultTolerance); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-hmac", func(b *testing.B) {
		m := hmac.New(sha256.New, []byte(secret))
		prefix := []byte(strconv.FormatInt(now.Unix(), 10) + ".")
		sum := make([]byte, 0, sha256.Size)
		b.ReportAllocs()
		for b.Loop() {
			m.Reset()
			m.Write(prefix)
			m.Write(body)
			sum = m.Sum(sum[:0])
		}
	})
}

// BenchmarkStandardV1a verifies an asymmetric (ed25519) Standard Webhooks
// signature beside bare ed25519.Verify on the same message, the floor.
func BenchmarkStandardV1a(b *testing.B) {
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	body := stripeEventBody(b)
	now := time.Now()
	signing, public, err := verifytest.StandardKeyPair(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		b.Fatal(err)
	}
	h, err := verifytest.Standard{Secret: signing, ID: id, Time: now}.Headers(body)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/webhooks/bookings", nil)
	req.Header = h
	v, err := verify.NewStandard(public)
	if err != nil {
		b.Fatal(err)
	}
	if err := v.Verify(req, body); err != nil {
		b.Fatal(err)
	}

	b.Run("hookkit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Verify(req, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-ed25519", func(b *testing.B) {
		pub, err := verify.DecodeStandardPublicKey(public)
		if err != nil {
			b.Fatal(err)
		}
		msg := append([]byte(id+"."+strconv.FormatInt(now.Unix(), 10)+"."), body...)
		sig, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h.Get("Webhook-Signature"), "v1a,"))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("no")
			}
		}
	})
}
