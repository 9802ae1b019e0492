package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/redisstore/internal/storeargs"
)

// DefaultPrefix is prepended to every key unless Config.Prefix says otherwise.
const DefaultPrefix = "hookkit:idempotency:"

// Stored values: a lease is "L" followed by its token, a completion "D".
const (
	leasePrefix = "L"
	doneValue   = "D"
)

// go-redis retries a command whose reply was lost, with the same arguments:
// a retried claim finds the lease it took itself, and must answer Acquired
// (not Busy, which would block the event for the whole lease). A retried
// completion finds the key completed and, as the Store contract says of a
// second Complete, answers ErrLeaseLost; the key is completed all the same.
var (
	claimScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1}
end
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  return {1, redis.call('PTTL', KEYS[1])}
end
return {0, v, redis.call('PTTL', KEYS[1])}`)

	completeScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'D', 'PX', ARGV[2])
  return 1
end
return 0`)

	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

// Config configures a Store. The zero value uses DefaultPrefix.
type Config struct {
	// Prefix is prepended to every key, to share a Redis with other data
	// or to separate environments.
	Prefix string
}

// Store is an idempotency.Store backed by Redis. It is safe for concurrent
// use, by any number of processes sharing one Redis.
type Store struct {
	client redis.Scripter
	prefix string
}

// New returns a Store using client: a *redis.Client, *redis.ClusterClient,
// *redis.Ring, or any redis.UniversalClient. A nil client is an error
// wrapping idempotency.ErrInvalidConfig.
func New(client redis.Scripter, cfg Config) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("redisstore: nil client: %w", idempotency.ErrInvalidConfig)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{client: client, prefix: prefix}, nil
}

func unavailable(op string, err error) error {
	return fmt.Errorf("redis %s: %w: %w", op, err, idempotency.ErrUnavailable)
}

// millis rounds d up to whole milliseconds, the resolution of PX.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// Claim implements idempotency.Store.
func (s *Store) Claim(ctx context.Context, key string, lease time.Duration) (idempotency.Claim, error) {
	if err := storeargs.Claim(key, lease); err != nil {
		return idempotency.Claim{}, err
	}
	token := storeargs.NewToken()
	res, err := claimScript.Run(ctx, s.client, []string{s.prefix + key}, leasePrefix+token, millis(lease)).Slice()
	if err != nil {
		return idempotency.Claim{}, unavailable("claim", err)
	}
	now := time.Now()
	if n, _ := res[0].(int64); n == 1 {
		expires := now.Add(lease)
		if len(res) == 2 { // a retry that found its own lease
			ttl, _ := res[1].(int64)
			expires = now.Add(time.Duration(ttl) * time.Millisecond)
		}
		return idempotency.Claim{State: idempotency.Acquired, Token: token, Expires: expires}, nil
	}
	if len(res) != 3 {
		return idempotency.Claim{}, unavailable("claim", fmt.Errorf("unexpected reply of %d values", len(res)))
	}
	value, _ := res[1].(string)
	ttl, _ := res[2].(int64)
	if value == doneValue {
		return idempotency.Claim{State: idempotency.Completed}, nil
	}
	return idempotency.Claim{State: idempotency.Busy, Expires: now.Add(time.Duration(ttl) * time.Millisecond)}, nil
}

// Complete implements idempotency.Store.
func (s *Store) Complete(ctx context.Context, key, token string, keep time.Duration) error {
	if err := storeargs.Complete(key, token, keep); err != nil {
		return err
	}
	n, err := completeScript.Run(ctx, s.client, []string{s.prefix + key}, leasePrefix+token, millis(keep)).Int64()
	return s.fenced("complete", key, n, err)
}

// Release implements idempotency.Store.
func (s *Store) Release(ctx context.Context, key, token string) error {
	if err := storeargs.Release(key, token); err != nil {
		return err
	}
	n, err := releaseScript.Run(ctx, s.client, []string{s.prefix + key}, leasePrefix+token).Int64()
	return s.fenced("release", key, n, err)
}

func (s *Store) fenced(op, key string, n int64, err error) error {
	switch {
	case err != nil && !errors.Is(err, redis.Nil):
		return unavailable(op, err)
	case n != 1:
		return fmt.Errorf("redis %s %q: %w", op, key, idempotency.ErrLeaseLost)
	}
	return nil
}
