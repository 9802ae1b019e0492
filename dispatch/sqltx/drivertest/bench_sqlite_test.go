package drivertest_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/sqltx/drivertest/internal/sqltxtest"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"modernc.org/sqlite"
)

// sqliteCommits counts the commits of every connection opened through the
// "sqlite-counting" driver.
var (
	sqliteCommits  atomic.Int64
	registerOnce   sync.Once
	countingDriver = &sqlite.Driver{}
)

func openCountingSQLite(b *testing.B, path string) *sql.DB {
	registerOnce.Do(func() {
		countingDriver.RegisterConnectionHook(func(conn sqlite.ExecQuerierContext, _ string) error {
			hooks, ok := conn.(sqlite.HookRegisterer)
			if !ok {
				return errors.New("modernc's connection registers no hooks")
			}
			hooks.RegisterCommitHook(func() int32 { sqliteCommits.Add(1); return 0 })
			return nil
		})
		sql.Register("sqlite-counting", countingDriver)
	})
	db, err := sql.Open("sqlite-counting", path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	b.Cleanup(func() { db.Close() })
	return db
}

var _ driver.Driver = countingDriver

// BenchmarkSQLiteAcceptSteps compares the default and the transactional accept step on SQLite
// (BenchmarkPostgresAcceptSteps on PostgreSQL): events per second and
// commits per event.
func BenchmarkSQLiteAcceptSteps(b *testing.B) {
	sqltxtest.BenchmarkAcceptSteps(b, sqltxtest.Database{Name: "sqlite", Open: func(b *testing.B) (*sql.DB, bool, func() int64) {
		return openCountingSQLite(b, filepath.Join(b.TempDir(), "bench.db")), false, sqliteCommits.Load
	}})
}

// BenchmarkSQLiteListDeadLetters: a page of 100 of 10,000 dead letters on SQLite.
func BenchmarkSQLiteListDeadLetters(b *testing.B) {
	db, err := sql.Open("sqlite", filepath.Join(b.TempDir(), "dl.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	hk, err := sqltx.NewSQLite(db, txstep.Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := hk.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	sqltxtest.BenchmarkListDeadLetters(b, hk, 10_000)
}
