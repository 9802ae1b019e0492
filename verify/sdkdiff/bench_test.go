package sdkdiff_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	twilioclient "github.com/twilio/twilio-go/client"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// Each benchmark measures one delivery three ways in the same run, as
// sub-benchmarks: hookkit's verifier, the provider's library, and a
// pre-keyed bare crypto/hmac over exactly the bytes the scheme signs (the
// floor). verify's own benchmarks do the same for Stripe with stripe-go.

// eventBody is the repository's recorded payment_intent.succeeded event
// compacted: 1.5 KiB of JSON, the body verify's benchmarks use too.
func eventBody(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile("../../testdata/stripe/payment_intent.succeeded.json")
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkStandard(b *testing.B) {
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	body := eventBody(b) // any 1.5 KiB JSON; the scheme does not care
	now := time.Now()
	h, err := verifytest.Standard{Secret: standardSecret, ID: id, Time: now}.Headers(body)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/webhooks/bookings", nil)
	req.Header = h
	v, err := verify.NewStandard(standardSecret)
	if err != nil {
		b.Fatal(err)
	}
	if err := v.Verify(req, body); err != nil {
		b.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(standardSecret)
	if err != nil {
		b.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
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
		if err != nil {
			b.Fatal(err)
		}
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
	if err != nil {
		b.Fatal(err)
	}
	if err := v.Verify(req, body); err != nil {
		b.Fatal(err)
	}
	rv := twilioclient.NewRequestValidator(token)
	if !rv.ValidateBody(target, body, sig) {
		b.Fatal("twilio-go rejects what verifytest signs")
	}

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
