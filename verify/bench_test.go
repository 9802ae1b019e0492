package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
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

// Each benchmark group measures one delivery three ways in the same run:
// hookkit's verifier, the provider's official SDK, and a pre-keyed bare
// crypto/hmac over exactly the bytes the scheme signs (the floor).

func BenchmarkStripe(b *testing.B) {
	const secret = "whsec_7Ia0BzN4YzqU1yJ3d2mWfKxL9pQeRt8s"
	body := stripeEventBody(b)
	now := time.Now()
	header := verifytest.Stripe{Secret: secret, Time: now}.Header(body)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", nil)
	req.Header.Set("Stripe-Signature", header)
	v, err := verify.NewStripe(secret)
	require.NoError(b, err)
	require.NoError(b, v.Verify(req, body))
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

func BenchmarkStandard(b *testing.B) {
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	body := stripeEventBody(b) // any 1.5 KiB JSON; the scheme does not care
	now := time.Now()
	h, err := verifytest.Standard{Secret: standardSecret, ID: id, Time: now}.Headers(body)
	require.NoError(b, err)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/bookings", nil)
	req.Header = h
	v, err := verify.NewStandard(standardSecret)
	require.NoError(b, err)
	require.NoError(b, v.Verify(req, body))
	wh, err := standardwebhooks.NewWebhook(standardSecret)
	require.NoError(b, err)
	require.NoError(b, wh.Verify(body, h))

	b.Run("hookkit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Verify(req, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("standard-webhooks", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := wh.Verify(body, h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-hmac", func(b *testing.B) {
		key, err := verify.DecodeStandardSecret(standardSecret)
		require.NoError(b, err)
		m := hmac.New(sha256.New, key)
		prefix := []byte(id + "." + strconv.FormatInt(now.Unix(), 10) + ".")
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

// twilioSMSStatus is a 10-field SMS status callback, as Twilio posts it.
var twilioSMSStatus = url.Values{
	"AccountSid":          {"ACae1c5e4ec3f4b2a0d1d0f7b1c1a2b3c4"},
	"ApiVersion":          {"2010-04-01"},
	"ErrorCode":           {"30003"},
	"From":                {"+15557654321"},
	"MessageSid":          {"SM9f8e7d6c5b4a39281706f5e4d3c2b1a0"},
	"MessageStatus":       {"undelivered"},
	"MessagingServiceSid": {"MG0a1b2c3d4e5f60718293a4b5c6d7e8f9"},
	"SmsSid":              {"SM9f8e7d6c5b4a39281706f5e4d3c2b1a0"},
	"SmsStatus":           {"undelivered"},
	"To":                  {"+15551234567"},
}

func BenchmarkTwilio(b *testing.B) {
	const (
		token  = "f3a1c2e4b5d6a7f8e9d0c1b2a3f4e5d6"
		target = "https://api.example.com/api/v1/webhooks/twilio/sms-status"
	)
	body := []byte(twilioSMSStatus.Encode())
	req := verifytest.NewRequest(verifytest.Twilio{AuthToken: token}, target, body)
	sig := req.Header.Get("X-Twilio-Signature")
	v, err := verify.NewTwilio(token)
	require.NoError(b, err)
	require.NoError(b, v.Verify(req, body))
	rv := twilioclient.NewRequestValidator(token)
	require.True(b, rv.ValidateBody(target, body, sig))

	b.Run("hookkit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Verify(req, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("twilio-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !rv.ValidateBody(target, body, sig) {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("bare-hmac", func(b *testing.B) {
		// The signed bytes, prepared outside the loop: the URL and the
		// sorted name+value pairs.
		var content bytes.Buffer
		content.WriteString(target)
		names := make([]string, 0, len(twilioSMSStatus))
		for k := range twilioSMSStatus {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			content.WriteString(k + twilioSMSStatus.Get(k))
		}
		signed := content.Bytes()
		m := hmac.New(sha1.New, []byte(token))
		sum := make([]byte, 0, sha1.Size)
		b.ReportAllocs()
		for b.Loop() {
			m.Reset()
			m.Write(signed)
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
	require.NoError(b, err)
	h, err := verifytest.Standard{Secret: signing, ID: id, Time: now}.Headers(body)
	require.NoError(b, err)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/bookings", nil)
	req.Header = h
	v, err := verify.NewStandard(public)
	require.NoError(b, err)
	require.NoError(b, v.Verify(req, body))

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
		require.NoError(b, err)
		msg := append([]byte(id+"."+strconv.FormatInt(now.Unix(), 10)+"."), body...)
		sig, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h.Get("Webhook-Signature"), "v1a,"))
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("no")
			}
		}
	})
}
