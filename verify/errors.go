package verify

import (
	"errors"
	"net/http"
	"os"

	"github.com/hookkit/hookkit/internal/configerr"
)

// The sentinel errors every verifier wraps. Test for them with errors.Is; the
// wrapping error says which provider and which check failed.
var (
	// ErrMissingSignature means the signature header (or a header the scheme
	// signs, such as a timestamp or message ID) is absent or empty, or holds
	// no signature of the scheme the verifier checks.
	ErrMissingSignature = errors.New("hookkit/verify: missing signature")
	// ErrMalformedSignature means a signature header is present but cannot
	// be parsed, or is larger than any real sender produces.
	ErrMalformedSignature = errors.New("hookkit/verify: malformed signature")
	// ErrSignatureMismatch means no signature in the request matches any
	// configured secret: a wrong secret, a body that is not the raw bytes
	// the sender signed, or a forgery.
	ErrSignatureMismatch = errors.New("hookkit/verify: signature mismatch")
	// ErrTimestampTooOld means the signed timestamp is older than the
	// tolerance: a replay, or a delivery that sat in a queue too long.
	ErrTimestampTooOld = errors.New("hookkit/verify: timestamp too old")
	// ErrTimestampTooNew means the signed timestamp is further in the future
	// than the tolerance allows.
	ErrTimestampTooNew = errors.New("hookkit/verify: timestamp too new")
)

var (
	// ErrInvalidConfig is returned by constructors and options for a
	// configuration that would not verify safely: an empty secret, a secret
	// in the wrong encoding, an option that does not apply to the scheme.
	ErrInvalidConfig = configerr.ErrInvalidConfig
	// ErrBodyTooLarge means the request body is larger than the configured
	// limit; it is answered with 413.
	ErrBodyTooLarge = errors.New("hookkit/verify: body too large")
	// ErrBodyUnreadable means the request body could not be read, usually
	// because the client went away.
	ErrBodyUnreadable = errors.New("hookkit/verify: body unreadable")
)

// Error is the concrete error every verifier returns. It wraps one of the
// sentinel errors and names the scheme and the check that failed, and it
// carries the HTTP status the receiver should answer with.
type Error struct {
	// Scheme is the scheme that rejected the request: "stripe", "twilio",
	// "standard-webhooks" or "hmac".
	Scheme string
	// Reason says which check failed, in words meant for a log.
	Reason string
	// Err is the sentinel the failure belongs to.
	Err error

	status int
}

func newError(scheme string, status int, sentinel error, reason string) *Error {
	return &Error{Scheme: scheme, Reason: reason, Err: sentinel, status: status}
}

// Error returns "<scheme>: <reason>: <sentinel>".
func (e *Error) Error() string {
	return e.Scheme + ": " + e.Reason + ": " + e.Err.Error()
}

// Unwrap returns the sentinel, so errors.Is works.
func (e *Error) Unwrap() error { return e.Err }

// StatusCode is the HTTP status to answer a rejected request with: 403 for
// Twilio (its documentation asks for 403 Forbidden on a failed validation),
// 400 for every other scheme.
func (e *Error) StatusCode() int {
	if e.status == 0 {
		return http.StatusBadRequest
	}
	return e.status
}

// StatusCode maps an error returned by a Verifier or by ReadBody to the HTTP
// status a receiver should answer with: 413 for a body over the limit, 408
// for a body that did not arrive before a read deadline, the verifier's own
// status for a rejected signature (403 for Twilio, 400 otherwise), and 400
// for anything else.
func StatusCode(err error) int {
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout
	}
	var verr *Error
	if errors.As(err, &verr) {
		return verr.StatusCode()
	}
	return http.StatusBadRequest
}
