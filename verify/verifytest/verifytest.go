package verifytest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookkit/hookkit/verify"
)

// Signer adds a scheme's signature headers to r for body, the exact bytes r
// will carry.
type Signer interface {
	Sign(r *http.Request, body []byte) error
}

// NewRequest returns a POST to target carrying body, with a Content-Type
// guessed from the body (JSON when it starts with '{' or '[', a form
// otherwise) and signed by s. Like httptest.NewRequest it is meant for tests
// and panics when it cannot build the request; call s.Sign directly to
// handle the error instead.
func NewRequest(s Signer, target string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if t := bytes.TrimSpace(body); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		r.Header.Set("Content-Type", "application/json")
	} else {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if err := s.Sign(r, body); err != nil {
		panic("verifytest: " + err.Error())
	}
	return r
}

func at(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// Stripe signs like Stripe: Stripe-Signature "t=<unix>,v1=<hex>", the hex
// HMAC-SHA256 of "<t>.<body>" keyed with the whole whsec_ secret.
type Stripe struct {
	// Secret is the endpoint signing secret ("whsec_...").
	Secret string
	// Time is the signing time; zero means now.
	Time time.Time
}

// Header returns the Stripe-Signature value for body.
func (s Stripe) Header(body []byte) string {
	ts := strconv.FormatInt(at(s.Time).Unix(), 10)
	mac := hmacSHA256([]byte(s.Secret), []byte(ts), []byte("."), body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac)
}

// Sign sets r's Stripe-Signature header.
func (s Stripe) Sign(r *http.Request, body []byte) error {
	if s.Secret == "" {
		return errors.New("stripe: empty secret")
	}
	r.Header.Set(verify.StripeHeader, s.Header(body))
	return nil
}

// Standard signs like a Standard Webhooks sender: webhook-id,
// webhook-timestamp and webhook-signature over "<id>.<timestamp>.<body>",
// with a "v1,<base64>" HMAC-SHA256 entry for a symmetric secret and a
// "v1a,<base64>" ed25519 entry for an asymmetric signing key.
type Standard struct {
	// Secret is the symmetric secret, "whsec_<base64>" or bare base64, or
	// the sender's ed25519 signing key, "whsk_<base64>" (of the 32-byte
	// seed or the 64-byte private key; see StandardKeyPair).
	Secret string
	// More are further secrets or signing keys, each adding its entry to
	// the header, as a sender does while it rotates one or moves from
	// symmetric to asymmetric signatures.
	More []string
	// ID is the message ID. Empty means, in Sign, the request's own
	// webhook-id (or svix-id) when it has one — re-signing a recorded
	// delivery keeps its ID — and otherwise, as in Headers, one derived
	// from the body, so re-signing the same body yields the same ID, as a
	// sender's retry would.
	ID string
	// Time is the signing time; zero means now.
	Time time.Time
	// Svix sends svix-* headers instead of webhook-*.
	Svix bool
}

// StandardKeyPair returns the Standard Webhooks forms of the ed25519 key
// pair whose 32-byte seed is seed: the sender's signing key
// ("whsk_<base64 of the seed>", for Standard.Secret) and the public key a
// receiver configures ("whpk_<base64>", for verify.NewStandard).
func StandardKeyPair(seed []byte) (signingKey, publicKey string, err error) {
	if len(seed) != ed25519.SeedSize {
		return "", "", fmt.Errorf("verifytest: an ed25519 seed is %d bytes, not %d", ed25519.SeedSize, len(seed))
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	return "whsk_" + base64.StdEncoding.EncodeToString(seed), "whpk_" + base64.StdEncoding.EncodeToString(pub), nil
}

// standardEntry signs content with secret: a v1 or a v1a entry.
func standardEntry(secret string, content []byte) (string, error) {
	if b64, ok := strings.CutPrefix(secret, "whsk_"); ok {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return "", fmt.Errorf("verifytest: whsk_ key is not base64: %w", err)
		}
		var key ed25519.PrivateKey
		switch len(raw) {
		case ed25519.SeedSize:
			key = ed25519.NewKeyFromSeed(raw)
		case ed25519.PrivateKeySize:
			key = ed25519.PrivateKey(raw)
		default:
			return "", fmt.Errorf("verifytest: whsk_ key is %d bytes, want a 32-byte seed or a 64-byte private key", len(raw))
		}
		return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(key, content)), nil
	}
	key, err := verify.DecodeStandardSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(hmacSHA256(key, content)), nil
}

// Headers returns the three headers for body.
func (s Standard) Headers(body []byte) (http.Header, error) {
	id := s.ID
	if id == "" {
		sum := sha256.Sum256(body)
		id = "msg_" + hex.EncodeToString(sum[:12])
	}
	ts := strconv.FormatInt(at(s.Time).Unix(), 10)
	content := append([]byte(id+"."+ts+"."), body...)
	var entries []string
	for _, secret := range append([]string{s.Secret}, s.More...) {
		entry, err := standardEntry(secret, content)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry)
	}
	h := http.Header{}
	names := [3]string{verify.StandardIDHeader, verify.StandardTimestampHeader, verify.StandardSignatureHeader}
	if s.Svix {
		names = [3]string{verify.SvixIDHeader, verify.SvixTimestampHeader, verify.SvixSignatureHeader}
	}
	h.Set(names[0], id)
	h.Set(names[1], ts)
	h.Set(names[2], strings.Join(entries, " "))
	return h, nil
}

