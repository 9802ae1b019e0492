package verify_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

func ExampleNewStripe() {
	v, err := verify.NewStripe("whsec_endpoint_secret")
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"id":"evt_1","type":"payment_intent.succeeded"}`)
	req := verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_endpoint_secret"}, "https://example.com/webhooks/stripe", body)

	fmt.Println(v.Verify(req, body))

	// A body re-serialised by a framework no longer matches.
	err = v.Verify(req, []byte(`{"id": "evt_1", "type": "payment_intent.succeeded"}`))
	fmt.Println(errors.Is(err, verify.ErrSignatureMismatch), verify.StatusCode(err))
	// Output:
	// <nil>
	// true 400
}

func ExampleNewStripe_rotation() {
	// While rolling the secret in the Dashboard, accept both.
	v, err := verify.NewStripe("whsec_new", verify.WithSecrets("whsec_old"))
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"id":"evt_2"}`)
	old := verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_old"}, "/webhooks/stripe", body)
	fmt.Println(v.Verify(old, body))
	// Output: <nil>
}

func ExampleNewStripe_staleTimestamp() {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	v, err := verify.NewStripe("whsec_s", verify.WithClock(func() time.Time { return now }))
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{}`)
	replayed := verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_s", Time: now.Add(-10 * time.Minute)}, "/", body)
	fmt.Println(v.Verify(replayed, body))
	// Output: stripe: timestamp 600s old, tolerance 5m0s: hookkit/verify: timestamp too old
}

func ExampleNewTwilio() {
	// Behind a TLS-terminating proxy the app sees http://10.0.0.5:8080, but
	// Twilio signed https://api.example.com.
	v, err := verify.NewTwilio("auth_token", verify.WithPublicURL("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	form := url.Values{"MessageSid": {"SM123"}, "MessageStatus": {"delivered"}, "To": {"+15551234567"}}
	body := []byte(form.Encode())
	req := verifytest.NewRequest(verifytest.Twilio{AuthToken: "auth_token", PublicURL: "https://api.example.com"},
		"http://10.0.0.5:8080/twilio/sms-status", body)
	fmt.Println(v.Verify(req, body))

	req.Header.Set("X-Twilio-Signature", "forged")
	err = v.Verify(req, body)
	fmt.Println(errors.Is(err, verify.ErrSignatureMismatch), verify.StatusCode(err))
	// Output:
	// <nil>
	// true 403
}

func ExampleNewStandard() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v, err := verify.NewStandard(secret)
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"type":"booking.confirmed","data":{"booking_id":"12345"}}`)
	req := verifytest.NewRequest(verifytest.Standard{Secret: secret, ID: "msg_1"}, "https://example.com/webhooks/bookings", body)
	fmt.Println(v.Verify(req, body))

	// A Stripe-style secret is not base64 and is refused at construction.
	_, err = verify.NewStandard("whsec_not-base64!")
	fmt.Println(errors.Is(err, verify.ErrInvalidConfig))
	// Output:
	// <nil>
	// true
}

func ExampleNewHMAC() {
	// Etail Depot: Etail-Signature carries the hex HMAC-SHA256 of the body.
	v, err := verify.NewHMAC([]byte("etail_secret"), "Etail-Signature")
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"id":"evt_9","type":"payment.succeeded"}`)
	req := verifytest.NewRequest(verifytest.HMAC{Secret: []byte("etail_secret"), Header: "Etail-Signature"}, "/webhooks/etail", body)
	fmt.Println(v.Verify(req, body))
	// Output: <nil>
}

func ExampleNewHMAC_github() {
	v, err := verify.NewHMAC([]byte("It's a Secret to Everybody"), "X-Hub-Signature-256", verify.WithPrefix("sha256="))
	if err != nil {
		log.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/github", strings.NewReader("Hello, World!"))
	req.Header.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	fmt.Println(v.Verify(req, []byte("Hello, World!")))
	// Output: <nil>
}

func ExampleNewHMAC_shopify() {
	v, err := verify.NewHMAC([]byte("shpss_app_secret"), "X-Shopify-Hmac-Sha256", verify.WithEncoding(verify.Base64))
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"id":820982911946154508,"email":"jon@example.com"}`)
	req := verifytest.NewRequest(verifytest.HMAC{Secret: []byte("shpss_app_secret"), Header: "X-Shopify-Hmac-Sha256", Encoding: verify.Base64},
		"/shopify/orders-create", body)
	fmt.Println(v.Verify(req, body))
	// Output: <nil>
}

func ExampleNewHMAC_slack() {
	// Slack's published example request.
	v, err := verify.NewHMAC([]byte("8f742231b10e8888abcd99yyyzzz85a5"), "X-Slack-Signature",
		verify.WithPrefix("v0="), verify.WithTimestampHeader("X-Slack-Request-Timestamp"),
		verify.WithSignedContent("v0:{timestamp}:{body}"),
		verify.WithClock(func() time.Time { return time.Unix(1531420618, 0) }))
	if err != nil {
		log.Fatal(err)
	}
	body := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
	req.Header.Set("X-Slack-Request-Timestamp", "1531420618")
	req.Header.Set("X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")
	fmt.Println(v.Verify(req, []byte(body)))
	// Output: <nil>
}

func ExampleMiddleware() {
	v, err := verify.NewStripe("whsec_endpoint_secret")
	if err != nil {
		log.Fatal(err)
	}
	// An existing handler that reads the body as usual.
	payments := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("handler got %d verified bytes\n", len(body))
	})
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/stripe", verify.Middleware(v, verify.WithMaxBodyBytes(64<<10))(payments))

	body := []byte(`{"id":"evt_1","type":"charge.refunded"}`)
	signed := verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_endpoint_secret"}, "/webhooks/stripe", body)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, signed)
	fmt.Println(rec.Code)

	forged := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader(string(body)))
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, forged)
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	// Output:
	// handler got 39 verified bytes
	// 200
	// 400 {"error":"signature verification failed"}
}

// A receiver that holds only the sender's public key (whpk_) verifies its
// asymmetric v1a signatures, and cannot sign anything itself.
func ExampleNewStandard_asymmetric() {
	signingKey, publicKey, err := verifytest.StandardKeyPair(bytes.Repeat([]byte{7}, 32)) // the sender's pair
	if err != nil {
		log.Fatal(err)
	}
	v, err := verify.NewStandard(publicKey)
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"type":"booking.created","data":{"booking_id":"12345"}}`)
	req := verifytest.NewRequest(verifytest.Standard{Secret: signingKey}, "/webhooks/bookings", body)
	fmt.Println(strings.Fields(req.Header.Get("Webhook-Signature"))[0][:4], v.Verify(req, body))
	_, err = verify.NewStandard(signingKey)
	fmt.Println(errors.Is(err, verify.ErrInvalidConfig))
	// Output:
	// v1a, <nil>
	// true
}

func ExampleMiddlewareSafely() {
	v, err := verify.NewHMAC([]byte(os.Getenv("ETAIL_WEBHOOK_SECRET")+"x"), "Etail-Signature")
	if err != nil {
		log.Fatal(err)
	}
	// The limit comes from the host's configuration: a bad value is an
	// error, not a panic.
	mw, err := verify.MiddlewareSafely(v, verify.WithMaxBodyBytes(64<<10))
	if err != nil {
		log.Fatal(err)
	}
	_, err = verify.MiddlewareSafely(v, verify.WithMaxBodyBytes(-1))
	fmt.Println(mw != nil, errors.Is(err, verify.ErrInvalidConfig))
	// Output: true true
}
