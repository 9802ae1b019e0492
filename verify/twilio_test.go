package verify_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// The vectors Twilio's SDKs share in their test suites: auth token 12345,
// this URL and these parameters sign to vOEb5UThFn24KEfnOFLQY2AE5FY=.
const (
	twilioToken = "12345"
	twilioURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
	twilioSig   = "vOEb5UThFn24KEfnOFLQY2AE5FY="
	// The same parameters with ReasonConferenceEnded sorted before Reason.
	twilioMisortedSig = "95+Bu0JVPi0r/SsESZCVf0dWAjw="
	twilioJSONBody    = `{"property": "value", "boolean": true}`
	twilioJSONHash    = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
	twilioJSONSig     = "a9nBmqA0ju/hNViExpshrM61xv4="
)

var twilioParams = url.Values{
	"Digits":                {"1234"},
	"CallSid":               {"CA1234567890ABCDE"},
	"To":                    {"+18005551212"},
	"Caller":                {"+14158675309"},
	"From":                  {"+14158675309"},
	"ReasonConferenceEnded": {"test"},
	"Reason":                {"Participant"},
}

// serverRequest builds a request as net/http's server hands it to a
// handler: RequestURI is the raw target, Host the Host header, TLS set only
// for https.
func serverRequest(target, host string, tls bool, body string) *http.Request {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	r := httptest.NewRequest(http.MethodPost, scheme+"://"+host+target, strings.NewReader(body))
	r.RequestURI = target
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestTwilio(t *testing.T) {
	form := twilioParams.Encode()
	tests := []struct {
		name    string
		req     func() *http.Request
		body    string
		opts    []verify.Option
		want    error
		wantURL string // when rejected, the URL the error must name
	}{
		{name: "published vector", body: form, req: func() *http.Request {
			return serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com", true, form)
		}},
		{name: "explicit default port", body: form, req: func() *http.Request {
			return serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com:443", true, form)
		}},
		{name: "non-default port signed without it", body: form, req: func() *http.Request {
			return serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com:1234", true, form)
		}},
		{name: "TLS terminated, X-Forwarded-Proto trusted", body: form, opts: []verify.Option{verify.WithTrustedForwardedHeaders()},
			req: func() *http.Request {
				r := serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com", false, form)
				r.Header.Set("X-Forwarded-Proto", "https")
				return r
			}},
		{name: "tunnel, X-Forwarded-Host trusted", body: form, opts: []verify.Option{verify.WithTrustedForwardedHeaders()},
			req: func() *http.Request {
				r := serverRequest("/myapp.php?foo=1&bar=2", "127.0.0.1:8080", false, form)
				r.Header.Set("X-Forwarded-Proto", "https, http")
				r.Header.Set("X-Forwarded-Host", "mycompany.com, internal.lan")
				return r
			}},
		// The attack: a callback Twilio signed for another host of the same
		// account, sent here with forwarded headers naming that host. Without
		// the opt-in they are the client's words, not a proxy's.
		{name: "forwarded headers not trusted unasked", body: form, want: verify.ErrSignatureMismatch,
			wantURL: "http://127.0.0.1:8080/myapp.php?foo=1&bar=2", req: func() *http.Request {
				r := serverRequest("/myapp.php?foo=1&bar=2", "127.0.0.1:8080", false, form)
				r.Header.Set("X-Forwarded-Proto", "https")
				r.Header.Set("X-Forwarded-Host", "mycompany.com")
				return r
			}},
		{name: "WithPublicURL wins over forwarded headers", body: form, opts: []verify.Option{verify.WithPublicURL("https://mycompany.com")},
			req: func() *http.Request {
				r := serverRequest("/myapp.php?foo=1&bar=2", "127.0.0.1:8080", false, form)
				r.Header.Set("X-Forwarded-Host", "attacker.example")
				return r
			}},
		{name: "JSON body with bodySHA256", body: twilioJSONBody, req: func() *http.Request {
			return serverRequest("/myapp.php?foo=1&bar=2&bodySHA256="+twilioJSONHash, "mycompany.com", true, twilioJSONBody)
		}},
		{name: "behind a proxy without configuration", body: form, want: verify.ErrSignatureMismatch,
			wantURL: "http://127.0.0.1:8080/myapp.php?foo=1&bar=2", req: func() *http.Request {
				return serverRequest("/myapp.php?foo=1&bar=2", "127.0.0.1:8080", false, form)
			}},
		{name: "query reordered", body: form, want: verify.ErrSignatureMismatch, req: func() *http.Request {
			return serverRequest("/myapp.php?bar=2&foo=1", "mycompany.com", true, form)
		}},
		{name: "parameter changed", body: strings.Replace(form, "Digits=1234", "Digits=1235", 1), want: verify.ErrSignatureMismatch,
			req: func() *http.Request {
				return serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com", true, "")
			}},
		{name: "parameter added", body: form + "&Extra=1", want: verify.ErrSignatureMismatch, req: func() *http.Request {
			return serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com", true, "")
		}},
		{name: "JSON body tampered", body: twilioJSONBody + " ", want: verify.ErrSignatureMismatch, req: func() *http.Request {
			return serverRequest("/myapp.php?foo=1&bar=2&bodySHA256="+twilioJSONHash, "mycompany.com", true, "")
		}},
		{name: "JSON body without bodySHA256", body: twilioJSONBody, want: verify.ErrSignatureMismatch, req: func() *http.Request {
			return serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com", true, "")
		}},
		{name: "malformed %-escape", body: form + "&x=%zz", want: verify.ErrSignatureMismatch, req: func() *http.Request {
			return serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com", true, "")
		}},
		{name: "semicolon separator", body: form + ";x=1", want: verify.ErrSignatureMismatch, req: func() *http.Request {
			return serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com", true, "")
		}},
		{name: "no signature", body: form, want: verify.ErrMissingSignature, req: func() *http.Request {
			r := serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com", true, form)
			r.Header.Del("X-Twilio-Signature")
			return r
		}},
		{name: "oversized signature", body: form, want: verify.ErrMalformedSignature, req: func() *http.Request {
			r := serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com", true, form)
			r.Header.Set("X-Twilio-Signature", strings.Repeat("A", 1<<20))
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.NewTwilio(twilioToken, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			r := tt.req()
			if _, ok := r.Header["X-Twilio-Signature"]; !ok && tt.want != verify.ErrMissingSignature {
				sig := twilioSig
				if strings.Contains(r.RequestURI, "bodySHA256") {
					sig = twilioJSONSig
				}
				r.Header.Set("X-Twilio-Signature", sig)
			}
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
			if got := verify.StatusCode(err); got != http.StatusForbidden {
				t.Errorf("Twilio rejections answer 403: StatusCode got %d, want %d", got, http.StatusForbidden)
			}
			if tt.wantURL != "" && !strings.Contains(err.Error(), tt.wantURL) {
				t.Errorf("the error does not name the URL %s: %v", tt.wantURL, err)
			}
		})
	}
}

func TestTwilioRejectsMisortedVector(t *testing.T) {
	v, err := verify.NewTwilio(twilioToken)
	if err != nil {
		t.Fatal(err)
	}
	form := twilioParams.Encode()
	r := serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com", true, form)
	r.Header.Set("X-Twilio-Signature", twilioMisortedSig)
	if err := v.Verify(r, []byte(form)); !errors.Is(err, verify.ErrSignatureMismatch) {
		t.Fatalf("got %v, want %v", err, verify.ErrSignatureMismatch)
	}
}

// Repeated names are signed with each distinct value in sorted order, as
// Twilio documents and twilio-python and twilio-node implement it.
func TestTwilioRepeatedParameters(t *testing.T) {
	const target = "https://example.com/sms"
	body := "MediaUrl=b&To=%2B1555&MediaUrl=a&MediaUrl=b&Body=hi+there&Empty=&Note=50%25+Zo%C3%AB+%F0%9F%98%80"
	m := hmac.New(sha1.New, []byte(twilioToken))
	m.Write([]byte(target + "Bodyhi there" + "Empty" + "MediaUrla" + "MediaUrlb" + "Note50% Zoë 😀" + "To+1555"))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))

	v, err := verify.NewTwilio(twilioToken)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("X-Twilio-Signature", want)
	if err := v.Verify(r, []byte(body)); err != nil {
		t.Fatalf("got %v, want nil", err)
	}

	form, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	if signed := (verifytest.Twilio{AuthToken: twilioToken}).Signature(target, form); signed != want {
		t.Errorf("verifytest signs repeated names differently: got %s, want %s", signed, want)
	}
}

