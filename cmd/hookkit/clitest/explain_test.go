package clitest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// The secrets of the broken deliveries.
var (
	dashboardStripe = "whsec_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
	otherStripe     = "whsec_Zz9yXx8wWv7uUt6sSr5qQp4oOn3mMl2k"
	brokenKey       = []byte{0xfb, 0xff, 0xbf, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0xfe, 0xef, 0xdf, 0xcf, 0xbf, 0xaf}
	brokenStandard  = "whsec_" + base64.StdEncoding.EncodeToString(brokenKey)
	signingKey      = "whsk_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
)

// prettyBody is a Stripe-shaped body as Stripe sends it: indented, with
// non-ASCII characters.
const prettyBody = `{
  "id": "evt_3OdQh2LkdIwHu7ix1fKq7vNb",
  "object": "event",
  "created": 1795422000,
  "data": {
    "object": {
      "id": "pi_3OdQh2LkdIwHu7ix1pLqDp2K",
      "object": "payment_intent",
      "amount": 5000,
      "description": "Zoë Müller's deposit"
    }
  },
  "type": "payment_intent.succeeded"
}`

// brokenDelivery is a delivery as its sender (or something on the way)
// sent it, and what the endpoint is configured with.
type brokenDelivery struct {
	name string
	// endpoint is the verifier of the Endpoint the delivery reaches; it
	// rejects the delivery when rejected is set (the others are broken in
	// explain's configuration, not on the wire).
	endpoint func() (verify.Verifier, error)
	rejected bool
	// build returns the request to send and its body.
	build func(t *testing.T, url string) (*http.Request, []byte)
	// explain are hookkit explain's flags.
	explain []string
	cause   string
	detail  string
}

