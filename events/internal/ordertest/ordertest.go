// Package ordertest simulates the ordering guard's rule for the tests of
// the events packages' Orders: an event runs unless its position is
// strictly older than the last one applied for its object; equal
// positions run; an event about no object always runs and moves nothing.
// It holds no I/O and no concurrency: what it checks is the rule, over
// every arrival order of a set of deliveries.
package ordertest

import (
	"fmt"

	"github.com/hookkit/hookkit/events"
)

// Guard applies events by an Order, as the guard will.
type Guard struct {
	order events.Order
	last  map[string]events.Position
	// Applied and Stale are the events delivered so far, in arrival order.
	Applied, Stale []*events.Event
}

// NewGuard returns a Guard that positions events with order.
func NewGuard(order events.Order) *Guard {
	return &Guard{order: order, last: map[string]events.Position{}}
}

// Deliver applies e unless it is stale, and reports whether it applied.
// An error of the Order is returned as is (the guard dead-letters it).
func (g *Guard) Deliver(e *events.Event) (bool, error) {
	object, pos, err := g.order.Of(e)
	if err != nil {
		return false, err
	}
	if object != "" {
		key := e.Source + "\x00" + object
		if last, ok := g.last[key]; ok && pos.Compare(last) < 0 {
			g.Stale = append(g.Stale, e)
			return false, nil
		}
		g.last[key] = pos
	}
	g.Applied = append(g.Applied, e)
	return true, nil
}

// Run delivers evs in the order perm gives (indexes into evs) to a new
// Guard and returns it.
func Run(order events.Order, evs []*events.Event, perm []int) (*Guard, error) {
	g := NewGuard(order)
	for _, i := range perm {
		if _, err := g.Deliver(evs[i]); err != nil {
			return g, fmt.Errorf("event %d (%s): %w", i, evs[i].Type, err)
		}
	}
	return g, nil
}

// Permutations calls yield with every permutation of 0..n-1 (n! of them,
// Heap's algorithm), the first being the identity. yield must not keep the
// slice.
func Permutations(n int, yield func(perm []int)) {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	c := make([]int, n)
	yield(perm)
	for i := 0; i < n; {
		if c[i] < i {
			if i%2 == 0 {
				perm[0], perm[i] = perm[i], perm[0]
			} else {
				perm[c[i]], perm[i] = perm[i], perm[c[i]]
			}
			yield(perm)
			c[i]++
			i = 0
		} else {
			c[i] = 0
			i++
		}
	}
}
