package verify

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	public    []ed25519.PublicKey // v1a: the senders' whpk_ keys
	messages  sync.Pool           // *[]byte: "<id>.<timestamp>.<body>" for ed25519
	tolerance time.Duration
	now       func() time.Time
}

// NewStandard returns a verifier for secret, given as "whsec_<base64>" (as
// Svix and most Standard Webhooks senders display it) or as the bare base64.
// Unlike Stripe's, this secret is not used as text: its base64 is decoded
// into the key, so a secret that is not valid base64 is an error wrapping
// ErrInvalidConfig (and a Stripe whsec_ secret will not verify here).
//
// The secret may instead be the sender's ed25519 public key,
// "whpk_<base64>", for the specification's asymmetric v1a signatures: a
// receiver that holds only the public key cannot be made to sign anything.
// WithSecrets takes either kind, so a sender moving from symmetric to
// asymmetric signatures (or rotating either) is verified throughout: each
// configured key may match any entry of its kind, whsec_ keys the v1
// entries and whpk_ keys the v1a ones. The sender's secret key,
// "whsk_<base64>", is refused: it signs, and belongs only to the sender.
func NewStandard(secret string, opts ...Option) (*Standard, error) {
	c, err := newConfig(standardScheme, opts, secretOptions, timeOptions)
	if err != nil {
		return nil, err
	}
	s := &Standard{tolerance: c.tolerance, now: c.now}
	var symmetric []string
	for i, k := range append([]string{secret}, c.extraSecrets...) {
		switch {
		case strings.HasPrefix(k, standardPublicPrefix):
			pub, err := DecodeStandardPublicKey(k)
			if err != nil {
				return nil, fmt.Errorf("%s: secret %d: %w", standardScheme, i, err)
			}
			s.public = append(s.public, pub)
		case strings.HasPrefix(k, standardSigningPrefix):
			return nil, fmt.Errorf("%s: secret %d is a whsk_ signing key, which only the sender may hold; "+
				"give the receiver its public key (whpk_<base64>) instead: %w", standardScheme, i, ErrInvalidConfig)
		default:
			symmetric = append(symmetric, k)
		}
	}
	if len(symmetric) > 0 {
		cfg := *c
		cfg.extraSecrets = symmetric[1:]
		if s.macs, err = secretKeys(standardScheme, sha256.New, symmetric[0], &cfg, func(_ int, k string) ([]byte, error) {
			return DecodeStandardSecret(k)
		}); err != nil {
			return nil, err
		}
	}
	s.messages.New = func() any { b := make([]byte, 0, 2048); return &b }
	return s, nil
}

// maxPooledMessage is the largest v1a message buffer kept for reuse: a
// rare large body must not stay in the pool.
const maxPooledMessage = 64 << 10

// The prefixes of the Standard Webhooks specification's ed25519 keys.
const (
	standardPublicPrefix  = "whpk_"
	standardSigningPrefix = "whsk_"
)

// DecodeStandardPublicKey turns a Standard Webhooks public key,
// "whpk_<base64>" of the 32-byte ed25519 public key, into the key. Any
// other form is an error wrapping ErrInvalidConfig that says which check
// failed: the prefix, the base64, the length, a non-canonical encoding
// (a y-coordinate not below 2^255-19), or a point of small order.
//
// Go's crypto/ed25519 (like Node's crypto) verifies with such a key: with
// the identity point (whpk_AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=)
// the signature R = identity, S = 0 verifies every message, and with 32
// zero bytes, a likely placeholder, about one message in four. A key of
// small order is no sender's key, so it is refused here, as an empty
// secret is: never a verifier that accepts everything.
func DecodeStandardPublicKey(key string) (ed25519.PublicKey, error) {
	b64, ok := strings.CutPrefix(key, standardPublicPrefix)
	if !ok {
		return nil, fmt.Errorf("public key must be whpk_<base64 of 32 bytes>: %w", ErrInvalidConfig)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("public key is not base64 after whpk_: %w: %w", err, ErrInvalidConfig)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key is %d bytes after whpk_, want an ed25519 key of %d: %w",
			len(raw), ed25519.PublicKeySize, ErrInvalidConfig)
	}
	if !canonicalY(raw) {
		return nil, fmt.Errorf("public key is not a canonical ed25519 encoding (its y-coordinate is not below 2^255-19): %w",
			ErrInvalidConfig)
	}
	if smallOrder(raw) {
		return nil, fmt.Errorf("public key is an ed25519 point of small order, which verifies forged signatures: %w",
			ErrInvalidConfig)
	}
	return ed25519.PublicKey(raw), nil
}

// smallOrderY holds the y-coordinates, little-endian in hex, of the eight
// points of edwards25519 whose order divides 8: y = 0 (the two points of
// order 4), y = 1 (the identity), y = p-1 (order 2), and the two
// y-coordinates of the four points of order 8, ±y8 with y8 a root of
// d·y⁴ + 2·y² - 1 = 0 (the points P with 2P of order 4). With p = 2^255-19
// and d = -121665/121666, each was computed from the curve equation and
// checked by multiplying its points by 4 and by 8; the tests derive them
// again. Each y stands for its points of either sign, so an encoding is
// refused whatever its sign bit; a non-canonical encoding of them (p or
// p+1, for y = 0 and y = 1) is refused by canonicalY first.
var smallOrderY = [...]string{
	"0000000000000000000000000000000000000000000000000000000000000000", // 0
	"0100000000000000000000000000000000000000000000000000000000000000", // 1
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p-1
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // y8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // p-y8
}

