package redisstore_test

import (
	"testing"

	"github.com/hookkit/hookkit/idempotency/redisstore"
	"github.com/hookkit/hookkit/idempotency/storetest"
)

// BenchmarkRedisClaimComplete: claim a new key and complete it on the local
// Redis (two round trips per iteration).
func BenchmarkRedisClaimComplete(b *testing.B) {
	client := newClient(b, nil)
	storetest.BenchmarkClaimComplete(b, newStore(b, client, redisstore.Config{Prefix: testPrefix(b, client)}))
}
