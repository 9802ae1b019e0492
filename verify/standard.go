package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const standardScheme = "standard-webhooks"

// The headers of the Standard Webhooks specification, in canonical form, and
// the svix- headers Svix sends with the same meaning.
const (
	StandardIDHeader        = "Webhook-Id"
	StandardTimestampHeader = "Webhook-Timestamp"
	StandardSignatureHeader = "Webhook-Signature"
	SvixIDHeader            = "Svix-Id"
	SvixTimestampHeader     = "Svix-Timestamp"
	SvixSignatureHeader     = "Svix-Signature"
)

// Standard verifies Standard Webhooks (and Svix) deliveries: headers
// webhook-id, webhook-timestamp and webhook-signature (or their svix-
// equivalents), where the signature header holds space-separated
// "v1,<base64>" entries, each the base64 HMAC-SHA256 of
// "<id>.<timestamp>.<raw body>" keyed with the base64-decoded secret. The
// timestamp is checked against the tolerance in both directions.
//
// Its accept/reject decision equals the reference library's
// (github.com/standard-webhooks/standard-webhooks/libraries/go) Verify,
// except that it also reads svix- headers and refuses signature headers over
// 8 KiB or 64 entries as malformed.
//
// A Standard is safe for concurrent use.
type Standard struct {
	macs      []*keyedMAC
	tolerance time.Duration
	now       func() time.Time
}

// NewStandard returns a verifier for secret, given as "whsec_<base64>" (as
// Svix and most Standard Webhooks senders display it) or as the bare base64.
// Unlike Stripe's, this secret is not used as text: its base64 is decoded
// into the key, so a secret that is not valid base64 is an error wrapping
// ErrInvalidConfig (and a Stripe whsec_ secret will not verify here).
func NewStandard(secret string, opts ...Option) (*Standard, error) {
	c, err := newConfig(standardScheme, opts, secretOptions, timeOptions)
	if err != nil {
		return nil, err
	}
	macs, err := secretKeys(standardScheme, sha256.New, secret, c, func(_ int, s string) ([]byte, error) {
		return DecodeStandardSecret(s)
	})
	if err != nil {
		return nil, err
	}
	return &Standard{macs: macs, tolerance: c.tolerance, now: c.now}, nil
}

// DecodeStandardSecret turns a Standard Webhooks secret ("whsec_<base64>" or
// bare base64) into the HMAC key bytes. An empty secret or key, or one that
// is not standard padded base64, is an error wrapping ErrInvalidConfig.
func DecodeStandardSecret(secret string) ([]byte, error) {
	b64 := strings.TrimPrefix(secret, "whsec_")
	if b64 == "" {
		return nil, fmt.Errorf("empty secret: %w", ErrInvalidConfig)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("secret is not base64 after the whsec_ prefix (Standard Webhooks secrets are base64 keys, unlike Stripe's): %w: %w",
			err, ErrInvalidConfig)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("secret decodes to an empty key: %w", ErrInvalidConfig)
	}
	return key, nil
}

// Verify checks r's webhook-* (or svix-*) headers over body, the raw bytes as
// received. It returns nil or an *Error wrapping one of the sentinels.
func (s *Standard) Verify(r *http.Request, body []byte) error {
	id := headerValue(r.Header, StandardIDHeader)
	ts := headerValue(r.Header, StandardTimestampHeader)
	sig := headerValue(r.Header, StandardSignatureHeader)
	if id == "" && ts == "" && sig == "" {
		id = headerValue(r.Header, SvixIDHeader)
		ts = headerValue(r.Header, SvixTimestampHeader)
		sig = headerValue(r.Header, SvixSignatureHeader)
	}
	return s.VerifyHeaders(id, ts, sig, body)
}

// VerifyHeaders checks the values of the id, timestamp and signature headers
// over body, for hosts that receive deliveries through something other than
// net/http.
func (s *Standard) VerifyHeaders(id, timestamp, signature string, body []byte) error {
	if id == "" || timestamp == "" || signature == "" {
		return newError(standardScheme, 0, ErrMissingSignature,
			"webhook-id, webhook-timestamp and webhook-signature (or svix-*) are all required")
	}
	if len(signature) > maxHeaderBytes {
		return newError(standardScheme, 0, ErrMalformedSignature,
			fmt.Sprintf("webhook-signature is %d bytes, limit %d", len(signature), maxHeaderBytes))
	}
	if n := strings.Count(signature, " ") + 1; n > maxHeaderEntries {
		return newError(standardScheme, 0, ErrMalformedSignature,
			fmt.Sprintf("webhook-signature has %d entries, limit %d", n, maxHeaderEntries))
	}
	ts, ok := parseUnix(timestamp)
	if !ok {
		return newError(standardScheme, 0, ErrMalformedSignature, "webhook-timestamp is not an integer")
	}
	if err := checkTimestamp(standardScheme, ts, s.now(), s.tolerance); err != nil {
		return err
	}
	sawV1 := false
	for _, k := range s.macs {
		st := k.get()
		st.writePrefixed(id, '.', timestamp, ts, '.')
		st.h.Write(body)
		matched, v1 := standardMatches(signature, st.finish())
		k.put(st)
		if matched {
			return nil
		}
		sawV1 = v1
	}
	if !sawV1 {
		return newError(standardScheme, 0, ErrMissingSignature, "webhook-signature has no v1 entry")
	}
	return newError(standardScheme, 0, ErrSignatureMismatch,
		"no v1 signature matches; check the secret (base64 after whsec_) and that the body is the raw bytes received")
}

// standardMatches reports whether any "v1,<sig>" entry carries mac, and
// whether there was any v1 entry at all. Like the reference library it
// accepts only the canonical base64 of the MAC (see decodeBase64), and it
// reads the signature up to a second comma. Every entry is compared in
// full with hmac.Equal.
func standardMatches(header string, mac []byte) (matched, sawV1 bool) {
	var sent [sha256.Size]byte
	for rest, more := header, true; more; {
		var entry string
		entry, rest, more = strings.Cut(rest, " ")
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		sawV1 = true
		sig, _, _ = strings.Cut(sig, ",")
		if decodeBase64(sent[:], sig) && hmac.Equal(sent[:], mac) {
			matched = true
		}
	}
	return matched, sawV1
}
