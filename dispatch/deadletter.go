package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookkit/hookkit/events"
)

// DeadLetter is an event that will not be retried by itself: its handler
// failed permanently, its payload did not decode, its type had no handler
// under DeadLetterUnknown, or (async mode) it failed every attempt.
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

// MemoryDeadLetters keeps dead letters in memory, at most Max (default
// 10,000), for inspection and re-running. Like everything in memory, it
// loses them if the process ends; implement DeadLetterSink on your database
// to keep them. Its zero value is ready to use and it is safe for
// concurrent use.
type MemoryDeadLetters struct {
	Max int

	mu      sync.Mutex
	letters []DeadLetter
}

// DeadLetter implements DeadLetterSink.
func (m *MemoryDeadLetters) DeadLetter(_ context.Context, dl DeadLetter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := m.Max
	if limit <= 0 {
		limit = 10_000
	}
	if len(m.letters) >= limit {
		return fmt.Errorf("%d letters: %w", len(m.letters), ErrDeadLettersFull)
	}
	m.letters = append(m.letters, dl)
	return nil
}

// List returns the dead letters held, oldest first.
func (m *MemoryDeadLetters) List() []DeadLetter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]DeadLetter(nil), m.letters...)
}

// Rerun re-runs the dead letter of the event with key (Event.Key) through
// r, and forgets it when the handler succeeds. It bypasses deduplication:
// the event was acknowledged, so no delivery of it is pending. It returns
// the handler's error, or one wrapping ErrNotDeadLettered.
func (m *MemoryDeadLetters) Rerun(ctx context.Context, r *Router, key string) error {
	m.mu.Lock()
	i := -1
	for j, dl := range m.letters {
		if dl.Event.Key() == key {
			i = j
			break
		}
	}
	if i < 0 {
		m.mu.Unlock()
		return fmt.Errorf("%s: %w", key, ErrNotDeadLettered)
	}
	dl := m.letters[i]
	m.mu.Unlock()

	if err := Rerun(ctx, r, dl); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for j, other := range m.letters {
		if other.Event == dl.Event {
			m.letters = append(m.letters[:j], m.letters[j+1:]...)
			break
		}
	}
	return nil
}

// ErrNotDeadLettered means no dead letter has the key asked for.
var ErrNotDeadLettered = errors.New("dispatch: no such dead letter")

// Rerun runs a dead letter's event through r once more, as a handler that
// has since been fixed or added would see it, counting it as the next
// attempt.
func Rerun(ctx context.Context, r *Router, dl DeadLetter) error {
	return r.Dispatch(withAttempt(ctx, dl.Attempts+1), dl.Event)
}
