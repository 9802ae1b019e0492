package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		require.NoError(t, err)
		leased[k] = c.Token
	}
	require.NoError(t, s.Complete(ctx, "c", leased["c"], time.Hour))

	_, err := s.Claim(ctx, "d", time.Minute)
	require.ErrorIs(t, err, idempotency.ErrUnavailable, "full of live leases and completions: refuse, never evict")
	assert.Equal(t, 3, s.Len())

	// Existing keys still answer while full.
	c, err := s.Claim(ctx, "a", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, idempotency.Busy, c.State)
	c, err = s.Claim(ctx, "c", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, idempotency.Completed, c.State)

	// A release makes room at once.
	require.NoError(t, s.Release(ctx, "b", leased["b"]))
	c, err = s.Claim(ctx, "d", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, idempotency.Acquired, c.State)

	// Once the leases expire, a full store sweeps them to make room; the
	// live completion survives.
	clock.Advance(2 * time.Minute)
	c, err = s.Claim(ctx, "e", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, idempotency.Acquired, c.State)
	c, err = s.Claim(ctx, "c", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, idempotency.Completed, c.State)
}

func TestMemoryStoreSweeps(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	s := mustMemory(t, idempotency.MemoryConfig{Clock: clock.Now})
	for i := 0; i < 1000; i++ {
		c, err := s.Claim(ctx, fmt.Sprintf("k%d", i), time.Minute)
		require.NoError(t, err)
		if i%2 == 0 {
			require.NoError(t, s.Complete(ctx, fmt.Sprintf("k%d", i), c.Token, time.Hour))
		}
	}
	require.Equal(t, 1000, s.Len())
	clock.Advance(2 * time.Minute)
	assert.Equal(t, 500, s.Sweep(), "the expired leases go, the completions stay")
	assert.Equal(t, 500, s.Len())

	// Incremental sweeping on later claims removes expired keys without
	// an explicit Sweep.
	clock.Advance(2 * time.Hour)
	for i := 0; i < 20000; i++ {
		_, err := s.Claim(ctx, fmt.Sprintf("new%d", i), time.Hour)
		require.NoError(t, err)
	}
	assert.Equal(t, 20000, s.Len(), "the claims' incremental sweep removed all 500 expired completions")
}

// Keys cut from a larger string (as a parser hands out IDs) are stored as
// their own copies and still match later, independently built keys.
func TestMemoryStoreSubstringKeys(t *testing.T) {
	s := mustMemory(t, idempotency.MemoryConfig{})
	body := []byte(`{"id":"evt_pinned","padding":"` + string(make([]byte, 1<<16)) + `"}`)
	key := string(body)[7:17] // a substring of a large string, as a parser might hand out
	c, err := s.Claim(ctx, key, time.Minute)
	require.NoError(t, err)
	require.NoError(t, s.Complete(ctx, "evt_pinned", c.Token, time.Hour))
	again, err := s.Claim(ctx, "evt_pinned", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, idempotency.Completed, again.State)
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
	assert.Equal(t, 2000, s.Len())
	for i := 0; i < 2000; i++ {
		c, err := s.Claim(ctx, fmt.Sprintf("k%d", i), time.Minute)
		require.NoError(t, err)
		require.Equal(t, idempotency.Completed, c.State)
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
