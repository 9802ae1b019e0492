package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/storetest"
)

var ctx = context.Background()

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) idempotency.Store {
		return mustMemory(t, idempotency.MemoryConfig{})
	})
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) idempotency.Store {
		return mustMemory(t, idempotency.MemoryConfig{Clock: now})
	})
}

func TestMemoryStoreFullRefusesNewKeys(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	s := mustMemory(t, idempotency.MemoryConfig{MaxEntries: 3, Clock: clock.Now})
	leased := map[string]string{}
	for _, k := range []string{"a", "b", "c"} {
		c, err := s.Claim(ctx, k, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		leased[k] = c.Token
	}
	if err := s.Complete(ctx, "c", leased["c"], time.Hour); err != nil {
		t.Fatal(err)
	}

	_, err := s.Claim(ctx, "d", time.Minute)
	if !errors.Is(err, idempotency.ErrUnavailable) {
		t.Fatalf("full of live leases and completions: refuse, never evict: got %v, want %v", err, idempotency.ErrUnavailable)
	}
	if got := s.Len(); got != 3 {
		t.Errorf("s.Len(): got %d, want 3", got)
	}

	// Existing keys still answer while full.
	c, err := s.Claim(ctx, "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != idempotency.Busy {
		t.Errorf("c.State: got %v, want %v", c.State, idempotency.Busy)
	}
	c, err = s.Claim(ctx, "c", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != idempotency.Completed {
		t.Errorf("c.State: got %v, want %v", c.State, idempotency.Completed)
	}

	// A release makes room at once.
	if err := s.Release(ctx, "b", leased["b"]); err != nil {
		t.Fatal(err)
	}
	c, err = s.Claim(ctx, "d", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != idempotency.Acquired {
		t.Errorf("c.State: got %v, want %v", c.State, idempotency.Acquired)
	}

	// Once the leases expire, a full store sweeps them to make room; the
	// live completion survives.
	clock.Advance(2 * time.Minute)
	c, err = s.Claim(ctx, "e", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != idempotency.Acquired {
		t.Errorf("c.State: got %v, want %v", c.State, idempotency.Acquired)
	}
	c, err = s.Claim(ctx, "c", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != idempotency.Completed {
		t.Errorf("c.State: got %v, want %v", c.State, idempotency.Completed)
	}
}

func TestMemoryStoreSweeps(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	s := mustMemory(t, idempotency.MemoryConfig{Clock: clock.Now})
	for i := 0; i < 1000; i++ {
		c, err := s.Claim(ctx, fmt.Sprintf("k%d", i), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := s.Complete(ctx, fmt.Sprintf("k%d", i), c.Token, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := s.Len(); got != 1000 {
		t.Fatalf("s.Len(): got %d, want 1000", got)
	}
	clock.Advance(2 * time.Minute)
	if got := s.Sweep(); got != 500 {
		t.Errorf("the expired leases go, the completions stay: got %d, want 500", got)
	}
	if got := s.Len(); got != 500 {
		t.Errorf("s.Len(): got %d, want 500", got)
	}

	// Incremental sweeping on later claims removes expired keys without
	// an explicit Sweep.
	clock.Advance(2 * time.Hour)
	for i := 0; i < 20000; i++ {
		_, err := s.Claim(ctx, fmt.Sprintf("new%d", i), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Len(); got != 20000 {
		t.Errorf("the claims' incremental sweep removed all 500 expired completions: got %d, want 20000", got)
	}
}

// Keys cut from a larger string (as a parser hands out IDs) are stored as
// their own copies and still match later, independently built keys.
func TestMemoryStoreSubstringKeys(t *testing.T) {
	s := mustMemory(t, idempotency.MemoryConfig{})
	body := []byte(`{"id":"evt_pinned","padding":"` + string(make([]byte, 1<<16)) + `"}`)
	key := string(body)[7:17] // a substring of a large string, as a parser might hand out
	c, err := s.Claim(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "evt_pinned", c.Token, time.Hour); err != nil {
		t.Fatal(err)
	}
	again, err := s.Claim(ctx, "evt_pinned", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if again.State != idempotency.Completed {
		t.Errorf("again.State: got %v, want %v", again.State, idempotency.Completed)
	}
}

func TestMemoryStoreConcurrentManyKeys(t *testing.T) {
	s := mustMemory(t, idempotency.MemoryConfig{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				key := fmt.Sprintf("k%d", i)
				c, err := s.Claim(ctx, key, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if c.State == idempotency.Acquired {
					if err := s.Complete(ctx, key, c.Token, time.Hour); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	if got := s.Len(); got != 2000 {
		t.Errorf("s.Len(): got %d, want 2000", got)
	}
	for i := 0; i < 2000; i++ {
		c, err := s.Claim(ctx, fmt.Sprintf("k%d", i), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if c.State != idempotency.Completed {
			t.Fatalf("c.State: got %v, want %v", c.State, idempotency.Completed)
		}
	}
}

func mustMemory(t testing.TB, cfg idempotency.MemoryConfig) *idempotency.MemoryStore {
	t.Helper()
	s, err := idempotency.NewMemoryStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMemoryStoreRefusesNegativeCapacity(t *testing.T) {
	_, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxEntries: -1})
	if !errors.Is(err, idempotency.ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
}
