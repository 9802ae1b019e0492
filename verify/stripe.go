package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const (
	stripeScheme = "stripe"
	// StripeHeader is the header Stripe signs its deliveries in.
	StripeHeader = "Stripe-Signature"
)

// Stripe verifies the Stripe-Signature header of a Stripe webhook delivery:
// "t=<unix>,v1=<hex>[,v1=<hex>...]", where each v1 is the hex HMAC-SHA256,
// keyed with the endpoint's whole "whsec_..." signing secret, of
// "<t>.<raw body>". Any v1 entry may match any configured secret; v0 and
// unknown entries are ignored.
//
// Its accept/reject decision equals stripe-go's ValidatePayloadWithTolerance
// on every input, with these deliberate differences:
//   - a header without t is malformed (stripe-go treats it as too old, so
//     both reject);
//   - a timestamp further in the future than the tolerance is rejected with
//     ErrTimestampTooNew (stripe-go accepts any future timestamp);
//   - a header over 8 KiB or with more than 64 entries is rejected as
//     malformed before any MAC is computed.
//
// Unlike stripe-go's ConstructEvent, Stripe never looks at the event's
// api_version: verification and decoding are separate steps.
//
// A Stripe is safe for concurrent use.
type Stripe struct {
	macs      []*keyedMAC
	tolerance time.Duration
	now       func() time.Time
}

// NewStripe returns a verifier for the endpoint signing secret secret (the
// "whsec_..." string shown for the endpoint in the Dashboard, or printed by
// `stripe listen`; the two differ). Use WithSecrets to accept a second secret
// while rolling, and WithTolerance and WithClock to change the timestamp
// check. An empty secret, or an API key where the signing secret belongs, is
// an error wrapping ErrInvalidConfig.
func NewStripe(secret string, opts ...Option) (*Stripe, error) {
	c, err := newConfig(stripeScheme, opts, secretOptions, timeOptions)
	if err != nil {
		return nil, err
	}
	macs, err := secretKeys(stripeScheme, sha256.New, secret, c, func(_ int, s string) ([]byte, error) {
		for _, apiKey := range []string{"sk_", "rk_", "pk_"} {
			if strings.HasPrefix(s, apiKey) {
				return nil, fmt.Errorf("starts with %q, an API key; use the endpoint's whsec_ signing secret: %w", apiKey, ErrInvalidConfig)
			}
		}
		return []byte(s), nil
	})
	if err != nil {
		return nil, err
	}
	return &Stripe{macs: macs, tolerance: c.tolerance, now: c.now}, nil
}

// Tolerance returns how old a signature s accepts: deliveries signed
// longer ago than this are refused, so a captured one cannot be replayed
// past it (dispatch.WithMaxAge).
func (s *Stripe) Tolerance() time.Duration { return s.tolerance }

// Verify checks r's Stripe-Signature header over body, the raw bytes as
// received. It returns nil or an *Error wrapping one of the sentinels.
func (s *Stripe) Verify(r *http.Request, body []byte) error {
	return s.VerifyHeader(headerValue(r.Header, StripeHeader), body)
}

// VerifyHeader checks a Stripe-Signature header value over body, for hosts
// that receive deliveries through something other than net/http.
func (s *Stripe) VerifyHeader(header string, body []byte) error {
	if header == "" {
		return newError(stripeScheme, 0, ErrMissingSignature, "no Stripe-Signature header")
	}
	var h stripeHeader
	if err := h.parse(header); err != nil {
		return err
	}
	if err := checkTimestamp(stripeScheme, h.ts, s.now(), s.tolerance); err != nil {
		return err
	}
	for _, k := range s.macs {
		st := k.get()
		st.writeTimestamp(h.tsText, h.ts, '.')
		st.h.Write(body)
		ok := h.matches(header, st.finish())
		k.put(st)
		if ok {
			return nil
		}
	}
	return newError(stripeScheme, 0, ErrSignatureMismatch,
		"no v1 signature matches; check the secret is this endpoint's (the Stripe CLI's differs from the Dashboard's) and the body is the raw bytes received")
}

// stripeHeader is a parsed Stripe-Signature header. The first few v1
// signatures are decoded during parsing; a header with more (a rotation
// rarely has more than two) is read again when matching.
type stripeHeader struct {
	ts     int64
	tsText string
	sigs   [4][sha256.Size]byte
	n      int
	more   bool
}

// parse validates a header the way stripe-go does (every entry must be
// exactly one "key=value"; t must be an integer, the last one wins; v1
// entries that are not hex are skipped) and records its timestamp and
// signatures.
func (h *stripeHeader) parse(header string) error {
	if len(header) > maxHeaderBytes {
		return newError(stripeScheme, 0, ErrMalformedSignature,
			fmt.Sprintf("Stripe-Signature is %d bytes, limit %d", len(header), maxHeaderBytes))
	}
	hasTS := false
	entries, v1Count := 0, 0
	for rest, more := header, true; more; {
		var entry string
		entry, rest, more = strings.Cut(rest, ",")
		if entries++; entries > maxHeaderEntries {
			return newError(stripeScheme, 0, ErrMalformedSignature,
				fmt.Sprintf("Stripe-Signature has more than %d entries", maxHeaderEntries))
		}
		key, value, ok := strings.Cut(entry, "=")
		if !ok || strings.IndexByte(value, '=') >= 0 {
			return newError(stripeScheme, 0, ErrMalformedSignature,
				fmt.Sprintf("Stripe-Signature entry %d is not key=value", entries))
		}
		switch key {
		case "t":
			n, ok := parseUnix(value)
			if !ok {
				return newError(stripeScheme, 0, ErrMalformedSignature, "Stripe-Signature t is not an integer")
			}
			h.ts, h.tsText, hasTS = n, value, true
		case "v1":
			switch {
			case len(value) == 2*sha256.Size && h.n < len(h.sigs):
				if decodeHex(h.sigs[h.n][:], value) {
					h.n++
					v1Count++
				}
			case validHex(value):
				v1Count++
				h.more = h.more || len(value) == 2*sha256.Size
			}
		}
	}
	if v1Count == 0 {
		return newError(stripeScheme, 0, ErrMissingSignature, "Stripe-Signature has no hex v1 signature")
	}
	if !hasTS {
		return newError(stripeScheme, 0, ErrMalformedSignature, "Stripe-Signature has no t timestamp")
	}
	return nil
}

// matches reports whether any v1 signature of the header equals mac. Every
// candidate is compared in full with hmac.Equal.
func (h *stripeHeader) matches(header string, mac []byte) bool {
	matched := false
	for i := 0; i < h.n; i++ {
		if hmac.Equal(h.sigs[i][:], mac) {
			matched = true
		}
	}
	if !h.more {
		return matched
	}
	var sig [sha256.Size]byte
	for rest, more := header, true; more; {
		var entry string
		entry, rest, more = strings.Cut(rest, ",")
		if value, ok := strings.CutPrefix(entry, "v1="); ok && decodeHex(sig[:], value) && hmac.Equal(sig[:], mac) {
			matched = true
		}
	}
	return matched
}
