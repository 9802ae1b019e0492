package idempotency

import (
	"context"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxEntries is the memory store's capacity when MemoryConfig sets
// none: about 100 MB, a million events within the keep window.
const DefaultMaxEntries = 1_000_000

const (
	memShards = 128
	// Each insert into a shard inspects the next sweepStep of its entries,
	// in order, and removes the expired ones. The sweep so passes over all
	// of a shard's entries while it takes in half as many new keys, which
	// keeps expired keys at most about as many as live ones, however the
	// traffic is spread.
	sweepStep = 2
	// When the store is full, a full sweep runs at most this often.
	fullSweepInterval = time.Second
)

// MemoryConfig configures a MemoryStore. The zero value is ready to use;
// NewMemoryStore refuses values that cannot work.
type MemoryConfig struct {
	// MaxEntries bounds the keys held, leased and completed together
	// (default DefaultMaxEntries). Size it to the events you receive
	// within the keep window. When the store is full even after removing
	// expired keys, Claim of a new key fails with ErrUnavailable, which the
	// dispatcher answers with 503 so the sender retries later. The store
	// never evicts a live lease or completion to make room: forgetting a
	// completion would let a retry run the handler twice. Negative is an
	// error.
	MaxEntries int
	// Clock replaces time.Now, for tests. Durations are measured on its
	// monotonic reading when it has one.
	Clock func() time.Time
}

// MemoryStore is the embedded Store: keys live in this process's memory, in
// sharded tables so concurrent deliveries rarely contend for a lock. The
// tables hold no pointers, so even millions of keys cost the garbage
// collector nothing to scan, and a claim allocates only its token. It is
// right for a single process; replicas of an application each have their own
// and so do not deduplicate across one another (use Redis or SQL for that),
// and a restart forgets every key.
//
// A MemoryStore is safe for concurrent use.
type MemoryStore struct {
	shards    [memShards]memShard
	seed      maphash.Seed
	max       int64
	count     atomic.Int64
	now       func() time.Time
	epoch     time.Time
	lastSweep atomic.Int64 // ns since epoch of the last full sweep
}

// memShard is one lock's worth of keys.
type memShard struct {
	mu     sync.Mutex
	claims uint64 // claims numbered so far, for tokens
	table  memTable
	_      [64]byte // a shard's lock shares no cache line with another's
}

// newToken formats a claim number as a token. The memory store's tokens
// fence holders within one process, so they need to be unique, not secret:
// each shard numbers its claims, and a key always lives in the same shard.
func newToken(n uint64) string {
	var b [16]byte
	return string(strconv.AppendUint(b[:0], n, 16))
}

// parseToken reads a claim number back; anything else holds nothing.
func parseToken(token string) (uint64, bool) {
	n, err := strconv.ParseUint(token, 16, 64)
	return n, err == nil && n != 0
}

// NewMemoryStore returns an empty MemoryStore, or an error wrapping
// ErrInvalidConfig for a configuration that cannot work.
func NewMemoryStore(cfg MemoryConfig) (*MemoryStore, error) {
	if cfg.MaxEntries < 0 {
		return nil, fmt.Errorf("MemoryConfig.MaxEntries %d is negative: %w", cfg.MaxEntries, ErrInvalidConfig)
	}
	s := &MemoryStore{max: int64(cfg.MaxEntries), now: cfg.Clock, seed: maphash.MakeSeed()}
	if s.max == 0 {
		s.max = DefaultMaxEntries
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.epoch = s.now()
	s.lastSweep.Store(-int64(fullSweepInterval))
	return s, nil
}

func (s *MemoryStore) clock() int64 { return int64(s.now().Sub(s.epoch)) }

func (s *MemoryStore) at(ns int64) time.Time { return s.epoch.Add(time.Duration(ns)) }

func (s *MemoryStore) hash(key string) (*memShard, uint64) {
	h := maphash.String(s.seed, key)
	return &s.shards[h%memShards], h
}

// Claim implements Store.
func (s *MemoryStore) Claim(_ context.Context, key string, lease time.Duration) (Claim, error) {
	if err := checkClaim(key, lease); err != nil {
		return Claim{}, err
	}
	now := s.clock()
	sh, h := s.hash(key)
	sh.mu.Lock()
	n, pos := sh.table.find(key, h)
	var e *memEntry
	if n >= 0 {
		e = &sh.table.entries[n]
		if now < e.expires {
			state, expires := e.state, e.expires
			sh.mu.Unlock()
			if state == completed {
				return Claim{State: Completed}, nil
			}
			return Claim{State: Busy, Expires: s.at(expires)}, nil
		}
		// Expired: the next holder takes the entry over with a new token.
	} else {
		if s.count.Add(1) > s.max {
			s.count.Add(-1)
			sh.mu.Unlock()
			if !s.sweepWhenFull(now) {
				return Claim{}, fmt.Errorf("memory store full (%d keys, none expired; raise MemoryConfig.MaxEntries or use a shared store): %w",
					s.max, ErrUnavailable)
			}
			return s.Claim(context.Background(), key, lease)
		}
		e = sh.table.insert(key, h, pos)
	}
	sh.claims++
	e.state, e.expires, e.token = leased, now+int64(lease), sh.claims
	expires := e.expires
	if n < 0 {
		s.count.Add(-int64(sh.table.sweep(now, sweepStep)))
	}
	sh.mu.Unlock()
	return Claim{State: Acquired, Token: newToken(e.token), Expires: s.at(expires)}, nil
}

// holding runs fn on key's entry, under its shard's lock, if token holds an
// unexpired lease on it; otherwise it returns an error wrapping
// ErrLeaseLost.
func (s *MemoryStore) holding(op, key, token string, fn func(sh *memShard, n int, now int64)) error {
	now := s.clock()
	sh, h := s.hash(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n, _ := sh.table.find(key, h)
	claim, ok := parseToken(token)
	if n < 0 || !ok {
		return fmt.Errorf("%s %q: %w", op, key, ErrLeaseLost)
	}
	if e := &sh.table.entries[n]; e.state != leased || e.token != claim || now >= e.expires {
		return fmt.Errorf("%s %q: %w", op, key, ErrLeaseLost)
	}
	fn(sh, n, now)
	return nil
}

// Complete implements Store.
func (s *MemoryStore) Complete(_ context.Context, key, token string, keep time.Duration) error {
	if err := checkComplete(key, token, keep); err != nil {
		return err
	}
	return s.holding("complete", key, token, func(sh *memShard, n int, now int64) {
		e := &sh.table.entries[n]
		e.state, e.expires, e.token = completed, now+int64(keep), 0
	})
}

// Release implements Store.
func (s *MemoryStore) Release(_ context.Context, key, token string) error {
	if err := checkRelease(key, token); err != nil {
		return err
	}
	return s.holding("release", key, token, func(sh *memShard, n int, _ int64) {
		sh.table.remove(n)
		s.count.Add(-1)
	})
}

// Len returns the number of keys held, expired ones not yet swept included.
func (s *MemoryStore) Len() int { return int(s.count.Load()) }

// Sweep removes every expired key now and returns how many it removed.
// Claims sweep incrementally on their own; call Sweep to reclaim memory at
// a time of your choosing.
func (s *MemoryStore) Sweep() int {
	now := s.clock()
	removed := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		removed += sh.table.sweep(now, -1)
		sh.mu.Unlock()
	}
	s.count.Add(-int64(removed))
	return removed
}

// sweepWhenFull runs a full sweep, at most once per fullSweepInterval, and
// reports whether there is room afterwards.
func (s *MemoryStore) sweepWhenFull(now int64) bool {
	last := s.lastSweep.Load()
	if now-last >= int64(fullSweepInterval) && s.lastSweep.CompareAndSwap(last, now) {
		s.Sweep()
	}
	return s.count.Load() < s.max
}
