package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/hookkit/hookkit/internal/logtext"
	"github.com/hookkit/hookkit/internal/requesttarget"
)

const (
	twilioScheme = "twilio"
	// TwilioHeader is the header Twilio signs its requests in.
	TwilioHeader = "X-Twilio-Signature"

	maxTwilioSignature = 256 // base64 of a SHA-1 is 28 bytes
)

// Twilio verifies the X-Twilio-Signature header: the base64 HMAC-SHA1, keyed
// with the account's auth token, of the full URL Twilio requested followed
// by every POST parameter as name+value, sorted by name, byte by byte (a
// repeated name contributes each distinct value, in sorted order). Byte
// order is code-point order, as twilio-python sorts and as twilio-go does;
// twilio-node sorts by UTF-16 code units, which orders differently only
// names with characters outside the Basic Multilingual Plane (emoji, for
// instance), never among Twilio's own parameter names. A
// request whose URL carries bodySHA256 (Twilio's
// JSON-body webhooks) is signed over the URL alone, and the body must hash
// to that value.
//
// Twilio's signing differs by product on whether the URL includes the
// default port, so, like Twilio's own libraries, Twilio accepts the URL both
// with its port (or the scheme's default) and without it. The URL is rebuilt
// from WithPublicURL when set, else (with WithTrustedForwardedHeaders) from
// X-Forwarded-Proto and X-Forwarded-Host, else from the request's TLS state
// and Host; the path and query are the request target exactly as received.
//
// Every rejection is an *Error whose StatusCode is 403 Forbidden, the answer
// Twilio's documentation asks for. On unique parameter names its
// accept/reject decision equals twilio-go's RequestValidator.ValidateBody.
//
// A Twilio is safe for concurrent use.
type Twilio struct {
	macs                     []*keyedMAC
	publicScheme, publicHost string
	trustForwarded           bool
	scratch                  sync.Pool // *twilioScratch
}

// twilioScratch holds the per-request buffers, pooled so that a
// verification allocates nothing once warm.
type twilioScratch struct {
	url, alt []byte  // the URL, and the same URL with its port toggled
	params   []param // decoded form parameters
	decoded  []byte  // storage for keys and values that needed unescaping
	content  []byte  // the sorted name+value concatenation
}

type param struct{ key, value []byte }

// NewTwilio returns a verifier for the account auth token authToken (use
// WithSecrets for a secondary auth token during rotation, and WithPublicURL
// behind a proxy). An empty token is an error wrapping ErrInvalidConfig, as
// is WithTolerance or WithClock: Twilio's signature carries no timestamp.
func NewTwilio(authToken string, opts ...Option) (*Twilio, error) {
	c, err := newConfig(twilioScheme, opts, secretOptions, twilioOptions) // Twilio signs no timestamp
	if err != nil {
		return nil, err
	}
	if c.publicHost != "" && c.trustForwarded {
		return nil, fmt.Errorf("twilio: WithPublicURL and WithTrustedForwardedHeaders both say where the URL comes from; keep one: %w", ErrInvalidConfig)
	}
	macs, err := secretKeys(twilioScheme, sha1.New, authToken, c, rawKey)
	if err != nil {
		return nil, err
	}
	t := &Twilio{macs: macs, publicScheme: c.publicScheme, publicHost: c.publicHost, trustForwarded: c.trustForwarded}
	t.scratch.New = func() any { return new(twilioScratch) }
	return t, nil
}

func twilioError(sentinel error, reason string) *Error {
	return newError(twilioScheme, http.StatusForbidden, sentinel, reason)
}

// Verify checks r's X-Twilio-Signature header over its URL and body, the raw
// bytes as received. It returns nil or an *Error (status 403) wrapping one
// of the sentinels.
func (t *Twilio) Verify(r *http.Request, body []byte) error {
	sig := r.Header.Get(TwilioHeader)
	if sig == "" {
		return twilioError(ErrMissingSignature, "no X-Twilio-Signature header")
	}
	if len(sig) > maxTwilioSignature {
		return twilioError(ErrMalformedSignature, fmt.Sprintf("X-Twilio-Signature is %d bytes", len(sig)))
	}
	sc := t.scratch.Get().(*twilioScratch)
	defer t.scratch.Put(sc)

	scheme, host := t.origin(r)
	target := requesttarget.Of(r)
	sc.url = appendURL(sc.url[:0], scheme, host, target)
	sc.alt = appendTogglePort(append(append(sc.alt[:0], scheme...), "://"...), scheme, host)
	sc.alt = append(sc.alt, target...)

	sc.content = sc.content[:0]
	bodyHash, hasHash := queryValue(target, "bodySHA256")
	if !hasHash || bodyHash == "" {
		if err := sc.signForm(body); err != nil {
			return err
		}
	}
	if !t.matches(sig, sc) {
		// The URL is mostly what the client sent: name it, but only its
		// first bytes, so a hostile request cannot make the log huge.
		return twilioError(ErrSignatureMismatch, "no signature matches "+logtext.Clip(string(sc.url), maxLoggedURL)+
			" (with and without the port); behind a proxy or tunnel set WithPublicURL")
	}
	if hasHash && bodyHash != "" {
		sum := sha256.Sum256(body)
		var signed [sha256.Size]byte
		if !decodeHexLower(signed[:], bodyHash) || !hmac.Equal(signed[:], sum[:]) {
			return twilioError(ErrSignatureMismatch, "body does not hash to the signed bodySHA256")
		}
	}
	return nil
}

