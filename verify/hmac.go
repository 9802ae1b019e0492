package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

const hmacScheme = "hmac"

// HMAC verifies the many schemes that put an HMAC-SHA256 of the body (and
// perhaps a timestamp) in one header. By default the header holds the hex
// MAC of the raw body; options describe the rest:
//
//	Etail Depot  NewHMAC(secret, "Etail-Signature")
//	GitHub       NewHMAC(secret, "X-Hub-Signature-256", WithPrefix("sha256="))
//	Shopify      NewHMAC(secret, "X-Shopify-Hmac-Sha256", WithEncoding(Base64))
//	Slack        NewHMAC(secret, "X-Slack-Signature", WithPrefix("v0="),
//	                 WithTimestampHeader("X-Slack-Request-Timestamp"),
//	                 WithSignedContent("v0:{timestamp}:{body}"))
//
// Without a timestamp header nothing stops a captured delivery from being
// replayed; deduplicate by event ID (package idempotency) to make replays
// harmless.
//
// An HMAC is safe for concurrent use.
type HMAC struct {
	macs            []*keyedMAC
	header          string
	prefix          string
	encoding        Encoding
	timestampHeader string
	content         []segment
	tolerance       time.Duration
	now             func() time.Time
}

// segment is one piece of the signed content: a literal, the body or the
// timestamp.
type segment struct {
	kind    segmentKind
	literal []byte
}

type segmentKind int

const (
	literalSegment segmentKind = iota
	bodySegment
	timestampSegment
)

// NewHMAC returns a verifier that expects, in the named header, the MAC of
// the body under HMAC-SHA256 keyed with secret, in hex unless WithEncoding
// says otherwise. WithPrefix, WithTimestampHeader, WithSignedContent,
// WithTolerance, WithClock and WithSecrets apply. An empty secret or header
// name is an error wrapping ErrInvalidConfig.
func NewHMAC(secret []byte, header string, opts ...Option) (*HMAC, error) {
	c, err := newConfig(hmacScheme, opts, secretOptions, hmacOptions, timeOptions)
	if err != nil {
		return nil, err
	}
	if c.timestampHeader == "" && len(c.used[timeOptions]) > 0 {
		return nil, fmt.Errorf("hmac: %s need WithTimestampHeader: without it nothing signed carries a time: %w",
			strings.Join(c.used[timeOptions], ", "), ErrInvalidConfig)
	}
	if header == "" {
		return nil, fmt.Errorf("hmac: empty signature header name: %w", ErrInvalidConfig)
	}
	// The secret's type is []byte here and string in WithSecrets: both are
	// fixed by hookkit's public contract. Keys are bytes either way.
	macs, err := secretKeys(hmacScheme, sha256.New, string(secret), c, rawKey)
	if err != nil {
		return nil, err
	}
	content, err := parseSignedContent(c.signedContent, c.timestampHeader != "")
	if err != nil {
		return nil, err
	}
	v := &HMAC{
		macs:      macs,
		header:    textproto.CanonicalMIMEHeaderKey(header),
		prefix:    c.prefix,
		encoding:  c.encoding,
		content:   content,
		tolerance: c.tolerance,
		now:       c.now,
	}
	if c.timestampHeader != "" {
		v.timestampHeader = textproto.CanonicalMIMEHeaderKey(c.timestampHeader)
	}
	return v, nil
}

// parseSignedContent splits a WithSignedContent template into segments.
func parseSignedContent(template string, withTimestamp bool) ([]segment, error) {
	if template == "" {
		template = "{body}"
		if withTimestamp {
			template = "{timestamp}.{body}"
		}
	}
	if n := strings.Count(template, "{body}"); n != 1 {
		return nil, fmt.Errorf("hmac: signed content %q must hold {body} once, holds it %d times: %w", template, n, ErrInvalidConfig)
	}
	want := 0
	if withTimestamp {
		want = 1
	}
	if n := strings.Count(template, "{timestamp}"); n != want {
		return nil, fmt.Errorf("hmac: signed content %q must hold {timestamp} %d times (once exactly when a timestamp header is set), holds it %d: %w",
			template, want, n, ErrInvalidConfig)
	}
	var out []segment
	for template != "" {
		i := strings.IndexByte(template, '{')
		switch {
		case strings.HasPrefix(template, "{body}"):
			out = append(out, segment{kind: bodySegment})
			template = template[len("{body}"):]
			continue
		case strings.HasPrefix(template, "{timestamp}"):
			out = append(out, segment{kind: timestampSegment})
			template = template[len("{timestamp}"):]
			continue
		case i < 0:
			i = len(template)
		case i == 0:
			i = 1 // a literal '{' that starts no placeholder
		}
		out = append(out, segment{kind: literalSegment, literal: []byte(template[:i])})
		template = template[i:]
	}
	return out, nil
}

// Tolerance returns how old a signature v accepts: the tolerance around
// its timestamp header's time, or 0 when no timestamp header is signed, in
// which case a captured delivery verifies forever (dispatch.WithMaxAge).
func (v *HMAC) Tolerance() time.Duration {
	if v.timestampHeader == "" {
		return 0
	}
	return v.tolerance
}

// Verify checks r's signature header (and timestamp header, if configured)
// over body, the raw bytes as received. It returns nil or an *Error wrapping
// one of the sentinels.
func (v *HMAC) Verify(r *http.Request, body []byte) error {
	sig := r.Header.Get(v.header)
	if sig == "" {
		return newError(hmacScheme, 0, ErrMissingSignature, "no "+v.header+" header")
	}
	if len(sig) > maxHeaderBytes {
		return newError(hmacScheme, 0, ErrMalformedSignature,
			fmt.Sprintf("%s is %d bytes, limit %d", v.header, len(sig), maxHeaderBytes))
	}
	encoded, ok := strings.CutPrefix(sig, v.prefix)
	if !ok {
		return newError(hmacScheme, 0, ErrMalformedSignature, fmt.Sprintf("%s does not start with %q", v.header, v.prefix))
	}
	var sent [sha256.Size]byte
	if v.encoding == Hex && !decodeHex(sent[:], encoded) {
		return newError(hmacScheme, 0, ErrMalformedSignature, fmt.Sprintf("%s is not %d hex digits", v.header, 2*sha256.Size))
	}
	// A base64 header that is not the canonical text of a MAC can match
	// nothing: it is a mismatch, as the text comparison it replaces said.
	canonical := v.encoding == Hex || decodeBase64(sent[:], encoded)
	var tsText string // signed as sent, since a generic sender signs its own text
	if v.timestampHeader != "" {
		tsText = r.Header.Get(v.timestampHeader)
		if tsText == "" {
			return newError(hmacScheme, 0, ErrMissingSignature, "no "+v.timestampHeader+" header")
		}
		ts, ok := parseUnix(tsText)
		if !ok {
			return newError(hmacScheme, 0, ErrMalformedSignature, v.timestampHeader+" is not an integer")
		}
		if err := checkTimestamp(hmacScheme, ts, v.now(), v.tolerance); err != nil {
			return err
		}
	}
	for _, k := range v.macs {
		st := k.get()
		for _, seg := range v.content {
			switch seg.kind {
			case literalSegment:
				st.h.Write(seg.literal)
			case bodySegment:
				st.h.Write(body)
			case timestampSegment:
				st.writeString(tsText)
			}
		}
		match := hmac.Equal(sent[:], st.finish())
		k.put(st)
		if match && canonical {
			return nil
		}
	}
	return newError(hmacScheme, 0, ErrSignatureMismatch,
		v.header+" does not match; check the secret and that the body is the raw bytes received")
}