// Sign sets r's webhook-* (or svix-*) headers.
func (s Standard) Sign(r *http.Request, body []byte) error {
	if s.ID == "" {
		s.ID = r.Header.Get(verify.StandardIDHeader)
		if s.ID == "" {
			s.ID = r.Header.Get(verify.SvixIDHeader)
		}
	}
	h, err := s.Headers(body)
	if err != nil {
		return err
	}
	for k, v := range h {
		r.Header[k] = v
	}
	return nil
}

// HMAC signs like a generic HMAC-SHA256 sender; its fields mirror the
// options of verify.NewHMAC.
type HMAC struct {
	Secret []byte
	// Header receives the signature.
	Header string
	// Prefix goes before the encoded MAC ("sha256=", "v0=").
	Prefix string
	// Encoding of the MAC, verify.Hex by default.
	Encoding verify.Encoding
	// TimestampHeader, when set, receives the Unix time, which is signed.
	TimestampHeader string
	// SignedContent is the template, as for verify.WithSignedContent;
	// empty means "{body}", or "{timestamp}.{body}" with a timestamp.
	SignedContent string
	// Time is the signing time; zero means now.
	Time time.Time
}

// Sign sets r's signature header (and timestamp header).
func (s HMAC) Sign(r *http.Request, body []byte) error {
	if len(s.Secret) == 0 || s.Header == "" {
		return errors.New("hmac: empty secret or header")
	}
	ts := strconv.FormatInt(at(s.Time).Unix(), 10)
	content := s.SignedContent
	if content == "" {
		content = "{body}"
		if s.TimestampHeader != "" {
			content = "{timestamp}.{body}"
		}
	}
	before, after, ok := strings.Cut(strings.ReplaceAll(content, "{timestamp}", ts), "{body}")
	if !ok {
		return fmt.Errorf("hmac: signed content %q has no {body}", content)
	}
	mac := hmacSHA256(s.Secret, []byte(before), body, []byte(after))
	encoded := hex.EncodeToString(mac)
	if s.Encoding == verify.Base64 {
		encoded = base64.StdEncoding.EncodeToString(mac)
	}
	r.Header.Set(s.Header, s.Prefix+encoded)
	if s.TimestampHeader != "" {
		r.Header.Set(s.TimestampHeader, ts)
	}
	return nil
}

// Twilio signs like Twilio: X-Twilio-Signature, the base64 HMAC-SHA1 keyed
// with the auth token of the URL followed by the sorted form parameters. A
// request whose Content-Type is JSON gets bodySHA256=<hex sha256 of body>
// added to its URL, and only the URL is signed, as Twilio does for JSON
// webhooks. The URL is the one a verify.Twilio configured alike checks
// (verify.Twilio.URL), so signer and verifier cannot disagree.
type Twilio struct {
	AuthToken string
	// PublicURL is the scheme://host[:port] Twilio would request when it
	// differs from the request's own (behind a proxy), as given to
	// verify.WithPublicURL; the path and query come from the request.
	PublicURL string
	// TrustForwardedHeaders signs the URL that X-Forwarded-Proto and
	// X-Forwarded-Host name, as verify.WithTrustedForwardedHeaders reads it.
	TrustForwardedHeaders bool
}

// Signature returns the X-Twilio-Signature value for a POST of form to
// fullURL. A repeated name contributes each distinct value in sorted order.
func (s Twilio) Signature(fullURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		values := append([]string(nil), form[name]...)
		sort.Strings(values)
		for i, v := range values {
			if i > 0 && v == values[i-1] {
				continue
			}
			b.WriteString(name)
			b.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(s.AuthToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Sign sets r's X-Twilio-Signature, first adding bodySHA256 to r's URL when
// r carries JSON.
func (s Twilio) Sign(r *http.Request, body []byte) error {
	var opts []verify.Option
	if s.PublicURL != "" {
		opts = append(opts, verify.WithPublicURL(strings.TrimSuffix(s.PublicURL, "/")))
	}
	if s.TrustForwardedHeaders {
		opts = append(opts, verify.WithTrustedForwardedHeaders())
	}
	v, err := verify.NewTwilio(s.AuthToken, opts...)
	if err != nil {
		return err
	}
	form := url.Values{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		sum := sha256.Sum256(body)
		q := r.URL.RawQuery
		if q != "" {
			q += "&"
		}
		r.URL.RawQuery = q + "bodySHA256=" + hex.EncodeToString(sum[:])
		if r.RequestURI != "" {
			r.RequestURI = r.URL.RequestURI()
		}
	} else {
		if form, err = url.ParseQuery(string(body)); err != nil {
			return fmt.Errorf("twilio: body is not a form: %w", err)
		}
	}
	r.Header.Set(verify.TwilioHeader, s.Signature(v.URL(r), form))
	return nil
}
