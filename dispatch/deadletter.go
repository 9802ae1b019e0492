package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hookkit/hookkit/dispatch/internal/headers"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/internal/logtext"
)

// DeadLetter is an event that will not be retried by itself: its handler
// failed permanently (a "*" handler that returns Permanent dead-letters the
// types nothing else handles), or its payload did not decode. Its key is
// Event.Key().
type DeadLetter struct {
	Event *events.Event
	// Err is why; never nil.
	Err error
	// Attempts is how many times a handler ran (0 for unknown types).
	Attempts int
	// At is when it was dead-lettered.
	At time.Time
	// Ref is the store's own name for it, for an operator, when it has
	// one: "river job 4211" for dispatch/riverqueue.
	Ref string
}

// MarshalJSON writes a dead letter as an operator's tools read it: the
// event's key, source, id, type and time, the error as text, the attempts,
// when, and the store's reference. Never the body or the headers (a
// customer's phone number, or email, is in the body).
func (dl DeadLetter) MarshalJSON() ([]byte, error) {
	v := struct {
		Key       string     `json:"key"`
		Source    string     `json:"source"`
		ID        string     `json:"id"`
		Type      string     `json:"type"`
		EventTime *time.Time `json:"event_time,omitempty"`
		Error     string     `json:"error"`
		Attempts  int        `json:"attempts"`
		At        time.Time  `json:"dead_at"`
		Ref       string     `json:"ref,omitempty"`
	}{Attempts: dl.Attempts, At: dl.At, Ref: dl.Ref}
	if e := dl.Event; e != nil {
		v.Key, v.Source, v.ID, v.Type = e.Key(), e.Source, e.ID, e.Type
		if !e.Time.IsZero() {
			t := e.Time
			v.EventTime = &t
		}
	}
	if dl.Err != nil {
		v.Error = logtext.Clip(dl.Err.Error(), 2000)
	}
	return json.Marshal(v)
}

// DeadLetterStore is where dead letters wait for an operator: listed a page
// at a time, fetched, re-run once their cause is fixed, or discarded.
// MemoryDeadLetters, dispatch/sqltx's and dispatch/pgxtx's DeadLetters and
// dispatch/riverqueue's implement it, and package dispatch/deadlettertest
// checks an implementation; package dispatch/admin serves one over HTTP.
//
// List's letters may come without their body, payload and headers (the
// database stores read none of them: a body may be a megabyte, and a
// listing shows none); Get returns a letter whole. A filter a store cannot
// compare (a NUL, invalid UTF-8), or a cursor it did not write, is an
// error wrapping ErrInvalidFilter.
//
// Rerun means one thing everywhere: run the event's handler again, through
// r (the router of the Endpoint the letter came from). The transactional
// stores run it once, now, and resolve the letter only if it succeeds; a
// handler that fails again leaves it open, one attempt more, and Rerun's
// error wraps ErrRerunFailed. dispatch/riverqueue puts the job back in the
// queue with a full set of attempts, run by its workers (with its own
// router; r must be that router or nil). A key that is not a dead letter
// is an error wrapping ErrNotDeadLettered; any other error means the store
// could not be reached. Concurrent re-runs of one letter run it once.
type DeadLetterStore interface {
	List(ctx context.Context, f DeadLetterFilter) (DeadLetterPage, error)
	Get(ctx context.Context, key string) (DeadLetter, error)
	Rerun(ctx context.Context, r *Router, key string) error
	Discard(ctx context.Context, key string) error
}

// DeadLetterPage is one page of a listing, oldest first.
type DeadLetterPage struct {
	Letters []DeadLetter
	// Next, when not empty, is DeadLetterFilter.After for the next page.
	Next string
}

// errNoEvent is what a dead-letter sink answers a letter without its
// event: there is nothing to keep or re-run.
var errNoEvent = fmt.Errorf("dispatch: a dead letter without its event: %w", events.ErrMalformedEvent)

// ErrRerunFailed means a dead letter's handler failed again when re-run:
// the letter stays, with the new error.
var ErrRerunFailed = errors.New("dispatch: the re-run handler failed again")

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

var _ DeadLetterStore = (*MemoryDeadLetters)(nil)

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
	// positions holds, by event key, the ordering guard's positions of
	// the default accept step that stored the letter (its Endpoint's): a
	// re-run of an ordered handler's letter is guarded by them, as its
	// delivery was. One sink may serve several Endpoints.
	positions map[string]*memoryPositions
}

// positionsKey marks the context of a dead letter stored by the default
// accept step with that step's positions (*memoryPositions).
type positionsKey struct{}

// NewMemoryDeadLetters returns a MemoryDeadLetters that holds at most max
// letters (DefaultMaxDeadLetters when max is not positive); past that,
// DeadLetter fails with ErrDeadLettersFull, and the Endpoint answers 500
// rather than acknowledge an event it could not keep.
func NewMemoryDeadLetters(max int) *MemoryDeadLetters { return &MemoryDeadLetters{max: max} }

// DeadLetter implements DeadLetterSink. It keeps a copy of the event with
// only the headers a re-run needs (never a signature or a credential).
func (m *MemoryDeadLetters) DeadLetter(ctx context.Context, dl DeadLetter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := m.max
	if limit <= 0 {
		limit = DefaultMaxDeadLetters
	}
	if len(m.letters)+len(m.rerunning) >= limit {
		return fmt.Errorf("%d letters: %w", len(m.letters)+len(m.rerunning), ErrDeadLettersFull)
	}
	if dl.Event == nil {
		return errNoEvent
	}
	e := *dl.Event
	e.Header = headers.Kept(e.Header)
	dl.Event = &e
	m.letters = append(m.letters, dl)
	if p, ok := ctx.Value(positionsKey{}).(*memoryPositions); ok {
		if m.positions == nil {
			m.positions = map[string]*memoryPositions{}
		}
		m.positions[e.Key()] = p
	}
	return nil
}