// signedRequest is a POST of body to url with host as its Host, signed by
// s; then mutate may change it (and the body) as a proxy or framework
// would.
func signedRequest(t *testing.T, s verifytest.Signer, url, host string, body []byte, mutate func(r *http.Request) []byte) (*http.Request, []byte) {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if bytes.Contains(body, []byte("=")) && !bytes.HasPrefix(body, []byte("{")) {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if host != "" {
		r.Host = host
	}
	if err := s.Sign(r, body); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		if b := mutate(r); b != nil {
			body = b
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r, body
}

func compactJSON(t *testing.T, s string) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// brokenDeliveries is one broken delivery per cause explain names.
func brokenDeliveries() []brokenDelivery {
	body := []byte(prettyBody)
	form := []byte("MessageSid=SM1&MessageStatus=delivered&To=%2B15551234567&From=%2B15557654321&AccountSid=AC1")
	stripeV := func(secret string) func() (verify.Verifier, error) {
		return func() (verify.Verifier, error) { return verify.NewStripe(secret) }
	}
	standardV := func(secret string) func() (verify.Verifier, error) {
		return func() (verify.Verifier, error) { return verify.NewStandard(secret) }
	}
	twilioV := func(opts ...verify.Option) func() (verify.Verifier, error) {
		return func() (verify.Verifier, error) { return verify.NewTwilio(twilioToken, opts...) }
	}
	stripeSigned := func(secret string, at time.Time, mutate func(r *http.Request) []byte) func(t *testing.T, url string) (*http.Request, []byte) {
		return func(t *testing.T, url string) (*http.Request, []byte) {
			return signedRequest(t, verifytest.Stripe{Secret: secret, Time: at}, url+"/webhooks/stripe", "", body, mutate)
		}
	}
	standardSigned := func(s verifytest.Standard, mutate func(r *http.Request) []byte) func(t *testing.T, url string) (*http.Request, []byte) {
		return func(t *testing.T, url string) (*http.Request, []byte) {
			return signedRequest(t, s, url+"/webhooks/bookings", "", body, mutate)
		}
	}
	twilioSigned := func(publicURL, target, host string, mutate func(r *http.Request) []byte) func(t *testing.T, url string) (*http.Request, []byte) {
		return func(t *testing.T, url string) (*http.Request, []byte) {
			return signedRequest(t, verifytest.Twilio{AuthToken: twilioToken, PublicURL: publicURL}, url+target, host, form, mutate)
		}
	}
	return []brokenDelivery{
		{name: "an API key given as the Stripe secret", endpoint: stripeV(stripeSecret),
			build: stripeSigned(stripeSecret, time.Time{}, nil), explain: []string{"--secret", "sk_test_51HqLyjWDarjtT1zdp7dcXYZ"},
			cause: "api-key", detail: "is an API key"},
		{name: "a Stripe signature keyed with a Standard Webhooks secret's bytes", endpoint: stripeV(brokenStandard), rejected: true,
			build:   stripeSigned(string(brokenKey), time.Time{}, nil),
			explain: []string{"--scheme", "stripe", "--secret", brokenStandard}, cause: "standard-secret-for-stripe", detail: "base64-decoded"},
		{name: "a Standard Webhooks signature keyed with a Stripe secret's text", endpoint: standardV(dashboardStripe), rejected: true,
			build:   standardSigned(verifytest.Standard{Secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte(dashboardStripe))}, nil),
			explain: []string{"--secret", dashboardStripe}, cause: "stripe-secret-for-standard", detail: "as Stripe signs"},
		{name: "a stray v1, before the Standard Webhooks secret", endpoint: standardV(brokenStandard),
			build:   standardSigned(verifytest.Standard{Secret: brokenStandard}, nil),
			explain: []string{"--secret", "v1," + brokenStandard}, cause: "secret-prefix", detail: `"v1,"`},
		{name: "a Standard Webhooks secret in URL-safe base64", endpoint: standardV(brokenStandard),
			build:   standardSigned(verifytest.Standard{Secret: brokenStandard}, nil),
			explain: []string{"--secret", "whsec_" + base64.RawURLEncoding.EncodeToString(brokenKey)}, cause: "secret-base64", detail: "URL-safe"},
		{name: "a whsk_ signing key given to the receiver", endpoint: func() (verify.Verifier, error) {
			_, pub, _ := verifytest.StandardKeyPair(bytes.Repeat([]byte{9}, 32))
			return verify.NewStandard(pub)
		}, build: standardSigned(verifytest.Standard{Secret: signingKey}, nil),
			explain: []string{"--secret", signingKey}, cause: "signing-key", detail: "which verifies this delivery"},
		{name: "a body re-serialised compact by a framework", endpoint: stripeV(stripeSecret), rejected: true,
			build: func(t *testing.T, url string) (*http.Request, []byte) {
				return stripeSigned(stripeSecret, time.Time{}, func(*http.Request) []byte { return compactJSON(t, prettyBody) })(t, url)
			},
			explain: []string{"--secret", stripeSecret}, cause: "reserialized", detail: "re-indenting it with two spaces"},
		{name: "a byte order mark added", endpoint: stripeV(stripeSecret), rejected: true,
			build:   stripeSigned(stripeSecret, time.Time{}, func(*http.Request) []byte { return append([]byte("\xef\xbb\xbf"), body...) }),
			explain: []string{"--secret", stripeSecret}, cause: "bom", detail: "byte order mark"},
		{name: "a trailing newline added", endpoint: stripeV(stripeSecret), rejected: true,
			build:   stripeSigned(stripeSecret, time.Time{}, func(*http.Request) []byte { return append(slices.Clone(body), '\n') }),
			explain: []string{"--secret", stripeSecret}, cause: "trailing-newline", detail: "newline added"},
		{name: "non-ASCII characters escaped", endpoint: stripeV(stripeSecret), rejected: true,
			build: stripeSigned(stripeSecret, time.Time{}, func(*http.Request) []byte {
				return []byte(strings.NewReplacer("ë", `\u00eb`, "ü", `\u00fc`).Replace(prettyBody))
			}),
			explain: []string{"--secret", stripeSecret}, cause: "encoding", detail: `\u escapes`},
		{name: "a clock 400 seconds behind the sender", endpoint: stripeV(stripeSecret), rejected: true,
			build:   stripeSigned(stripeSecret, time.Now().Add(-400*time.Second), nil),
			explain: []string{"--secret", stripeSecret}, cause: "clock", detail: "off by 40"},
		{name: "Twilio behind a TLS-terminating proxy", endpoint: twilioV(), rejected: true,
			build:   twilioSigned("https://api.example.com", "/twilio/sms", "api.example.com", nil),
			explain: []string{"--secret", twilioToken}, cause: "twilio-url", detail: `WithPublicURL("https://api.example.com")`},
		{name: "Twilio through a tunnel that renames the host", endpoint: twilioV(), rejected: true,
			build: twilioSigned("https://hooks.example.org", "/twilio/sms", "", func(r *http.Request) []byte {
				r.Header.Set("X-Forwarded-Host", "hooks.example.org")
				return nil
			}),
			explain: []string{"--secret", twilioToken}, cause: "twilio-url", detail: "Twilio signed https://hooks.example.org/twilio/sms"},
		{name: "Twilio on a port a proxy drops", endpoint: twilioV(), rejected: true,
			build: twilioSigned("https://api.example.com:8443", "/twilio/sms", "api.example.com", func(r *http.Request) []byte {
				r.Header.Set("X-Forwarded-Port", "8443")
				return nil
			}),
			explain: []string{"--secret", twilioToken}, cause: "twilio-url", detail: "https://api.example.com:8443/twilio/sms"},
		{name: "Twilio's query string reordered", endpoint: twilioV(verify.WithPublicURL("https://api.example.com")), rejected: true,
			build: twilioSigned("https://api.example.com", "/twilio/sms?b=2&a=1", "", func(r *http.Request) []byte {
				r.URL.RawQuery = "a=1&b=2"
				return nil
			}),
			explain: []string{"--secret", twilioToken, "--public-url", "https://api.example.com"}, cause: "twilio-url", detail: "query string"},
		{name: "svix- headers of another message before the signed webhook- ones", endpoint: standardV(brokenStandard), rejected: true,
			build: standardSigned(verifytest.Standard{Secret: brokenStandard}, func(r *http.Request) []byte {
				other, _ := verifytest.Standard{Secret: brokenStandard, Svix: true, ID: "msg_other"}.Headers([]byte(`{}`))
				for k, v := range other {
					r.Header[k] = v
				}
				return nil
			}),
			explain: []string{"--scheme", "standard", "--secret", brokenStandard}, cause: "header-family", detail: "webhook- headers verify alone"},
		{name: "another endpoint's secret", endpoint: stripeV(dashboardStripe), rejected: true,
			build:   stripeSigned(otherStripe, time.Time{}, nil),
			explain: []string{"--secret", dashboardStripe, "--secret", stripeSecret, "--secret", otherStripe}, cause: "other-secret", detail: "other secret 2"},
		{name: "a signature header a proxy dropped", endpoint: stripeV(stripeSecret), rejected: true,
			build: stripeSigned(stripeSecret, time.Time{}, func(r *http.Request) []byte {
				r.Header.Del("Stripe-Signature")
				return nil
			}),
			explain: []string{"--scheme", "stripe", "--secret", stripeSecret}, cause: "missing-header", detail: "Content-Type"},
		{name: "a Standard Webhooks delivery sent to the Stripe endpoint", endpoint: stripeV(stripeSecret), rejected: true,
			build:   standardSigned(verifytest.Standard{Secret: brokenStandard}, nil),
			explain: []string{"--scheme", "stripe", "--secret", stripeSecret}, cause: "wrong-scheme", detail: "Webhook-Signature"},
		{name: "GitHub's sha256= prefix not configured", rejected: true,
			endpoint: func() (verify.Verifier, error) { return verify.NewHMAC([]byte("github_test"), "X-Hub-Signature-256") },
			build: func(t *testing.T, url string) (*http.Request, []byte) {
				p, _ := verifytest.HMACPreset("github", []byte("github_test"))
				return signedRequest(t, p, url+"/github", "", body, nil)
			},
			explain: []string{"--scheme", "hmac", "--hmac-header", "X-Hub-Signature-256", "--secret", "github_test"}, cause: "signature-format", detail: `WithPrefix("sha256=")`},
	}
}

// capture is a request as the Endpoint received it.
type capture struct {
	method, target, host string
	header               http.Header
	body                 []byte
}

// raw writes c as raw HTTP/1.1, behind a line of a proxy's log.
func (c capture) raw() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "2026-11-23T08:00:00Z proxy: request from 203.0.113.9\n%s %s HTTP/1.1\r\nHost: %s\r\n", c.method, c.target, c.host)
	names := make([]string, 0, len(c.header))
	for name := range c.header {
		if name != "Content-Length" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range c.header[name] {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(c.body))
	b.Write(c.body)
	return b.Bytes()
}