func TestTwilioSignerJSON(t *testing.T) {
	v, err := verify.NewTwilio(twilioToken)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"MessageSid":"SM1","MessageStatus":"delivered"}`)
	r := verifytest.NewRequest(verifytest.Twilio{AuthToken: twilioToken}, "https://example.com/sms/status?x=1", body)
	sum := sha256.Sum256(body)
	if want := "x=1&bodySHA256=" + hex.EncodeToString(sum[:]); r.URL.RawQuery != want {
		t.Errorf("query: got %q, want %q", r.URL.RawQuery, want)
	}
	if err := v.Verify(r, body); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
}

func TestNewTwilioRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name  string
		token string
		opts  []verify.Option
	}{
		{"empty token", "", nil},
		{"empty secondary token", "tok", []verify.Option{verify.WithSecrets("")}},
		{"tolerance", "tok", []verify.Option{verify.WithTolerance(verify.DefaultTolerance)}},
		{"public URL with path", "tok", []verify.Option{verify.WithPublicURL("https://example.com/api")}},
		{"public URL without scheme", "tok", []verify.Option{verify.WithPublicURL("example.com")}},
		{"public URL ftp", "tok", []verify.Option{verify.WithPublicURL("ftp://example.com")}},
		{"public URL and trusted forwarded headers", "tok", []verify.Option{verify.WithPublicURL("https://example.com"), verify.WithTrustedForwardedHeaders()}},
		{"hmac option", "tok", []verify.Option{verify.WithEncoding(verify.Base64)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.NewTwilio(tt.token, tt.opts...)
			if !errors.Is(err, verify.ErrInvalidConfig) {
				t.Fatalf("got %v, want %v", err, verify.ErrInvalidConfig)
			}
			if v != nil {
				t.Error("got a non-nil verifier beside the error, want nil")
			}
		})
	}
}

func TestTwilioSecondaryToken(t *testing.T) {
	v, err := verify.NewTwilio("primary", verify.WithSecrets(twilioToken))
	if err != nil {
		t.Fatal(err)
	}
	form := twilioParams.Encode()
	r := serverRequest("/myapp.php?foo=1&bar=2", "mycompany.com", true, form)
	r.Header.Set("X-Twilio-Signature", twilioSig)
	if err := v.Verify(r, []byte(form)); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
}

// verifytest signs an outgoing https request for the URL the server will
// check: the published vector.
func TestTwilioSignerOnAClientRequest(t *testing.T) {
	form := twilioParams.Encode()
	out, err := http.NewRequest(http.MethodPost, twilioURL, strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	out.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := (verifytest.Twilio{AuthToken: twilioToken}).Sign(out, []byte(form)); err != nil {
		t.Fatal(err)
	}
	if got := out.Header.Get("X-Twilio-Signature"); got != twilioSig {
		t.Errorf("X-Twilio-Signature: got %s, want %s", got, twilioSig)
	}
}
