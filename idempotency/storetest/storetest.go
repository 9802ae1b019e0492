package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

// shortLease is long enough to outlast a round trip to a loaded local
// server, short enough to wait out in a test.
const shortLease = 400 * time.Millisecond

var ctx = context.Background()

// Run checks newStore's stores against the Store contract. newStore is
// called once per subtest and must return an empty store (or one whose keys
// cannot collide with other subtests', such as a fresh key prefix).
func Run(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s idempotency.Store)
	}{
		{"ClaimAcquires", testClaimAcquires},
		{"ClaimWhileHeldIsBusy", testBusy},
		{"CompleteThenClaimIsCompleted", testComplete},
		{"ReleaseThenClaimAcquiresAgain", testRelease},
		{"WrongTokenLosesLease", testWrongToken},
		{"CompletedKeyCannotBeReleasedOrCompletedAgain", testCompletedIsFinal},
		{"ExpiredLeaseIsReacquired", testLeaseExpiry},
		{"StaleTokenCannotTouchNewHolder", testStaleToken},
		{"KeepWindowEnds", testKeepExpiry},
		{"KeysAreIndependent", testIndependentKeys},
		{"InvalidArguments", testInvalid},
		{"SixtyFourConcurrentClaimsOneAcquires", testConcurrentClaims},
		{"MutualExclusionUnderChurn", testMutualExclusion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// waitPast waits until a lease or keep window ending at end has ended on
// the store's clock too: end is measured on the store's clock where it has
// one (Redis, PostgreSQL), so half a shortLease more covers a clock a
// little behind ours. Waiting out a lease is the one way to see it end.
func waitPast(end time.Time) {
	time.Sleep(time.Until(end) + shortLease/2)
}

func claim(t *testing.T, s idempotency.Store, key string, lease time.Duration) idempotency.Claim {
	t.Helper()
	c, err := s.Claim(ctx, key, lease)
	if err != nil {
		t.Fatalf("Claim(%q): %v", key, err)
	}
	return c
}

func wantState(t *testing.T, c idempotency.Claim, want idempotency.State) {
	t.Helper()
	if c.State != want {
		t.Fatalf("Claim state = %s, want %s", c.State, want)
	}
}

func wantLeaseLost(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, idempotency.ErrLeaseLost) {
		t.Fatalf("%s: err = %v, want ErrLeaseLost", what, err)
	}
}

func testClaimAcquires(t *testing.T, s idempotency.Store) {
	before := time.Now()
	c := claim(t, s, "stripe:evt_1", time.Minute)
	wantState(t, c, idempotency.Acquired)
	if c.Token == "" {
		t.Fatal("acquired claim has no token")
	}
	// Stores may measure on their own clock; allow generous skew.
	if c.Expires.Before(before.Add(50*time.Second)) || c.Expires.After(before.Add(70*time.Second)) {
		t.Fatalf("Expires = %v, want about a minute after %v", c.Expires, before)
	}
}

func testBusy(t *testing.T, s idempotency.Store) {
	first := claim(t, s, "stripe:evt_busy", time.Minute)
	wantState(t, first, idempotency.Acquired)
	second := claim(t, s, "stripe:evt_busy", time.Minute)
	wantState(t, second, idempotency.Busy)
	if second.Token != "" {
		t.Fatal("a busy claim must not carry a token")
	}
	if d := second.Expires.Sub(first.Expires).Abs(); d > time.Second {
		t.Fatalf("busy Expires %v differs from the holder's %v by %v", second.Expires, first.Expires, d)
	}
}

func testComplete(t *testing.T, s idempotency.Store) {
	c := claim(t, s, "k", time.Minute)
	if err := s.Complete(ctx, "k", c.Token, time.Hour); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	again := claim(t, s, "k", time.Minute)
	wantState(t, again, idempotency.Completed)
	if again.Token != "" {
		t.Fatal("a completed claim must not carry a token")
	}
}

func testRelease(t *testing.T, s idempotency.Store) {
	c := claim(t, s, "k", time.Minute)
	if err := s.Release(ctx, "k", c.Token); err != nil {
		t.Fatalf("Release: %v", err)
	}
	again := claim(t, s, "k", time.Minute)
	wantState(t, again, idempotency.Acquired)
	if again.Token == c.Token {
		t.Fatal("a new claim must get a new token")
	}
}

func testWrongToken(t *testing.T, s idempotency.Store) {
	c := claim(t, s, "k", time.Minute)
	wantLeaseLost(t, s.Complete(ctx, "k", c.Token+"x", time.Hour), "Complete with a wrong token")
	wantLeaseLost(t, s.Release(ctx, "k", "not-the-token"), "Release with a wrong token")
	wantLeaseLost(t, s.Complete(ctx, "never-claimed", c.Token, time.Hour), "Complete of an unclaimed key")
	wantLeaseLost(t, s.Release(ctx, "never-claimed", c.Token), "Release of an unclaimed key")
	// The holder is unaffected.
	wantState(t, claim(t, s, "k", time.Minute), idempotency.Busy)
	if err := s.Complete(ctx, "k", c.Token, time.Hour); err != nil {
		t.Fatalf("Complete by the holder: %v", err)
	}
}

func testCompletedIsFinal(t *testing.T, s idempotency.Store) {
	c := claim(t, s, "k", time.Minute)
	if err := s.Complete(ctx, "k", c.Token, time.Hour); err != nil {
		t.Fatal(err)
	}
	wantLeaseLost(t, s.Release(ctx, "k", c.Token), "Release after Complete")
	wantLeaseLost(t, s.Complete(ctx, "k", c.Token, time.Hour), "second Complete")
	wantState(t, claim(t, s, "k", time.Minute), idempotency.Completed)
}

func testLeaseExpiry(t *testing.T, s idempotency.Store) {
	old := claim(t, s, "crashed", shortLease)
	wantState(t, old, idempotency.Acquired)
	waitPast(old.Expires)
	fresh := claim(t, s, "crashed", time.Minute)
	wantState(t, fresh, idempotency.Acquired)
	if fresh.Token == old.Token {
		t.Fatal("re-acquired claim reuses the crashed holder's token")
	}
}

func testStaleToken(t *testing.T, s idempotency.Store) {
	old := claim(t, s, "k", shortLease)
	waitPast(old.Expires)
	wantLeaseLost(t, s.Complete(ctx, "k", old.Token, time.Hour), "Complete with an expired token")
	wantLeaseLost(t, s.Release(ctx, "k", old.Token), "Release with an expired token")

	fresh := claim(t, s, "k", time.Minute)
	wantState(t, fresh, idempotency.Acquired)
	wantLeaseLost(t, s.Complete(ctx, "k", old.Token, time.Hour), "stale Complete after re-claim")
	wantLeaseLost(t, s.Release(ctx, "k", old.Token), "stale Release after re-claim")
	wantState(t, claim(t, s, "k", time.Minute), idempotency.Busy)
	if err := s.Complete(ctx, "k", fresh.Token, time.Hour); err != nil {
		t.Fatalf("new holder's Complete: %v", err)
	}
}

func testKeepExpiry(t *testing.T, s idempotency.Store) {
	c := claim(t, s, "k", time.Minute)
	if err := s.Complete(ctx, "k", c.Token, shortLease); err != nil {
		t.Fatal(err)
	}
	wantState(t, claim(t, s, "k", time.Minute), idempotency.Completed)
	// The keep window's end is not returned (a completed claim has no
	// Expires): wait out the keep given, with waitPast's margin.
	waitPast(time.Now().Add(shortLease))
	wantState(t, claim(t, s, "k", time.Minute), idempotency.Acquired)
}

func testIndependentKeys(t *testing.T, s idempotency.Store) {
	keys := []string{"stripe:evt_1", "twilio:evt_1", "stripe:evt_1 ", "Stripe:evt_1", "booking:ñandú-☕",
		"a:b:c", strings.Repeat("x", 1000), "with'quote\"and;semicolon", "percent%_underscore"}
	tokens := map[string]string{}
	for _, k := range keys {
		c := claim(t, s, k, time.Minute)
		wantState(t, c, idempotency.Acquired)
		tokens[k] = c.Token
	}
	if err := s.Complete(ctx, keys[0], tokens[keys[0]], time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, keys[1], tokens[keys[1]]); err != nil {
		t.Fatal(err)
	}
	wantState(t, claim(t, s, keys[0], time.Minute), idempotency.Completed)
	wantState(t, claim(t, s, keys[1], time.Minute), idempotency.Acquired)
	for _, k := range keys[2:] {
		wantState(t, claim(t, s, k, time.Minute), idempotency.Busy)
	}
}

func testInvalid(t *testing.T, s idempotency.Store) {
	checks := map[string]error{}
	_, checks["empty key"] = s.Claim(ctx, "", time.Minute)
	_, checks["zero lease"] = s.Claim(ctx, "k", 0)
	_, checks["negative lease"] = s.Claim(ctx, "k", -time.Second)
	checks["complete empty token"] = s.Complete(ctx, "k", "", time.Hour)
	checks["complete zero keep"] = s.Complete(ctx, "k", "t", 0)
	checks["release empty key"] = s.Release(ctx, "", "t")
	for name, err := range checks {
		if !errors.Is(err, idempotency.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	// Nothing was claimed by the refused calls.
	wantState(t, claim(t, s, "k", time.Minute), idempotency.Acquired)
}

// testConcurrentClaims: 64 goroutines claim the same key at once, for several
// keys; exactly one acquires each, and after it completes every later claim
// sees Completed.
func testConcurrentClaims(t *testing.T, s idempotency.Store) {
	ConcurrentClaims(t, []idempotency.Store{s}, 64, 5)
}

// ConcurrentClaims starts goroutines claims of each of rounds keys at once,
// spread over stores (as replicas of an application would share one
// backend), and fails unless exactly one acquires each key. Stores sharing a
// backend run it to show they agree across instances.
func ConcurrentClaims(t *testing.T, stores []idempotency.Store, goroutines, rounds int) {
	t.Helper()
	for round := 0; round < rounds; round++ {
		key := fmt.Sprintf("race:%d", round)
		var (
			start    = make(chan struct{})
			wg       sync.WaitGroup
			acquired atomic.Int32
			busy     atomic.Int32
			token    atomic.Value
			errs     = make(chan error, goroutines)
		)
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func(s idempotency.Store) {
				defer wg.Done()
				<-start
				c, err := s.Claim(ctx, key, time.Minute)
				switch {
				case err != nil:
					errs <- err
				case c.State == idempotency.Acquired:
					acquired.Add(1)
					token.Store(c.Token)
				case c.State == idempotency.Busy:
					busy.Add(1)
				default:
					errs <- fmt.Errorf("unexpected state %s", c.State)
				}
			}(stores[g%len(stores)])
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		if acquired.Load() != 1 || busy.Load() != int32(goroutines-1) {
			t.Fatalf("round %d: %d acquired, %d busy; want 1 and %d", round, acquired.Load(), busy.Load(), goroutines-1)
		}
		if err := stores[0].Complete(ctx, key, token.Load().(string), time.Hour); err != nil {
			t.Fatalf("round %d: Complete: %v", round, err)
		}
		for _, s := range stores {
			wantState(t, claim(t, s, key, time.Minute), idempotency.Completed)
		}
	}
}

// testMutualExclusion: goroutines repeatedly claim a few hot keys and
// release them; no two ever hold the same key at once.
func testMutualExclusion(t *testing.T, s idempotency.Store) {
	const (
		workers    = 16
		iterations = 40
		hotKeys    = 3
	)
	var holders [hotKeys]atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < iterations; i++ {
				k := (w + i) % hotKeys
				key := fmt.Sprintf("hot:%d", k)
				c, err := s.Claim(ctx, key, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if c.State != idempotency.Acquired {
					continue
				}
				if n := holders[k].Add(1); n != 1 {
					errs <- fmt.Errorf("%d holders of %s at once", n, key)
					return
				}
				holders[k].Add(-1)
				if err := s.Release(ctx, key, c.Token); err != nil {
					errs <- fmt.Errorf("release %s: %w", key, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Clock is a manual clock for RunWithClock; stores receive its Now.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// RunWithClock runs the checks that need hours to pass, on stores that take
// their time from now (a Clock the suite advances). It complements Run.
func RunWithClock(t *testing.T, newStore func(t *testing.T, now func() time.Time) idempotency.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s idempotency.Store, c *Clock)
	}{
		{"KeepsCompletedForTheRetryWindow", testKeepWindow},
		{"LeaseEndsAtItsExpiry", testLeaseBoundary},
		{"StaleTokenAfterExpiry", testStaleTokenClock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
			tt.fn(t, newStore(t, c.Now), c)
		})
	}
}

func testKeepWindow(t *testing.T, s idempotency.Store, clock *Clock) {
	c := claim(t, s, "stripe:evt_retry", time.Minute)
	if err := s.Complete(ctx, "stripe:evt_retry", c.Token, 72*time.Hour); err != nil {
		t.Fatal(err)
	}
	clock.Advance(72*time.Hour - time.Second)
	wantState(t, claim(t, s, "stripe:evt_retry", time.Minute), idempotency.Completed)
	clock.Advance(2 * time.Second)
	wantState(t, claim(t, s, "stripe:evt_retry", time.Minute), idempotency.Acquired)
}

func testLeaseBoundary(t *testing.T, s idempotency.Store, clock *Clock) {
	first := claim(t, s, "k", 2*time.Minute)
	if want := clock.Now().Add(2 * time.Minute); !first.Expires.Equal(want) {
		t.Fatalf("Expires = %v, want %v", first.Expires, want)
	}
	clock.Advance(2*time.Minute - time.Millisecond)
	busy := claim(t, s, "k", 2*time.Minute)
	wantState(t, busy, idempotency.Busy)
	if !busy.Expires.Equal(first.Expires) {
		t.Fatalf("busy Expires = %v, want the holder's %v", busy.Expires, first.Expires)
	}
	clock.Advance(time.Millisecond)
	wantState(t, claim(t, s, "k", 2*time.Minute), idempotency.Acquired)
}

func testStaleTokenClock(t *testing.T, s idempotency.Store, clock *Clock) {
	old := claim(t, s, "k", time.Minute)
	clock.Advance(time.Minute)
	wantLeaseLost(t, s.Complete(ctx, "k", old.Token, time.Hour), "Complete at lease expiry")
	fresh := claim(t, s, "k", time.Minute)
	wantState(t, fresh, idempotency.Acquired)
	wantLeaseLost(t, s.Release(ctx, "k", old.Token), "stale Release")
	if err := s.Complete(ctx, "k", fresh.Token, time.Hour); err != nil {
		t.Fatal(err)
	}
}
