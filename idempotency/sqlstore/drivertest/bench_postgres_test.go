package drivertest_test

import (
	"testing"

	"github.com/hookkit/hookkit/idempotency/sqlstore/drivertest/internal/servicetest"
	"github.com/hookkit/hookkit/idempotency/storetest"
)

// BenchmarkPostgresClaimComplete: claim a new key and complete it on the
// local PostgreSQL (two statements, two round trips per iteration).
func BenchmarkPostgresClaimComplete(b *testing.B) {
	db := openPostgres(b, nil)
	storetest.BenchmarkClaimComplete(b, postgresStore(b, db, servicetest.RandomName("hookkit_bench_")))
}