// List implements DeadLetterStore: the letters f selects, oldest first,
// a page at a time. The cursor is a position in the letters held.
func (m *MemoryDeadLetters) List(_ context.Context, f DeadLetterFilter) (DeadLetterPage, error) {
	limit := f.limit()
	start := 0
	if f.After != "" {
		n, err := strconv.Atoi(f.After)
		if err != nil || n < 0 {
			return DeadLetterPage{}, fmt.Errorf("dead letters: cursor %q: %w", logtext.Clip(f.After, 40), ErrInvalidFilter)
		}
		start = n
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var page DeadLetterPage
	for i := start; i < len(m.letters); i++ {
		if !f.selects(m.letters[i]) {
			continue
		}
		if len(page.Letters) == limit {
			page.Next = strconv.Itoa(i)
			break
		}
		page.Letters = append(page.Letters, m.letters[i])
	}
	return page, nil
}

// Get implements DeadLetterStore.
func (m *MemoryDeadLetters) Get(_ context.Context, key string) (DeadLetter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, dl := range m.letters {
		if dl.Event.Key() == key {
			return dl, nil
		}
	}
	return DeadLetter{}, fmt.Errorf("%s: %w", logtext.Clip(key, 200), ErrNotDeadLettered)
}

// Discard implements DeadLetterStore: the letter is forgotten.
func (m *MemoryDeadLetters) Discard(ctx context.Context, key string) error {
	if _, err := m.take(ctx, key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	close(m.rerunning[key])
	delete(m.rerunning, key)
	delete(m.positions, key)
	return nil
}

// Stats counts the dead letters held, for gauges (dispatch/otelobserver).
func (m *MemoryDeadLetters) Stats(context.Context) (QueueStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return QueueStats{DeadLetters: int64(len(m.letters) + len(m.rerunning))}, nil
}

// Rerun re-runs the dead letter of the event with key (Event.Key) through
// r (Router.Rerun), and forgets it when the handler succeeds. It bypasses
// deduplication: the event was acknowledged, so no delivery of it is
// pending. It returns an error wrapping ErrRerunFailed and the handler's
// error, or one wrapping ErrNotDeadLettered.
//
// The letter is taken out under the lock before its handler runs and put
// back, one attempt more and with the new error, if the handler fails: two
// re-runs at once (a double click) never run it twice. The second waits
// for the first, and then finds the letter gone (ErrNotDeadLettered) or,
// if the first failed, runs it again.
//
// An ordered handler (Ordered) re-runs under the guard its delivery had:
// the in-memory positions of the default accept step that dead-lettered
// it, unless ctx carries a Guard of its own (WithGuard).
func (m *MemoryDeadLetters) Rerun(ctx context.Context, r *Router, key string) error {
	dl, err := m.take(ctx, key)
	if err != nil {
		return err
	}
	runErr := m.rerun(ctx, r, dl)
	if runErr != nil {
		runErr = fmt.Errorf("%w: %w", ErrRerunFailed, runErr)
	}

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
	} else {
		delete(m.positions, key)
	}
	return runErr
}

// rerun runs dl through r, with the guard of the positions its letter was
// stored with when ctx carries none; the positions it advanced stay only
// if the handler succeeded (or found the event stale).
func (m *MemoryDeadLetters) rerun(ctx context.Context, r *Router, dl DeadLetter) error {
	m.mu.Lock()
	p := m.positions[dl.Event.Key()]
	m.mu.Unlock()
	if g, _ := ctx.Value(guardKey{}).(Guard); p == nil || g != nil {
		return r.Rerun(ctx, dl)
	}
	g := p.attempt()
	err := r.Rerun(WithGuard(ctx, g), dl)
	g.end(err == nil || errors.Is(err, ErrStale))
	return err
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
	// After continues a listing: the Next of the page before.
	After string
}

func (f DeadLetterFilter) limit() int {
	if f.Limit <= 0 {
		return DefaultDeadLetterLimit
	}
	return f.Limit
}

// selects reports whether dl passes f's source, type and time bounds.
func (f DeadLetterFilter) selects(dl DeadLetter) bool {
	e := dl.Event
	return (f.Source == "" || e.Source == f.Source) && (f.Type == "" || e.Type == f.Type) &&
		(f.Since.IsZero() || !dl.At.Before(f.Since)) && (f.Until.IsZero() || dl.At.Before(f.Until))
}

// DefaultDeadLetterLimit is how many dead letters a listing returns unless
// its filter says otherwise.
const DefaultDeadLetterLimit = 100

// ErrNotDeadLettered means no dead letter has the key asked for.
var ErrNotDeadLettered = errors.New("dispatch: no such dead letter")

// ErrInvalidFilter means a dead-letter listing's filter cannot be used: a
// cursor (DeadLetterFilter.After) the store did not write, or a source,
// type or cursor it cannot compare (a NUL, invalid UTF-8, over a
// kilobyte). It is a bad request, not a misconfiguration: dispatch/admin
// answers it 400.
var ErrInvalidFilter = errors.New("dispatch: invalid dead-letter filter")

// Rerun runs a dead letter's event through r once more, as a handler that
// has since been fixed or added would see it, counting it as the next
// attempt (an AttemptRerun for r's observers). Dead-letter stores' Rerun
// methods call it.
func (r *Router) Rerun(ctx context.Context, dl DeadLetter) error {
	return r.routes().attempt(WithAttempt(ctx, dl.Attempts+1), dl.Event, AttemptRerun)
}
