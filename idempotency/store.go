package idempotency

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookkit/hookkit/internal/configerr"
)

// Store records which deliveries are being processed and which are done, so
// that a handler runs to success at most once per event however often, and
// however concurrently, the sender delivers it.
//
// A key moves through these states:
//
//	absent ──Claim──► leased(token, until) ──Complete(token, keep)──► completed(until now+keep)
//	                       │                                                │
//	                       ├──Release(token)──► absent                      └──keep ends──► absent
//	                       └──lease ends──► expired (the next Claim takes it with a new token)
//
// Claim on an absent or expired key acquires a lease with a fresh token; on a
// leased key it reports Busy with the lease's end; on a completed key it
// reports Completed. Complete and Release succeed only for the current token
// of an unexpired lease: once a lease has ended, its holder has lost it (the
// key may already have a new holder), and both return an error wrapping
// ErrLeaseLost rather than touch someone else's claim. A store that cannot
// answer returns an error wrapping ErrUnavailable, never a guess.
//
// Implementations must be safe for concurrent use, including by several
// processes sharing one backend (Redis, PostgreSQL): of any number of
// concurrent Claims of one key, exactly one acquires.
type Store interface {
	// Claim tries to take key for lease.
	Claim(ctx context.Context, key string, lease time.Duration) (Claim, error)
	// Complete marks key done for at least keep, if token still holds it.
	Complete(ctx context.Context, key, token string, keep time.Duration) error
	// Release gives key back, unprocessed, if token still holds it, so
	// the next delivery can claim it at once.
	Release(ctx context.Context, key, token string) error
}

// State is the outcome of a Claim.
type State int

const (
	// Acquired means the caller holds the key until Claim.Expires and
	// must Complete or Release it with Claim.Token.
	Acquired State = iota + 1
	// Completed means the event was already processed successfully.
	Completed
	// Busy means another holder's lease is running until Claim.Expires.
	Busy
)

// String returns "acquired", "completed" or "busy".
func (s State) String() string {
	switch s {
	case Acquired:
		return "acquired"
	case Completed:
		return "completed"
	case Busy:
		return "busy"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Claim is the answer to Store.Claim.
type Claim struct {
	State State
	// Token identifies this holder; set when State is Acquired.
	Token string
	// Expires is when the lease ends: the caller's own (Acquired) or the
	// other holder's (Busy). Zero for Completed.
	Expires time.Time
}

var (
	// ErrLeaseLost means the token no longer holds the key: its lease
	// ended (and perhaps another delivery claimed the key), or the key was
	// already completed or released.
	ErrLeaseLost = errors.New("idempotency: lease lost")
	// ErrUnavailable means the store could not be reached or could not
	// answer; the caller must treat the delivery as not processed.
	ErrUnavailable = errors.New("idempotency: store unavailable")
	// ErrInvalid means an argument is unusable: an empty key or token, or
	// a lease or keep that is not positive.
	ErrInvalid = errors.New("idempotency: invalid argument")
	// ErrInvalidConfig means a store's constructor was given a
	// configuration that cannot work (a nil client, a bad table name, a
	// negative bound). It is the same sentinel as verify.ErrInvalidConfig
	// and dispatch.ErrInvalidConfig.
	ErrInvalidConfig = configerr.ErrInvalidConfig
)

// Defaults that follow from the senders' retry windows.
const (
	// DefaultKeep is how long a completed key is remembered: longer than
	// Stripe's three days of retries and the Standard Webhooks schedule's
	// roughly 75 hours.
	DefaultKeep = 96 * time.Hour
	// DefaultLease is how long a claim is held before another delivery may
	// take it over; keep it above the handler timeout.
	DefaultLease = 2 * time.Minute
)
