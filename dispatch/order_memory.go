package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookkit/hookkit/events"
)

// memoryPositions is the default accept step's positions: the last
// position applied per object, in this process's memory.
type memoryPositions struct {
	mu      sync.Mutex
	objects map[memoryObjectKey]*memoryObject
	keep    time.Duration // an object idle this long is forgotten
	swept   time.Time
}

type memoryObjectKey struct{ source, object string }

// memoryObject is one object's position, with the lock that makes its
// events run one at a time.
type memoryObject struct {
	lock    chan struct{} // held: one element in it
	pos     events.Position
	found   bool
	used    time.Time
	holders int // attempts holding or waiting for lock; never forgotten while > 0
	// advanced is closed, and replaced, each time an attempt commits a
	// position for the object: deliveries waiting for it (ErrNotYet) wake.
	advanced chan struct{}
}

func newMemoryPositions(keep time.Duration) *memoryPositions {
	return &memoryPositions{objects: map[memoryObjectKey]*memoryObject{}, keep: keep}
}

// object returns the object for key, created if absent, counted as held.
func (m *memoryPositions) object(key memoryObjectKey) *memoryObject {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if now.Sub(m.swept) > m.keep/4 {
		m.sweep(now)
	}
	o := m.objects[key]
	if o == nil {
		o = &memoryObject{lock: make(chan struct{}, 1), advanced: make(chan struct{})}
		m.objects[key] = o
	}
	o.holders++
	o.used = now
	return o
}

// sweep forgets the objects idle for longer than keep (as the memory
// store forgets keys): a process's memory stays bounded by what it saw
// within that window.
func (m *memoryPositions) sweep(now time.Time) {
	m.swept = now
	for k, o := range m.objects {
		if o.holders == 0 && now.Sub(o.used) > m.keep {
			delete(m.objects, k)
		}
	}
}

func (m *memoryPositions) release(o *memoryObject) {
	m.mu.Lock()
	o.holders--
	m.mu.Unlock()
}

// attempt returns a Guard for one attempt.
func (m *memoryPositions) attempt() *memoryAttempt { return &memoryAttempt{m: m} }

// memoryAttempt is the Guard of one attempt: the objects it holds, and
// their positions before it, restored if it does not commit.
type memoryAttempt struct {
	m    *memoryPositions
	held []heldObject
}

type heldObject struct {
	key       memoryObjectKey
	o         *memoryObject
	prev      events.Position
	prevFound bool
	moved     bool
	advanced  chan struct{} // o.advanced when it was held
}

// Advance implements Guard.
func (a *memoryAttempt) Advance(ctx context.Context, source, object string, pos events.Position) (events.Position, bool, error) {
	key := memoryObjectKey{source, object}
	for i := range a.held { // already held by this attempt (two Ordered around one handler)
		if h := &a.held[i]; h.key == key {
			return a.advance(h, pos)
		}
	}
	o := a.m.object(key)
	select {
	case o.lock <- struct{}{}:
	case <-ctx.Done():
		a.m.release(o)
		return events.Position{}, false, context.Cause(ctx)
	}
	a.held = append(a.held, heldObject{key: key, o: o, prev: o.pos, prevFound: o.found, advanced: o.advanced})
	return a.advance(&a.held[len(a.held)-1], pos)
}

func (a *memoryAttempt) advance(h *heldObject, pos events.Position) (events.Position, bool, error) {
	last, found := h.o.pos, h.o.found
	if !found || pos.Compare(last) >= 0 {
		h.o.pos, h.o.found, h.moved = pos, true, true
	}
	return last, found, nil
}

// end ends the attempt: its positions stay when commit is true, and are
// restored otherwise; the objects are released, and deliveries waiting for
// an object it advanced wake. It returns the channels that close when the
// objects it held next advance (for a delivery that waits, ErrNotYet).
func (a *memoryAttempt) end(commit bool) []chan struct{} {
	var waits []chan struct{}
	for i := len(a.held) - 1; i >= 0; i-- {
		h := a.held[i]
		if !commit {
			h.o.pos, h.o.found = h.prev, h.prevFound
		} else if h.moved {
			close(h.o.advanced)
			h.o.advanced = make(chan struct{})
		}
		waits = append(waits, h.o.advanced)
		<-h.o.lock
		a.m.release(h.o)
	}
	a.held = nil
	return waits
}

// runOrdered runs a's handler with a memory Guard. A handler that says
// ErrNotYet about an ordered object has its delivery wait, within the
// delivery's deadline, for the object to advance in this process, and then
// runs again: the default step keeps nothing durably, so it cannot
// acknowledge an event it has not run. Past the deadline it returns the
// handler's error, and the sender retries.
func (m *memoryPositions) runOrdered(ctx context.Context, a Acceptance) error {
	for {
		g := m.attempt()
		err := a.Run(WithGuard(ctx, g))
		waits := g.end(err == nil || errors.Is(err, ErrStale))
		if !errors.Is(err, ErrNotYet) || len(waits) == 0 {
			return err
		}
		select {
		case <-waits[0]:
		case <-ctx.Done():
			return fmt.Errorf("not applied before the delivery's deadline (the default accept step keeps nothing): %w: %w", err, context.Cause(ctx))
		}
	}
}
