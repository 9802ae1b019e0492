package idempotency_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/storetest"
)

// modelStore is the Store contract written as plainly as possible.
type modelStore struct {
	now     func() time.Time
	entries map[string]modelEntry
	next    int
}

type modelEntry struct {
	token   string // "" once completed
	expires time.Time
}

func (m *modelStore) claim(key string, lease time.Duration) idempotency.Claim {
	now := m.now()
	if e, ok := m.entries[key]; ok && now.Before(e.expires) {
		if e.token == "" {
			return idempotency.Claim{State: idempotency.Completed}
		}
		return idempotency.Claim{State: idempotency.Busy, Expires: e.expires}
	}
	m.next++
	token := fmt.Sprint("model-", m.next)
	m.entries[key] = modelEntry{token: token, expires: now.Add(lease)}
	return idempotency.Claim{State: idempotency.Acquired, Token: token, Expires: now.Add(lease)}
}

func (m *modelStore) holds(key, token string) bool {
	e, ok := m.entries[key]
	return ok && e.token != "" && e.token == token && m.now().Before(e.expires)
}

// TestMemoryStoreMatchesModel drives the store and the model with the same
// random operations (claims, completes and releases with current and stale
// tokens, clock jumps, sweeps) over enough keys, some long, to make the
// table resize, reuse deleted positions and compact its key arena.
func TestMemoryStoreMatchesModel(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed))
			clock := storetest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
			store := mustMemory(t, idempotency.MemoryConfig{Clock: clock.Now})
			model := &modelStore{now: clock.Now, entries: map[string]modelEntry{}}
			// Tokens handed out, by key, in both worlds, newest last.
			storeTokens, modelTokens := map[string][]string{}, map[string][]string{}

			keys := make([]string, 3000)
			for i := range keys {
				keys[i] = fmt.Sprintf("src:%d", i)
				if i%10 == 0 {
					keys[i] += ":" + strings.Repeat("x", 500+i%700)
				}
			}
			for op := 0; op < 60000; op++ {
				key := keys[rng.IntN(len(keys))]
				switch r := rng.IntN(100); {
				case r < 45:
					lease := time.Duration(1+rng.IntN(120)) * time.Second
					got, err := store.Claim(ctx, key, lease)
					if err != nil {
						t.Fatal(err)
					}
					want := model.claim(key, lease)
					if got.State != want.State || !got.Expires.Equal(want.Expires) {
						t.Fatalf("op %d Claim(%.20q): got %s %v, want %s %v", op, key, got.State, got.Expires, want.State, want.Expires)
					}
					if got.State == idempotency.Acquired {
						storeTokens[key] = append(storeTokens[key], got.Token)
						modelTokens[key] = append(modelTokens[key], want.Token)
					}
				case r < 75, r < 90:
					ts := storeTokens[key]
					if len(ts) == 0 {
						continue
					}
					i := len(ts) - 1
					if rng.IntN(4) == 0 {
						i = rng.IntN(len(ts)) // sometimes a stale token
					}
					wantOK := model.holds(key, modelTokens[key][i])
					var err error
					if r < 75 {
						keep := time.Duration(1+rng.IntN(600)) * time.Second
						err = store.Complete(ctx, key, ts[i], keep)
						if wantOK {
							model.entries[key] = modelEntry{expires: clock.Now().Add(keep)}
						}
					} else {
						err = store.Release(ctx, key, ts[i])
						if wantOK {
							delete(model.entries, key)
						}
					}
					if wantOK != (err == nil) || (err != nil && !errors.Is(err, idempotency.ErrLeaseLost)) {
						t.Fatalf("op %d on %.20q with token %d of %d: err %v, model holds %v", op, key, i, len(ts), err, wantOK)
					}
				case r < 99:
					clock.Advance(time.Duration(rng.IntN(3000)) * time.Millisecond)
				default:
					store.Sweep()
				}
			}
			live := 0
			for _, e := range model.entries {
				if clock.Now().Before(e.expires) {
					live++
				}
			}
			store.Sweep()
			if store.Len() != live {
				t.Fatalf("after a sweep the store holds %d keys, the model %d live ones", store.Len(), live)
			}
		})
	}
}
