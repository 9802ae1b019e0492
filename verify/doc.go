// Package verify checks webhook signatures: Stripe, Twilio, Standard
// Webhooks (and Svix), and the many senders that put an HMAC-SHA256 of the
// body in a header (Etail Depot, GitHub, Shopify, Slack).
//
// # The one rule
//
// A signature covers the bytes the sender sent. Verify the raw request body
// before anything parses it: a framework that decodes and re-encodes the
// JSON (changing whitespace, key order or number formats) breaks every
// signature, and is the most common cause of "no valid signature" after a
// wrong secret. Middleware and ReadBody read the raw bytes for you.
//
// # Verifiers
//
// Every scheme implements Verifier:
//
//	type Verifier interface {
//		Verify(r *http.Request, body []byte) error
//	}
//
// Construct one per endpoint with NewStripe, NewTwilio, NewStandard or
// NewHMAC. Constructors refuse an empty secret and options that do not apply
// to the scheme, returning an error that wraps ErrInvalidConfig; there is no
// way to build a verifier that accepts everything. All verifiers are safe
// for concurrent use and, once warm, allocate nothing per request.
//
// # Errors
//
// A rejection is an *Error that names the scheme and the check that failed
// and wraps one of five sentinels, so callers branch with errors.Is:
//
//	ErrMissingSignature   the signature header (or a signed header) is absent
//	ErrMalformedSignature a header is present but unparsable or oversized
//	ErrSignatureMismatch  no signature matches any configured secret
//	ErrTimestampTooOld    the signed timestamp is older than the tolerance
//	ErrTimestampTooNew    the signed timestamp is too far in the future
//
// The error text is safe to log: it never contains a secret or the expected
// signature. StatusCode maps an error to the status to answer with: 400, or
// 403 for Twilio (whose documentation asks for 403 Forbidden), and 413 for a
// body over the limit.
//
// # Timestamps and replay
//
// Stripe, Standard Webhooks and HMAC with WithTimestampHeader sign a Unix
// timestamp. It must lie within the tolerance (WithTolerance, default five
// minutes) of the clock (WithClock, default time.Now) in both directions;
// stripe-go and several other SDKs check only the past. Within the window a
// captured delivery can still be replayed, which is why hookkit also
// deduplicates by event ID (package idempotency).
//
// # Secret rotation
//
// WithSecrets adds secrets accepted besides the constructor's: during a
// rotation Stripe signs with both the old and the new secret (several v1
// entries), and the verifier accepts a match with any. Remove the old secret
// once the sender has switched.
//
// # Twilio behind a proxy
//
// Twilio signs the URL it requested. Behind a TLS-terminating proxy, a load
// balancer or a tunnel, the scheme and host the application sees are not the
// ones Twilio used, and validation fails. Give the public origin with
// WithPublicURL. X-Forwarded-Proto and X-Forwarded-Host are read only with
// WithTrustedForwardedHeaders, for a proxy that always overwrites them: a
// client can send them too, and trusting them unasked would let a callback
// Twilio signed for another URL of the same account verify here. The
// verifier accepts the URL with and without its port,
// as Twilio's libraries do, because Twilio's products differ on whether the
// default port is part of the signed URL.
//
// # Wrapping existing handlers
//
// Middleware turns any Verifier into func(http.Handler) http.Handler: it
// reads the body up to a limit (1 MiB by default; 413 past it), verifies it,
// answers 400 (403 for Twilio) on failure without calling the handler, and
// on success hands the handler a body it can read as usual.
//
// # Testing
//
// Package verifytest signs requests for every scheme, so host applications
// can test their handlers with deliveries that pass these verifiers.
package verify
