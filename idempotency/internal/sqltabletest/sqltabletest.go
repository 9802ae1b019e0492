// Package sqltabletest is what the SQL idempotency stores' tests share,
// across the modules they live in: sqlstore on SQLite and PostgreSQL
// (idempotency/sqlstore/drivertest) and pgxstore. It
// holds the checks of a keys table that do not depend on the driver, and
// the ClaimTx harness of a database/sql store.
package sqltabletest

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/internal/claimtxtest"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
)

// PrunesAsItWrites checks that nobody has to call Prune: 300 keys claimed
// with a 100 ms lease, expire() to make them expire, then 128 claims of
// new keys, after which rows() (the table's row count, expired or not)
// is 128: the claims deleted the expired rows as they went (two batches of
// up to 256).
func PrunesAsItWrites(t *testing.T, s idempotency.Store, rows func() int, expire func()) {
	t.Helper()
	ctx := context.Background()
	for i := range 300 {
		_, err := s.Claim(ctx, fmt.Sprintf("old-%d", i), 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
	}
	expire()
	for i := range 128 {
		c, err := s.Claim(ctx, fmt.Sprintf("new-%d", i), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if c.State != idempotency.Acquired {
			t.Fatalf("c.State: got %v, want %v", c.State, idempotency.Acquired)
		}
	}
	if got := rows(); got != 128 {
		t.Errorf("only the live keys are left: got %d, want 128", got)
	}
}

// Migrator is a store's table creation.
type Migrator interface {
	Migrate(ctx context.Context) error
}

// MigrateConcurrently checks that replicas starting together may all
// migrate: in each of 10 rounds, on a fresh table named by table(), every
// store replica(i, name) returns for i below replicas migrates at once,
// and every call succeeds.
func MigrateConcurrently(t *testing.T, replicas int, table func() string, replica func(i int, table string) (Migrator, error)) {
	t.Helper()
	for round := range 10 {
		name := table()
		errs := make(chan error, replicas)
		start := make(chan struct{})
		for i := range replicas {
			go func() {
				s, err := replica(i, name)
				if err == nil {
					<-start
					err = s.Migrate(context.Background())
				}
				errs <- err
			}()
		}
		close(start)
		for range replicas {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}

// CountingDB counts the statements a store sends through database/sql.
type CountingDB struct {
	sqlstore.DB
	Statements atomic.Int64
}

// ExecContext counts one statement and runs it.
func (c *CountingDB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	c.Statements.Add(1)
	return c.DB.ExecContext(ctx, q, args...)
}

// QueryRowContext counts one statement and runs it.
func (c *CountingDB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	c.Statements.Add(1)
	return c.DB.QueryRowContext(ctx, q, args...)
}

// SQLCount returns PrunesAsItWrites' row count of table in db.
func SQLCount(t *testing.T, db *sql.DB, table string) func() int {
	return func() int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// SQLHarness runs the claimtxtest checks on a database/sql store; waiting
// is claimtxtest.Harness.Waiting (SQLWaiting on PostgreSQL, nil on SQLite,
// where claims wait at Begin instead).
func SQLHarness(s *sqlstore.Store, db *sql.DB, waiting func(t *testing.T) bool) claimtxtest.Harness[*sql.Tx] {
	return claimtxtest.Harness[*sql.Tx]{
		Store: s,
		Begin: func(t *testing.T) *sql.Tx {
			tx, err := db.BeginTx(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			return tx
		},
		End: func(t *testing.T, tx *sql.Tx, commit bool) {
			if commit {
				if err := tx.Commit(); err != nil {
					t.Error(err)
				}
			} else {
				if err := tx.Rollback(); err != nil {
					t.Error(err)
				}
			}
		},
		ClaimTx: func(ctx context.Context, tx *sql.Tx, key string, keep, lockTimeout time.Duration) (idempotency.State, error) {
			return s.ClaimTx(ctx, tx, key, keep, lockTimeout)
		},
		Waits:   waiting != nil,
		Waiting: waiting,
	}
}

// SQLWaiting is claimtxtest.Harness.Waiting for the keys table named
// table, on PostgreSQL through db.
func SQLWaiting(db *sql.DB, table string) func(t *testing.T) bool {
	return func(t *testing.T) bool {
		t.Helper()
		var n int
		if err := db.QueryRowContext(context.Background(), claimtxtest.WaitingQuery, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
}
