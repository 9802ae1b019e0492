package crashtest

import (
	"math/rand/v2"
	"testing"
	"time"
)

// A sender's delay doubles from the first bound up to the second, and is
// jittered to between half and the whole of it.
func TestBackoff(t *testing.T) {
	bounds := [2]time.Duration{50 * time.Millisecond, time.Second}
	jitter := rand.New(rand.NewPCG(1, 2))
	for failures, want := range []time.Duration{50, 100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		for range 100 {
			if d := backoff(jitter, bounds, failures); d < want/2 || d > want {
				t.Fatalf("after %d failures: %v, want within [%v, %v]", failures+1, d, want/2, want)
			}
		}
	}
	if d := backoff(jitter, bounds, 1000); d < bounds[1]/2 || d > bounds[1] {
		t.Errorf("after 1000 failures: %v, want within [%v, %v]", d, bounds[1]/2, bounds[1])
	}
}

// The same seed draws the same kill schedule; another seed another.
func TestKillScheduleFollowsTheSeed(t *testing.T) {
	draw := func(seed uint64) []time.Duration {
		r := rand.New(rand.NewPCG(seed, scheduleStream))
		out := make([]time.Duration, 8)
		for i := range out {
			out[i] = between(r, 100*time.Millisecond, 500*time.Millisecond)
			if out[i] < 100*time.Millisecond || out[i] > 500*time.Millisecond {
				t.Fatalf("%v outside [100ms, 500ms]", out[i])
			}
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	same := func(x, y []time.Duration) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) || same(a, c) {
		t.Errorf("seed 7: %v and %v; seed 8: %v", a, b, c)
	}
}

// The server's output is kept up to a bound, its end.
func TestTailKeepsTheEnd(t *testing.T) {
	tl := newTail(8)
	tl.Write([]byte("0123"))
	if got := tl.String(); got != "0123" {
		t.Errorf("%q", got)
	}
	tl.Write([]byte("456789abc"))
	if got := tl.String(); got != "...56789abc" {
		t.Errorf("%q, want ...56789abc", got)
	}
}
