package drivertest_test

import (
	"path/filepath"
	"testing"

	"github.com/hookkit/hookkit/idempotency/storetest"
)

// BenchmarkSQLiteClaimComplete: the same on a SQLite file in WAL mode.
func BenchmarkSQLiteClaimComplete(b *testing.B) {
	db := openSQLite(b, filepath.Join(b.TempDir(), "idem.db"))
	storetest.BenchmarkClaimComplete(b, sqliteStore(b, db, nil))
}
