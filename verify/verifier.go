package verify

import "net/http"

// Verifier checks that a webhook delivery was signed by its sender.
//
// Implementations read only the headers (and, for Twilio, the URL) of r;
// body must be the raw bytes as received, never a re-serialised copy. Verify
// returns nil when the signature holds and otherwise an error wrapping one of
// ErrMissingSignature, ErrMalformedSignature, ErrSignatureMismatch,
// ErrTimestampTooOld or ErrTimestampTooNew. The verifiers in this package
// are safe for concurrent use.
type Verifier interface {
	// Verify checks r's signature over body, the raw bytes as received.
	Verify(r *http.Request, body []byte) error
}

// VerifierFunc adapts a function to the Verifier interface, as
// http.HandlerFunc does for handlers.
type VerifierFunc func(r *http.Request, body []byte) error

// Verify calls f(r, body).
func (f VerifierFunc) Verify(r *http.Request, body []byte) error { return f(r, body) }

var (
	_ Verifier = (*Stripe)(nil)
	_ Verifier = (*Twilio)(nil)
	_ Verifier = (*Standard)(nil)
	_ Verifier = (*HMAC)(nil)
)
