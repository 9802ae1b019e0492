package sdkdiff_test

// Fuzz targets whose reference is the provider's library: each must make
// the same accept/reject decision as twilio-go or the Standard Webhooks
// reference library, and every rejection must keep verify's error
// contract. Seed corpora live in testdata/fuzz/<target>; `go test` runs
// them, and `go test -run '^$' -fuzz FuzzX .` explores further.

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

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

func FuzzStandardSignatureHeader(f *testing.F) {
	body := []byte(`{"type":"booking.created"}`)
	f.Add("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	f.Add("v1,a v1,b v2,c")
	f.Add("v1,,, v1")
	f.Add(" v1,x  ")
	f.Fuzz(func(t *testing.T, sig string) {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		wh, err := standardwebhooks.NewWebhook(standardSecret)
		if err != nil {
			t.Fatal(err)
		}
		good, err := wh.Sign("msg_1", time.Now(), body)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{sig, sig + " " + good, good + " " + sig} {
			v, err := verify.NewStandard(standardSecret)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("webhook-id", "msg_1")
			r.Header.Set("webhook-timestamp", ts)
			r.Header.Set("webhook-signature", s)
			checkWellFormed(t, v.Verify(r, body))
			standardAgree(t, "msg_1", ts, s, body, standardSecret)
		}
	})
}

func FuzzStandardDifferential(f *testing.F) {
	f.Add([]byte(`{"type":"x"}`), "msg_1", standardSecret, int64(0), uint8(0), uint16(0), byte(0))
	f.Add([]byte(`{}`), "msg_2", "dGVzdA==", int64(-400), uint8(1), uint16(1), byte('2'))
	f.Add([]byte(``), "m", standardSecret, int64(400), uint8(2), uint16(5), byte(' '))
	f.Add([]byte(`x`), "m", standardSecret, int64(1), uint8(3), uint16(5), byte('='))
	f.Add([]byte(`x`), "m", standardSecret, int64(1), uint8(4), uint16(0), byte('+'))
	f.Fuzz(func(t *testing.T, body []byte, id string, secret string, offset int64, what uint8, pos uint16, b byte) {
		offset %= 3600
		tol := int64(5 * time.Minute / time.Second)
		margin := int64(boundaryMargin / time.Second)
		if (offset > tol-margin && offset < tol+margin) || (offset < -tol+margin && offset > -tol-margin) {
			return
		}
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			standardAgree(t, id, "1", "v1,x", body, secret)
			return
		}
		at := time.Now().Add(time.Duration(offset) * time.Second)
		sig, err := wh.Sign(id, at, body)
		if err != nil {
			t.Fatal(err)
		}
		ts := strconv.FormatInt(at.Unix(), 10)
		switch what % 5 {
		case 1:
			sig = string(mutate([]byte(sig), pos, b))
		case 2:
			body = mutate(body, pos, b)
		case 3:
			id = string(mutate([]byte(id), pos, b))
		case 4:
			ts = string(mutate([]byte(ts), pos, b))
		}
		if strings.ContainsAny(id+ts+sig, "\r\n\x00") || id != strings.TrimSpace(id) || ts != strings.TrimSpace(ts) || sig != strings.TrimSpace(sig) {
			return // not a value an HTTP header can carry as such
		}
		standardAgree(t, id, ts, sig, body, secret)
	})
}

func FuzzTwilioDifferential(f *testing.F) {
	f.Add("example.com", "/sms?x=1", []byte("MessageSid=SM1&MessageStatus=sent"), "12345", true, uint8(0), uint16(0), byte(0))
	f.Add("example.com:8443", "/sms", []byte("A=1&B=%2B2"), "tok", true, uint8(1), uint16(3), byte('x'))
	f.Add("localhost:8080", "/cb?bodySHA256=abc", []byte(`{"a":1}`), "tok", false, uint8(2), uint16(1), byte('='))
	f.Add("example.com", "/a", []byte("x=1"), "tok", false, uint8(3), uint16(1), byte('/'))
	f.Add("example.com", "/a", []byte("x=1"), "tok", true, uint8(4), uint16(0), byte('+'))
	f.Fuzz(func(t *testing.T, host, target string, body []byte, token string, tls bool, what uint8, pos uint16, b byte) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " #\r\n\x00\x7f") ||
			host == "" || strings.ContainsAny(host, "/?#@[]% \r\n\x00\x7f\\") {
			return // not what a server hands a handler as Host and request target
		}
		if u, err := url.Parse("http://" + host + target); err != nil || u.Host != host {
			return
		}
		if !twilioUniqueKeys(body) {
			return // twilio-go signs only the first value of a repeated name
		}
		c := twilioCase{scheme: "http", host: host, target: target, body: body, token: token}
		if tls {
			c.scheme = "https"
		}
		if token != "" {
			form, err := url.ParseQuery(string(body))
			if err != nil {
				form = url.Values{}
			}
			c.sig = verifytest.Twilio{AuthToken: token}.Signature(c.url(), form)
		}
		switch what % 5 {
		case 1:
			c.sig = string(mutate([]byte(c.sig), pos, b))
		case 2:
			c.body = mutate(c.body, pos, b)
			if !twilioUniqueKeys(c.body) {
				return
			}
		case 3:
			c.target = "/" + string(mutate([]byte(c.target[1:]), pos, b))
			if strings.ContainsAny(c.target, " #\r\n\x00\x7f") {
				return
			}
		case 4:
			c.token = string(mutate([]byte(c.token), pos, b))
		}
		twilioAgree(t, c)
	})
}