// matches tries every token against the URL and its port-toggled form.
func (t *Twilio) matches(sig string, sc *twilioScratch) bool {
	var sent [sha1.Size]byte
	if !decodeBase64(sent[:], sig) {
		return false // not the canonical text of a SHA-1 MAC: nothing can match
	}
	for _, k := range t.macs {
		for _, u := range [2][]byte{sc.url, sc.alt} {
			if len(u) == 0 {
				continue
			}
			st := k.get()
			st.h.Write(u)
			st.h.Write(sc.content)
			match := hmac.Equal(sent[:], st.finish())
			k.put(st)
			if match {
				return true
			}
		}
	}
	return false
}

// maxLoggedURL bounds the URL a rejection names.
const maxLoggedURL = 200

// URL returns the URL the verifier checks r's signature against: the public
// origin (WithPublicURL, or the trusted forwarded headers, or the request's
// own TLS state and Host) followed by the request target exactly as
// received. Test signers (package verifytest) sign this URL, so a signer
// and a verifier configured alike cannot disagree.
func (t *Twilio) URL(r *http.Request) string {
	scheme, host := t.origin(r)
	return string(appendURL(nil, scheme, host, requesttarget.Of(r)))
}

func appendURL(dst []byte, scheme, host, target string) []byte {
	return append(append(append(append(dst, scheme...), "://"...), host...), target...)
}

// origin returns the scheme and host Twilio requested.
func (t *Twilio) origin(r *http.Request) (scheme, host string) {
	if t.publicHost != "" {
		return t.publicScheme, t.publicHost
	}
	scheme = "http"
	// A server request knows TLS from its connection; an outgoing request
	// (one a test signer is signing) from its URL, since it has no
	// RequestURI. A server request's URL scheme is the client's word.
	if r.TLS != nil || (r.RequestURI == "" && r.URL != nil && r.URL.Scheme == "https") {
		scheme = "https"
	}
	host = r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	if !t.trustForwarded {
		return scheme, host
	}
	if proto := firstForwarded(r.Header.Get("X-Forwarded-Proto")); strings.EqualFold(proto, "https") {
		scheme = "https"
	} else if strings.EqualFold(proto, "http") {
		scheme = "http"
	}
	if fwd := firstForwarded(r.Header.Get("X-Forwarded-Host")); fwd != "" {
		host = fwd
	}
	return scheme, host
}

// firstForwarded returns the first (client-facing) entry of a forwarding
// header that proxies may have appended to.
func firstForwarded(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}

// appendTogglePort appends host without its port if it has one, or with the
// scheme's default port if it has none: the second URL form Twilio's
// libraries accept.
func appendTogglePort(dst []byte, scheme, host string) []byte {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && i > strings.LastIndexByte(host, ']') {
		return append(dst, host[:i]...)
	}
	dst = append(dst, host...)
	if scheme == "https" {
		return append(dst, ":443"...)
	}
	return append(dst, ":80"...)
}

// queryValue returns the first value of name in target's query, decoded as
// net/url's Query().Get would (malformed pairs are skipped).
func queryValue(target, name string) (string, bool) {
	_, query, ok := strings.Cut(target, "?")
	if !ok || strings.Count(query, "&")+1 > maxFormParams {
		return "", false
	}
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if key, ok := unescapeString(k); !ok || key != name {
			continue
		}
		if value, ok := unescapeString(v); ok {
			return value, true
		}
	}
	return "", false
}

// signForm decodes an application/x-www-form-urlencoded body and builds the
// sorted name+value content Twilio signs.
func (sc *twilioScratch) signForm(body []byte) error {
	if err := sc.parseForm(body); err != nil {
		return err
	}
	sortParams(sc.params)
	for i, p := range sc.params {
		if i > 0 && string(p.key) == string(sc.params[i-1].key) && string(p.value) == string(sc.params[i-1].value) {
			continue // a repeated value is signed once
		}
		sc.content = append(append(sc.content, p.key...), p.value...)
	}
	return nil
}
