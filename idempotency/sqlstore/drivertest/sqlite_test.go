// sqlstore's tests on SQLite, through modernc.org/sqlite.
package drivertest_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
	"github.com/hookkit/hookkit/idempotency/sqlstore/drivertest/internal/claimtxtest"
	"github.com/hookkit/hookkit/idempotency/sqlstore/drivertest/internal/sqltabletest"
	"github.com/hookkit/hookkit/idempotency/storetest"
)

// openSQLite opens a SQLite database at path as hosts should: writers
// queue for the database lock instead of failing.
func openSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func sqliteStore(t testing.TB, db *sql.DB, now func() time.Time) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.NewSQLite(db, sqlstore.Config{Clock: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) idempotency.Store {
		return sqliteStore(t, openSQLite(t, filepath.Join(t.TempDir(), "idem.db")), nil)
	})
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) idempotency.Store {
		return sqliteStore(t, openSQLite(t, filepath.Join(t.TempDir(), "idem.db")), now)
	})
}

// Two replicas: two connection pools, two Store values, one database.
func TestSQLiteTwoHandlesRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idem.db")
	stores := []idempotency.Store{sqliteStore(t, openSQLite(t, path), nil), sqliteStore(t, openSQLite(t, path), nil)}
	storetest.ConcurrentClaims(t, stores, 64, 5)
}

// Each operation is one statement, and on PostgreSQL one round trip (one
// write on the connection) once pgx has prepared it.
func TestSQLiteOneStatement(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "idem.db"))
	sqliteStore(t, db, nil) // migrated
	counting := &sqltabletest.CountingDB{DB: db}
	s, err := sqlstore.NewSQLite(counting, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func() error{}
	var c idempotency.Claim
	ops["claim"] = func() (err error) { c, err = s.Claim(ctx, "k", time.Minute); return }
	ops["complete"] = func() error { return s.Complete(ctx, "k", c.Token, time.Hour) }
	for _, name := range []string{"claim", "complete"} {
		before := counting.Statements.Load()
		if err := ops[name](); err != nil {
			t.Fatal(err)
		}
		if got := counting.Statements.Load() - before; got != 1 {
			t.Errorf("%v: got %d, want 1", name, got)
		}
	}
}

func TestSQLitePrune(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	s := sqliteStore(t, openSQLite(t, filepath.Join(t.TempDir(), "idem.db")), clock.Now)
	for _, k := range []string{"a", "b"} {
		_, err := s.Claim(ctx, k, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.Claim(ctx, "kept", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "kept", c.Token, 72*time.Hour); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	n, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("n: got %d, want 2", n)
	}
}

func TestSQLiteClaimTx(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "idem.db"))
	claimtxtest.Run(t, sqltabletest.SQLHarness(sqliteStore(t, db, nil), db, nil))
}

// Nobody has to call Prune: claiming prunes expired rows as it goes. 300
// expired rows, then 128 claims of new keys: the expired ones are gone
// (two batches of up to 256), and the new ones are all there.
func TestSQLitePrunesAsItWrites(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	db := openSQLite(t, filepath.Join(t.TempDir(), "idem.db"))
	s := sqliteStore(t, db, clock.Now)
	sqltabletest.PrunesAsItWrites(t, s, sqltabletest.SQLCount(t, db, sqlstore.DefaultTable), func() { clock.Advance(time.Hour) })
}
