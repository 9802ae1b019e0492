package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/hookkit/hookkit/idempotency/storetest"
)

// BenchmarkPostgresClaimComplete: claim a new key and complete it on the
// local PostgreSQL (two statements, two round trips per iteration).
func BenchmarkPostgresClaimComplete(b *testing.B) {
	db := openPostgres(b, nil)
	storetest.BenchmarkClaimComplete(b, postgresStore(b, db, randomName("hookkit_bench_")))
}

// BenchmarkSQLiteClaimComplete: the same on a SQLite file in WAL mode.
func BenchmarkSQLiteClaimComplete(b *testing.B) {
	db := openSQLite(b, filepath.Join(b.TempDir(), "idem.db"))
	storetest.BenchmarkClaimComplete(b, sqliteStore(b, db, nil))
}
