package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/redisstore"
	"github.com/hookkit/hookkit/idempotency/redisstore/internal/servicetest"
	"github.com/hookkit/hookkit/idempotency/storetest"
)

var ctx = context.Background()

// newClient connects to the test Redis, counting writes into writes when it
// is not nil; the test is skipped (or failed, in CI) when Redis is absent.
func newClient(t testing.TB, writes *atomic.Int64) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(servicetest.ServiceURL(t, servicetest.RedisURLEnv))
	if err != nil {
		t.Fatal(err)
	}
	if writes != nil {
		opts.Dialer = servicetest.CountingDial(writes)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	if err := client.Ping(ctx).Err(); err != nil {
		servicetest.Unreachable(t, "Redis at "+opts.Addr+" does not answer: "+err.Error())
	}
	return client
}

func newStore(t testing.TB, client redis.Scripter, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testPrefix gives each test its own keys, so runs never collide.
func testPrefix(t testing.TB, client *redis.Client) string {
	var raw [6]byte
	rand.Read(raw[:])
	prefix := "hookkit-test:" + hex.EncodeToString(raw[:]) + ":"
	t.Cleanup(func() {
		keys, _ := client.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	return prefix
}

func TestRedisStoreConformance(t *testing.T) {
	client := newClient(t, nil)
	storetest.Run(t, func(t *testing.T) idempotency.Store {
		return newStore(t, client, redisstore.Config{Prefix: testPrefix(t, client)})
	})
}

// Two replicas: separate connection pools, separate Store values, one Redis.
func TestRedisStoreReplicasRace(t *testing.T) {
	a, b := newClient(t, nil), newClient(t, nil)
	prefix := testPrefix(t, a)
	stores := []idempotency.Store{
		newStore(t, a, redisstore.Config{Prefix: prefix}),
		newStore(t, b, redisstore.Config{Prefix: prefix}),
	}
	storetest.ConcurrentClaims(t, stores, 64, 10)
}

func TestRedisStoreOneRoundTripPerOperation(t *testing.T) {
	var writes atomic.Int64
	client := newClient(t, &writes)
	s := newStore(t, client, redisstore.Config{Prefix: testPrefix(t, client)})
	// Warm up: the first call of each script may load it (EVALSHA, then EVAL).
	c, err := s.Claim(ctx, "warm", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "warm", c.Token, time.Hour); err != nil {
		t.Fatal(err)
	}
	c, err = s.Claim(ctx, "warm2", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "warm2", c.Token); err != nil {
		t.Fatal(err)
	}

	count := func(op func()) int64 {
		before := writes.Load()
		op()
		return writes.Load() - before
	}
	var claimed idempotency.Claim
	if got := count(func() { claimed, err = s.Claim(ctx, "k", time.Minute) }); got != 1 {
		t.Errorf("Claim (acquired): got %d, want 1", got)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := count(func() { _, err = s.Claim(ctx, "k", time.Minute) }); got != 1 {
		t.Errorf("Claim (busy): got %d, want 1", got)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := count(func() { err = s.Complete(ctx, "k", claimed.Token, time.Hour) }); got != 1 {
		t.Errorf("Complete: got %d, want 1", got)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := count(func() { _, err = s.Claim(ctx, "k", time.Minute) }); got != 1 {
		t.Errorf("Claim (completed): got %d, want 1", got)
	}
	if err != nil {
		t.Fatal(err)
	}
	claimed, err = s.Claim(ctx, "r", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := count(func() { err = s.Release(ctx, "r", claimed.Token) }); got != 1 {
		t.Errorf("Release: got %d, want 1", got)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestRedisStoreUsesRedisExpiry(t *testing.T) {
	client := newClient(t, nil)
	prefix := testPrefix(t, client)
	s := newStore(t, client, redisstore.Config{Prefix: prefix})
	c, err := s.Claim(ctx, "evt", 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := client.PTTL(ctx, prefix+"evt").Result()
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl - 90*time.Second; d.Abs() > 2*time.Second {
		t.Errorf("the lease is a PX on the key: got a TTL of %v, want 90s ± 2s", ttl)
	}
	if err := s.Complete(ctx, "evt", c.Token, 72*time.Hour); err != nil {
		t.Fatal(err)
	}
	ttl, err = client.PTTL(ctx, prefix+"evt").Result()
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl - 72*time.Hour; d.Abs() > 2*time.Second {
		t.Errorf("completion keeps the key for the keep window: got a TTL of %v, want 72h ± 2s", ttl)
	}
}

func TestRedisStoreUnavailable(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer client.Close()
	s := newStore(t, client, redisstore.Config{})
	c, err := s.Claim(ctx, "k", time.Minute)
	if !errors.Is(err, idempotency.ErrUnavailable) {
		t.Fatalf("err: got %v, want %v", err, idempotency.ErrUnavailable)
	}
	if c.State == idempotency.Acquired {
		t.Errorf("an unreachable store never reports acquired: got %v, want anything else", c.State)
	}
	err = s.Complete(ctx, "k", "t", time.Hour)
	if !errors.Is(err, idempotency.ErrUnavailable) {
		t.Fatalf("err: got %v, want %v", err, idempotency.ErrUnavailable)
	}
	if errors.Is(err, idempotency.ErrLeaseLost) {
		t.Fatalf("err: got %v, want an error that is not %v", err, idempotency.ErrLeaseLost)
	}
	if err := s.Release(ctx, "k", "t"); !errors.Is(err, idempotency.ErrUnavailable) {
		t.Fatalf("Release: got %v, want %v", err, idempotency.ErrUnavailable)
	}
}

func TestRedisStoreCanceledContext(t *testing.T) {
	client := newClient(t, nil)
	s := newStore(t, client, redisstore.Config{Prefix: testPrefix(t, client)})
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.Claim(canceled, "k", time.Minute)
	if !errors.Is(err, idempotency.ErrUnavailable) {
		t.Fatalf("err: got %v, want %v", err, idempotency.ErrUnavailable)
	}
	c, err := s.Claim(ctx, "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != idempotency.Acquired {
		t.Errorf("the canceled claim took nothing: got %v, want %v", c.State, idempotency.Acquired)
	}
}
