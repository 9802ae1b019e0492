// Package verify checks webhook signatures: [Stripe], [Twilio], [Standard]
// Webhooks (and Svix), and the many senders that put an HMAC-SHA256 of the
// body in a header (Etail Depot, GitHub, Shopify, Slack).
//
// # The one rule
//
// A signature covers the bytes the sender sent. Verify the raw request body
// before anything parses it: a framework that decodes and re-encodes the
// JSON (changing whitespace, key order or number formats) breaks every
// signature, and is the most common cause of "no valid signature" after a
// wrong secret. [Middleware] and [ReadBody] read the raw bytes for you.
//
// # Verifiers
//
// Every scheme implements [Verifier]:
//
//	type Verifier interface {
//		Verify(r *http.Request, body []byte) error
//	}
//
// Construct one per endpoint with [NewStripe], [NewTwilio], [NewStandard] or
// [NewHMAC]. Constructors refuse an empty secret and options that do not apply
// to the scheme, returning an error that wraps [ErrInvalidConfig]; there is no
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
// signature. [StatusCode] maps an error to the status to answer with: 400, or
// 403 for Twilio (whose documentation asks for 403 Forbidden), and 413 for a
// body over the limit.
//
// # Timestamps and replay
//
// Stripe, Standard Webhooks and HMAC with [WithTimestampHeader] sign a Unix
// timestamp. It must lie within the tolerance ([WithTolerance], default five
// minutes) of the clock ([WithClock], default time.Now) in both directions;
// stripe-go and several other SDKs check only the past. Within the window a
// captured delivery can still be replayed, which is why hookkit also
// deduplicates by event ID (package idempotency).
//
// # Standard Webhooks: symmetric and asymmetric signatures, and Svix
//
// [NewStandard] takes the sender's symmetric secret ("whsec_<base64>", v1
// entries: HMAC-SHA256) or its ed25519 public key ("whpk_<base64>", v1a
// entries), and [WithSecrets] more of either: a sender that moves from one
// to the other signs with both for a while, and each configured key is
// tried against every entry of its kind. A receiver that holds only a
// public key cannot be made to forge a delivery. A signing key ("whsk_")
// is refused: it belongs to the sender alone. Package verifytest signs
// both kinds (verifytest.StandardKeyPair makes a key pair).
//
// Svix sends the same scheme under svix-id, svix-timestamp and
// svix-signature. Each of the three is read from its svix- header when that
// header is present (even empty), and otherwise from its webhook- header,
// as svix-js reads them (svix-go differs only when the svix- family is
// incomplete: it then reads all three webhook- headers). Every value read
// is under the signature, so the rule only decides which ID was signed;
// events/standardevent takes the event ID by the same rule, so a header
// added beside the signed one cannot give a replay a new key.
//
// # Secret rotation
//
// [WithSecrets] adds secrets accepted besides the constructor's: during a
// rotation Stripe signs with both the old and the new secret (several v1
// entries), and the verifier accepts a match with any. Remove the old secret
// once the sender has switched.
//
// # Twilio behind a proxy
//
// Twilio signs the URL it requested. Behind a TLS-terminating proxy, a load
// balancer or a tunnel, the scheme and host the application sees are not the
// ones Twilio used, and validation fails. Give the public origin with
// [WithPublicURL]. X-Forwarded-Proto and X-Forwarded-Host are read only with
// [WithTrustedForwardedHeaders], for a proxy that always overwrites them: a
// client can send them too, and trusting them unasked would let a callback
// Twilio signed for another URL of the same account verify here. The
// verifier accepts the URL with and without its port,
// as Twilio's libraries do, because Twilio's products differ on whether the
// default port is part of the signed URL.
//
// # Wrapping existing handlers
//
// [Middleware] turns any [Verifier] into func(http.Handler) http.Handler: it
// reads the body up to a limit (1 MiB by default; 413 past it), verifies it,
// answers 400 (403 for Twilio) on failure without calling the handler, and
// on success hands the handler a body it can read as usual.
//
// # Testing
//
// Package verifytest signs requests for every scheme, so host applications
// can test their handlers with deliveries that pass these verifiers.
//
// # Security notes
//
// Signatures prove who sent a delivery, not that nobody read it: terminate
// TLS in front of the endpoints. Every signature is compared in full with
// hmac.Equal, with no early exit on a partial match. Signature headers over
// 8 KiB or with more than 64 entries are refused before any MAC is
// computed. Errors and logs never contain a secret or a signature.
//
// # Troubleshooting
//
// Stripe says "no signatures found matching the expected signature", or
// this package says "signature mismatch": most often the secret. Each
// endpoint has its own whsec_..., and the Stripe CLI's stripe listen prints
// another one than the Dashboard. Next most often the body: a framework
// parsed the JSON and re-serialised it, so the bytes are no longer the ones
// Stripe signed. Verify the raw body.
//
// A Standard Webhooks secret is refused, or a Stripe secret was given to
// [NewStandard]: Stripe's whsec_... is used as text, Standard Webhooks'
// whsec_... is base64 of the key. [NewStandard] refuses a secret that is not
// base64 and says so.
//
// Twilio validation fails behind a proxy, a tunnel or a load balancer:
// Twilio signed https://api.example.com/..., the application sees
// http://10.0.0.5:8080/... Set [WithPublicURL]. Non-default ports are tried
// with and without the port; the query string must reach the application
// in the order Twilio sent it; parameters are sorted by name only (Reason
// before ReasonConferenceEnded). The error names the URL that was tried.
//
// Twilio JSON webhooks: Twilio signs only the URL, which carries
// bodySHA256; the verifier also checks that the body hashes to it, so a
// forged body on a captured URL is refused.
package verify
