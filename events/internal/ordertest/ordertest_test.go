package ordertest_test

import (
	"fmt"
	"testing"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/internal/ordertest"
)

func TestPermutationsAreEveryOrderOnce(t *testing.T) {
	for n, want := range []int{1, 1, 2, 6, 24, 120, 720} {
		seen := map[string]bool{}
		ordertest.Permutations(n, func(p []int) { seen[fmt.Sprint(p)] = true })
		if len(seen) != want {
			t.Errorf("n=%d: %d distinct permutations, want %d", n, len(seen), want)
		}
	}
}

// The rule itself: older is stale, equal runs, no object always runs.
func TestGuardRule(t *testing.T) {
	at := func(object string, pos events.Position) *events.Event {
		return &events.Event{Source: "s", ID: object + fmt.Sprint(pos), Type: object}
	}
	byType := map[string]events.Position{}
	order := events.Order(func(e *events.Event) (string, events.Position, error) {
		if e.Type == "none" {
			return "", events.Position{}, nil
		}
		return e.Type, byType[e.ID], nil
	})
	evs := []struct {
		object  string
		pos     events.Position
		applied bool
	}{
		{"a", events.Position{At: 5, Rank: 1}, true},
		{"a", events.Position{At: 5, Rank: 0}, false}, // older rank, same At
		{"a", events.Position{At: 4, Rank: 9}, false}, // older At
		{"a", events.Position{At: 5, Rank: 1}, true},  // equal: runs
		{"b", events.Position{At: 1}, true},           // another object
		{"none", events.Position{}, true},
		{"a", events.Position{At: 6}, true},
	}
	g := ordertest.NewGuard(order)
	for i, c := range evs {
		e := at(c.object, c.pos)
		byType[e.ID] = c.pos
		ok, err := g.Deliver(e)
		if err != nil || ok != c.applied {
			t.Errorf("event %d: applied %v, %v; want %v", i, ok, err, c.applied)
		}
	}
}
