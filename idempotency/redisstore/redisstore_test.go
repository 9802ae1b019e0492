package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/redisstore"
	"github.com/hookkit/hookkit/idempotency/storetest"
	"github.com/hookkit/hookkit/internal/servicetest"
)

var ctx = context.Background()

// newClient connects to the test Redis, counting writes into writes when it
// is not nil; the test is skipped (or failed, in CI) when Redis is absent.
func newClient(t testing.TB, writes *atomic.Int64) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(servicetest.ServiceURL(t, servicetest.RedisURLEnv))
	require.NoError(t, err)
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
	require.NoError(t, err)
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
	require.NoError(t, err)
	require.NoError(t, s.Complete(ctx, "warm", c.Token, time.Hour))
	c, err = s.Claim(ctx, "warm2", time.Minute)
	require.NoError(t, err)
	require.NoError(t, s.Release(ctx, "warm2", c.Token))

	count := func(op func()) int64 {
		before := writes.Load()
		op()
		return writes.Load() - before
	}
	var claimed idempotency.Claim
	assert.EqualValues(t, 1, count(func() { claimed, err = s.Claim(ctx, "k", time.Minute) }), "Claim (acquired)")
	require.NoError(t, err)
	assert.EqualValues(t, 1, count(func() { _, err = s.Claim(ctx, "k", time.Minute) }), "Claim (busy)")
	require.NoError(t, err)
	assert.EqualValues(t, 1, count(func() { err = s.Complete(ctx, "k", claimed.Token, time.Hour) }), "Complete")
	require.NoError(t, err)
	assert.EqualValues(t, 1, count(func() { _, err = s.Claim(ctx, "k", time.Minute) }), "Claim (completed)")
	require.NoError(t, err)
	claimed, err = s.Claim(ctx, "r", time.Minute)
	require.NoError(t, err)
	assert.EqualValues(t, 1, count(func() { err = s.Release(ctx, "r", claimed.Token) }), "Release")
	require.NoError(t, err)
}

func TestRedisStoreUsesRedisExpiry(t *testing.T) {
	client := newClient(t, nil)
	prefix := testPrefix(t, client)
	s := newStore(t, client, redisstore.Config{Prefix: prefix})
	c, err := s.Claim(ctx, "evt", 90*time.Second)
	require.NoError(t, err)
	ttl, err := client.PTTL(ctx, prefix+"evt").Result()
	require.NoError(t, err)
	assert.InDelta(t, 90*time.Second, ttl, float64(2*time.Second), "the lease is a PX on the key")
	require.NoError(t, s.Complete(ctx, "evt", c.Token, 72*time.Hour))
	ttl, err = client.PTTL(ctx, prefix+"evt").Result()
	require.NoError(t, err)
	assert.InDelta(t, 72*time.Hour, ttl, float64(2*time.Second), "completion keeps the key for the keep window")
}

func TestRedisStoreUnavailable(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer client.Close()
	s := newStore(t, client, redisstore.Config{})
	c, err := s.Claim(ctx, "k", time.Minute)
	require.ErrorIs(t, err, idempotency.ErrUnavailable)
	assert.NotEqual(t, idempotency.Acquired, c.State, "an unreachable store never reports acquired")
	err = s.Complete(ctx, "k", "t", time.Hour)
	require.ErrorIs(t, err, idempotency.ErrUnavailable)
	require.NotErrorIs(t, err, idempotency.ErrLeaseLost)
	require.ErrorIs(t, s.Release(ctx, "k", "t"), idempotency.ErrUnavailable)
}

func TestRedisStoreCanceledContext(t *testing.T) {
	client := newClient(t, nil)
	s := newStore(t, client, redisstore.Config{Prefix: testPrefix(t, client)})
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.Claim(canceled, "k", time.Minute)
	require.ErrorIs(t, err, idempotency.ErrUnavailable)
	c, err := s.Claim(ctx, "k", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, idempotency.Acquired, c.State, "the canceled claim took nothing")
}
