package reconcile

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Checkpoint is where a Reconciler stands: the window of time it is
// working through, which of its Source's streams, and the cursor of the
// next page in it. It moves only past pages whose every event was
// accepted, so a run that stops — at its bounds, on an error, or killed —
// resumes with the first page not wholly accepted.
type Checkpoint struct {
	// Since is the start of the window (inclusive, whole seconds); when no
	// window is open (Until is zero), the start of the next one.
	Since time.Time `json:"since"`
	// Until is the end of the open window (inclusive); zero when none is.
	Until time.Time `json:"until,omitzero"`
	// Stream is the stream the cursor belongs to.
	Stream string `json:"stream,omitempty"`
	// Cursor is the next page's, in Stream ("" for its first page).
	Cursor string `json:"cursor,omitempty"`
}

// Open reports whether a window is being worked through.
func (c Checkpoint) Open() bool { return !c.Until.IsZero() }

// Store keeps Reconcilers' checkpoints, durably (SQLStore, in the host's
// database) or in memory (MemoryStore, for tests), and makes a run
// exclusive: while one process's run holds a name's lease, another's
// Acquire fails with ErrRunning. Every method is a short statement of its
// own: a Store never holds a connection across a Reconciler's wait on the
// network.
type Store interface {
	// Acquire takes name's run for holder until lease has passed, and
	// returns its checkpoint (the zero Checkpoint the first time). It
	// fails with ErrRunning while another holder's lease lasts.
	Acquire(ctx context.Context, name, holder string, lease time.Duration) (Checkpoint, error)
	// Save records cp as name's checkpoint and extends holder's lease. It
	// fails with ErrLeaseLost when holder no longer holds the run.
	Save(ctx context.Context, name, holder string, cp Checkpoint, lease time.Duration) error
	// Release ends holder's run, recording last as the last run's report.
	Release(ctx context.Context, name, holder string, last Report) error
	// Last returns name's checkpoint and the report of its last finished
	// run (zero values for a name never run).
	Last(ctx context.Context, name string) (Checkpoint, Report, error)
}

var (
	// ErrRunning means a run of the same Source is under way, in this
	// process or, through the Store's lease, in another.
	ErrRunning = errors.New("reconcile: a run is already under way")
	// ErrLeaseLost means a run's lease ended and another run took over:
	// the first stops without moving the checkpoint.
	ErrLeaseLost = errors.New("reconcile: the run's lease was lost")
	// ErrUnavailable wraps a Store's failure to answer.
	ErrUnavailable = errors.New("reconcile: checkpoint store unavailable")
)

// MemoryStore is a Store in this process's memory: a restart forgets every
// checkpoint. For tests and for hosts with one process and nothing to
// resume; use SQLStore otherwise.
type MemoryStore struct {
	mu    sync.Mutex
	names map[string]*memoryEntry
	now   func() time.Time
}

type memoryEntry struct {
	cp     Checkpoint
	last   Report
	holder string
	until  time.Time
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{names: map[string]*memoryEntry{}, now: time.Now}
}

func (m *MemoryStore) entry(name string) *memoryEntry {
	e, ok := m.names[name]
	if !ok {
		e = &memoryEntry{}
		m.names[name] = e
	}
	return e
}

// Acquire implements Store.
func (m *MemoryStore) Acquire(_ context.Context, name, holder string, lease time.Duration) (Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, now := m.entry(name), m.now()
	if e.holder != "" && e.holder != holder && now.Before(e.until) {
		return Checkpoint{}, ErrRunning
	}
	e.holder, e.until = holder, now.Add(lease)
	return e.cp, nil
}

// Save implements Store.
func (m *MemoryStore) Save(_ context.Context, name, holder string, cp Checkpoint, lease time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entry(name)
	if e.holder != holder {
		return ErrLeaseLost
	}
	e.cp, e.until = cp, m.now().Add(lease)
	return nil
}

// Release implements Store.
func (m *MemoryStore) Release(_ context.Context, name, holder string, last Report) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entry(name)
	if e.holder != holder {
		return ErrLeaseLost
	}
	e.holder, e.until, e.last = "", time.Time{}, last
	return nil
}

// Last implements Store.
func (m *MemoryStore) Last(_ context.Context, name string) (Checkpoint, Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.names[name]
	if !ok {
		return Checkpoint{}, Report{}, nil
	}
	return e.cp, e.last, nil
}