// TestExplainNamesTheCause sends each broken delivery over loopback HTTP
// to a hookkit Endpoint, which answers 400 or 403 when the delivery itself
// is broken (200 when only explain's configuration is), writes it down as
// it arrived (raw HTTP/1.1 behind a log line, or every other one as a
// fixture), and runs hookkit explain on it: it must exit 1 and name the
// cause, without printing a secret or a whole signature.
func TestExplainNamesTheCause(t *testing.T) {
	cases := brokenDeliveries()
	causes := map[string]bool{}
	quiet := dispatch.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i, bd := range cases {
		causes[bd.cause] = true
		t.Run(bd.name, func(t *testing.T) {
			v, err := bd.endpoint()
			if err != nil {
				t.Fatal(err)
			}
			router := dispatch.NewRouter()
			router.HandleFunc("*", func(context.Context, *events.Event) error { return nil })
			parser := events.ParserFunc(func(r *http.Request, body []byte) (*events.Event, error) {
				return &events.Event{Source: "test", ID: fmt.Sprint(len(body)), Type: "test.delivered", Body: body, Data: body}, nil
			})
			endpoint := dispatch.NewEndpoint(v, parser, router, quiet)
			captured := make(chan capture, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				captured <- capture{r.Method, r.RequestURI, r.Host, r.Header.Clone(), body}
				r.Body = io.NopCloser(bytes.NewReader(body))
				endpoint.ServeHTTP(w, r)
			}))
			defer srv.Close()

			req, _ := bd.build(t, srv.URL)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.StatusCode >= 400; got != bd.rejected {
				t.Fatalf("the Endpoint answered %d (rejected: %v, want %v)", resp.StatusCode, got, bd.rejected)
			}
			c := <-captured

			dir := t.TempDir()
			file := filepath.Join(dir, "delivery.http")
			if i%2 == 1 {
				h := c.header.Clone()
				h.Set("Host", c.host)
				f := fixture.Fixture{Name: "delivery", Method: c.method, Target: c.target, Header: h, Body: c.body, BodyExt: ".body"}
				if err := fixture.Write(dir, f); err != nil {
					t.Fatal(err)
				}
				file = filepath.Join(dir, "delivery.headers")
			} else if err := os.WriteFile(file, c.raw(), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(hookkitBin, append([]string{"explain"}, append(bd.explain, file)...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			out := stdout.String()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("hookkit explain: %v, want exit status 1\n%s%s", err, out, stderr.String())
			}
			if !strings.Contains(out, "\ncause: "+bd.cause+"\n") || !strings.Contains(out, bd.detail) {
				t.Fatalf("want cause %s and %q:\n%s", bd.cause, bd.detail, out)
			}
			for j, arg := range bd.explain {
				if j > 0 && bd.explain[j-1] == "--secret" && len(arg) > 8 && strings.Contains(out, arg[6:]) {
					t.Errorf("explain printed a secret:\n%s", out)
				}
			}
			for _, name := range []string{"Stripe-Signature", "Webhook-Signature", "Svix-Signature", "X-Twilio-Signature", "X-Hub-Signature-256"} {
				if sig := c.header.Get(name); len(sig) > 16 && strings.Contains(out, sig[len(sig)-16:]) {
					t.Errorf("explain printed the %s signature:\n%s", name, out)
				}
			}
		})
	}
	if len(causes) < 12 {
		t.Errorf("%d causes, want at least 12", len(causes))
	}
}
