package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookkit/hookkit/dispatch/internal/headers"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/internal/logtext"
)

// DeadLetter is an event that will not be retried by itself: its handler
// failed permanently, its payload did not decode, or its type had no
// handler under DeadLetterUnknown. Its key is Event.Key().
type DeadLetter struct {
	Event *events.Event
	// Err is why; never nil.
	Err error
	// Attempts is how many times a handler ran (0 for unknown types).
	Attempts int
	At       time.Time
}

// DeadLetterSink stores dead letters. DeadLetter must keep the letter (an
// error means it could not, and the Endpoint then answers 500 so the sender
// retries: an event is never acknowledged without being stored somewhere).
type DeadLetterSink interface {
	DeadLetter(ctx context.Context, dl DeadLetter) error
}

// ErrDeadLettersFull means a MemoryDeadLetters holds its maximum.
var ErrDeadLettersFull = errors.New("dispatch: dead-letter store full")

// DefaultMaxDeadLetters is how many dead letters a MemoryDeadLetters holds
// unless NewMemoryDeadLetters says otherwise.
const DefaultMaxDeadLetters = 10_000

// MemoryDeadLetters keeps dead letters in memory, for tests and for
// inspection and re-running. Like everything in memory, it loses them if
// the process ends: production wants a durable sink on the database. Its
// zero value holds up to DefaultMaxDeadLetters; it is safe for concurrent
// use.
type MemoryDeadLetters struct {
	max int

	mu      sync.Mutex
	letters []DeadLetter
	// rerunning holds the keys of letters taken out for a re-run; a
	// concurrent Rerun of one waits on its channel.
	rerunning map[string]chan struct{}
}

// NewMemoryDeadLetters returns a MemoryDeadLetters that holds at most max
// letters (DefaultMaxDeadLetters when max is not positive); past that,
// DeadLetter fails with ErrDeadLettersFull, and the Endpoint answers 500
// rather than acknowledge an event it could not keep.
func NewMemoryDeadLetters(max int) *MemoryDeadLetters { return &MemoryDeadLetters{max: max} }

// DeadLetter implements DeadLetterSink. It keeps a copy of the event with
// only the headers a re-run needs (never a signature or a credential).
func (m *MemoryDeadLetters) DeadLetter(_ context.Context, dl DeadLetter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := m.max
	if limit <= 0 {
		limit = DefaultMaxDeadLetters
	}
	if len(m.letters)+len(m.rerunning) >= limit {
		return fmt.Errorf("%d letters: %w", len(m.letters)+len(m.rerunning), ErrDeadLettersFull)
	}
	e := *dl.Event
	e.Header = headers.Kept(e.Header)
	dl.Event = &e
	m.letters = append(m.letters, dl)
	return nil
}

// List returns the dead letters held, oldest first (not those being
// re-run).
func (m *MemoryDeadLetters) List() []DeadLetter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]DeadLetter(nil), m.letters...)
}

// Stats counts the dead letters held, for gauges (dispatch/otelobserver).
func (m *MemoryDeadLetters) Stats(context.Context) (QueueStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return QueueStats{DeadLetters: int64(len(m.letters) + len(m.rerunning))}, nil
}

// Rerun re-runs the dead letter of the event with key (Event.Key) through
// r (Router.Retry), and forgets it when the handler succeeds. It bypasses
// deduplication: the event was acknowledged, so no delivery of it is
// pending. It returns the handler's error, or one wrapping
// ErrNotDeadLettered.
//
// The letter is taken out under the lock before its handler runs and put
// back, one attempt more and with the new error, if the handler fails: two
// re-runs at once (a double click) never run it twice. The second waits
// for the first, and then finds the letter gone (ErrNotDeadLettered) or,
// if the first failed, runs it again.
func (m *MemoryDeadLetters) Rerun(ctx context.Context, r *Router, key string) error {
	dl, err := m.take(ctx, key)
	if err != nil {
		return err
	}
	runErr := r.Retry(ctx, dl)

	m.mu.Lock()
	defer m.mu.Unlock()
	close(m.rerunning[key])
	delete(m.rerunning, key)
	if runErr != nil {
		dl.Attempts++
		dl.Err = runErr
		m.letters = append(m.letters, DeadLetter{})
		i := len(m.letters) - 1
		for i > 0 && m.letters[i-1].At.After(dl.At) { // keep oldest first
			m.letters[i] = m.letters[i-1]
			i--
		}
		m.letters[i] = dl
	}
	return runErr
}

// take removes the letter of key and marks it being re-run, waiting for a
// re-run of it already under way to end first.
func (m *MemoryDeadLetters) take(ctx context.Context, key string) (DeadLetter, error) {
	for {
		m.mu.Lock()
		if wait, busy := m.rerunning[key]; busy {
			m.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return DeadLetter{}, ctx.Err()
			}
		}
		defer m.mu.Unlock()
		for i, dl := range m.letters {
			if dl.Event.Key() == key {
				m.letters = append(m.letters[:i], m.letters[i+1:]...)
				if m.rerunning == nil {
					m.rerunning = map[string]chan struct{}{}
				}
				m.rerunning[key] = make(chan struct{})
				return dl, nil
			}
		}
		return DeadLetter{}, fmt.Errorf("%s: %w", logtext.Clip(key, 200), ErrNotDeadLettered)
	}
}

// DeadLetterFilter selects dead letters to list. Its zero value selects
// every open one, oldest first, up to DefaultDeadLetterLimit.
type DeadLetterFilter struct {
	// Source and Type, when not empty, must equal the event's.
	Source, Type string
	// Since and Until, when not zero, bound when the event was
	// dead-lettered: Since <= At < Until.
	Since, Until time.Time
	// Limit caps how many are returned (DefaultDeadLetterLimit when not
	// positive).
	Limit int
}

// DefaultDeadLetterLimit is how many dead letters a listing returns unless
// its filter says otherwise.
const DefaultDeadLetterLimit = 100

// ErrNotDeadLettered means no dead letter has the key asked for.
var ErrNotDeadLettered = errors.New("dispatch: no such dead letter")

// Retry runs a dead letter's event through r once more, as a handler that
// has since been fixed or added would see it, counting it as the next
// attempt (an AttemptRerun for r's observers). Dead-letter stores' Rerun
// methods call it.
func (r *Router) Retry(ctx context.Context, dl DeadLetter) error {
	return r.routes().attempt(WithAttempt(ctx, dl.Attempts+1), dl.Event, AttemptRerun)
}