// smallOrder reports whether the 32-byte encoding key is a point of small
// order: its y-coordinate (the sign bit of x cleared) is in smallOrderY.
func smallOrder(key []byte) bool {
	var y [32]byte
	copy(y[:], key)
	y[31] &= 0x7f
	return slices.Contains(smallOrderY[:], hex.EncodeToString(y[:]))
}

// canonicalY reports whether the 32-byte encoding key has a y-coordinate
// below p = 2^255-19. Read little-endian with the sign bit cleared, y >= p
// exactly when bytes 1 to 30 are 0xff, byte 31 is 0x7f and byte 0 is at
// least 0xed (p's lowest byte).
func canonicalY(key []byte) bool {
	if key[31]&0x7f != 0x7f || key[0] < 0xed {
		return true
	}
	for _, b := range key[1:31] {
		if b != 0xff {
			return true
		}
	}
	return false
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

// Tolerance returns how old a signature s accepts: deliveries signed
// longer ago than this are refused, so a captured one cannot be replayed
// past it (dispatch.WithMaxAge).
func (s *Standard) Tolerance() time.Duration { return s.tolerance }

// Verify checks r's Standard Webhooks headers over body, the raw bytes as
// received. It returns nil or an *Error wrapping one of the sentinels.
//
// Svix sends the same three headers with a svix- prefix, and a delivery may
// carry both families. Each of id, timestamp and signature is read on its
// own: from its svix- header when that header is present (even empty),
// otherwise from its webhook- header; of a repeated header, the first
// value. This is svix-js's rule (it reads svix-id ?? webhook-id, and so on,
// before Standard Webhooks' own check that all three are non-empty), so the
// two accept the same deliveries and sign-check the same values. svix-go
// differs only on a delivery whose svix- family is incomplete (one of the
// three absent or empty): it then reads all three from the webhook-
// family. Every value read is under the signature, so the rule cannot let
// a forgery through; what it decides is which ID was signed, and
// standardevent's parser takes the event ID by the same rule (its
// JSONConfig.IDHeaders lists svix-id first, and the first header present
// wins), so an unsigned header added beside the signed one never becomes
// the event's key.
func (s *Standard) Verify(r *http.Request, body []byte) error {
	h := r.Header
	return s.VerifyHeaders(standardHeader(h, SvixIDHeader, StandardIDHeader),
		standardHeader(h, SvixTimestampHeader, StandardTimestampHeader),
		standardHeader(h, SvixSignatureHeader, StandardSignatureHeader), body)
}

// standardHeader returns the first value of the svix- header when it is
// present, and otherwise of the webhook- one (both names canonical, as
// net/http's server stores them).
func standardHeader(h http.Header, svix, standard string) string {
	if v := h[svix]; len(v) > 0 {
		return v[0]
	}
	if v := h[standard]; len(v) > 0 {
		return v[0]
	}
	return ""
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
	sawV1, sawV1a := false, false
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
	if len(s.public) > 0 {
		matched, v1a := s.asymmetricMatches(signature, id, ts, body)
		if matched {
			return nil
		}
		sawV1a = v1a
	}
	switch {
	case len(s.public) == 0 && !sawV1:
		return newError(standardScheme, 0, ErrMissingSignature, "webhook-signature has no v1 entry")
	case len(s.macs) == 0 && !sawV1a:
		return newError(standardScheme, 0, ErrMissingSignature,
			"webhook-signature has no v1a entry (the configured keys are whpk_ public keys, which verify v1a signatures)")
	case !sawV1 && !sawV1a:
		return newError(standardScheme, 0, ErrMissingSignature, "webhook-signature has neither a v1 nor a v1a entry")
	case len(s.macs) == 0:
		return newError(standardScheme, 0, ErrSignatureMismatch,
			"no v1a signature verifies with the configured whpk_ public keys; check the key and that the body is the raw bytes received")
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

// asymmetricMatches reports whether any "v1a,<sig>" entry is an ed25519
// signature of "<id>.<timestamp>.<body>" by one of the configured public
// keys, and whether there was any v1a entry at all. An entry that is not
// the canonical base64 of 64 bytes matches nothing. The message is built
// once, only when there is a v1a entry, in a pooled buffer (kept for reuse
// up to maxPooledMessage); each entry costs at most one verification per
// key, and the header bounds (64 entries) bound the work. A public-key
// signature hides nothing, so the loop may stop at the first match.
func (s *Standard) asymmetricMatches(header, id string, ts int64, body []byte) (matched, sawV1a bool) {
	if !strings.Contains(header, "v1a,") {
		return false, false
	}
	buf := s.messages.Get().(*[]byte)
	msg := append(append((*buf)[:0], id...), '.')
	msg = append(strconv.AppendInt(msg, ts, 10), '.')
	msg = append(msg, body...)
	if cap(msg) <= maxPooledMessage {
		*buf = msg[:0]
	}
	defer s.messages.Put(buf)
	var sig [ed25519.SignatureSize]byte
	for rest, more := header, true; more; {
		var entry string
		entry, rest, more = strings.Cut(rest, " ")
		version, text, ok := strings.Cut(entry, ",")
		if !ok || version != "v1a" {
			continue
		}
		sawV1a = true
		text, _, _ = strings.Cut(text, ",")
		if !decodeBase64(sig[:], text) {
			continue
		}
		for _, pub := range s.public {
			if ed25519.Verify(pub, msg, sig[:]) {
				return true, true
			}
		}
	}
	return false, sawV1a
}
