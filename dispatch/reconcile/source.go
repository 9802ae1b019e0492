package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A Source reads one sender's API for the events it kept: Stripe's List
// Events (NewStripe here), Twilio's Messages (package
// dispatch/reconcile/twilioreconcile). A Reconciler asks it for pages of a
// window of time, one stream after another, and feeds what it returns to
// its Endpoint.
type Source interface {
	// Name names the Source's checkpoint, unique among a host's
	// Reconcilers: "stripe", "twilio:AC...".
	Name() string
	// Streams returns the queries that together fetch every event any of
	// patterns (dispatch.Router.Patterns) matches, each named by a string
	// that stays the same while the patterns do. None, when no pattern
	// matches an event the sender keeps: then nothing is fetched.
	Streams(patterns []string) []string
	// Page reads one page of q.Stream in the window [q.Since, q.Until],
	// both whole seconds and inclusive, after q.Cursor ("" for the first
	// page), at most q.Limit events. Cursors are the Source's own: the
	// same cursor reads the same page again (a crash resumes with it). A
	// sender's 429 is an error wrapping a *RateLimitError.
	Page(ctx context.Context, q Query) (Page, error)
}

// Query is one page a Reconciler asks its Source for.
type Query struct {
	Stream       string
	Since, Until time.Time
	Cursor       string
	Limit        int
}

// Page is what a Source read.
type Page struct {
	// Events are the events as their sender would have posted them (a
	// Stripe event object, a Twilio status callback form), for
	// dispatch.Endpoint.Recover.
	Events [][]byte
	// Next is the cursor of the page after this one, when More.
	Next string
	// More reports whether the stream has more pages in the window.
	More bool
}

// RateLimitError is a sender's 429: too many requests. A Reconciler waits
// RetryAfter (the sender's Retry-After, or its own backoff when zero) and
// asks for the same page again.
type RateLimitError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *RateLimitError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("rate limited (429), retry after %s: %v", e.RetryAfter, e.Err)
	}
	return fmt.Sprintf("rate limited (429): %v", e.Err)
}

func (e *RateLimitError) Unwrap() error { return e.Err }

// ErrRateLimited is wrapped by a *RateLimitError whose Err is nil.
var ErrRateLimited = errors.New("reconcile: rate limited")

// rateLimited returns err's *RateLimitError, if it is one.
func rateLimited(err error) (*RateLimitError, bool) {
	var rl *RateLimitError
	ok := errors.As(err, &rl)
	return rl, ok
}
