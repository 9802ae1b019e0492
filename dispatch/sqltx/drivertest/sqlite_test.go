// sqltx's transactional accept step on SQLite, through modernc.org/sqlite:
// the suite every binding passes (dispatch/internal/txaccepttest), and
// the dead-letter store's conformance suite.
package drivertest_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/deadlettertest"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/sqltx/drivertest/internal/sqltxtest"
	"github.com/hookkit/hookkit/dispatch/sqltx/drivertest/internal/txaccepttest"
	"github.com/hookkit/hookkit/dispatch/txstep"
)

func TestSQLite(t *testing.T) {
	txaccepttest.Run(t, func(t *testing.T) txaccepttest.Binding {
		path := filepath.Join(t.TempDir(), "app.db")
		open := func(t *testing.T) *sql.DB {
			db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			// One writer at a time: deliveries queue for a connection
			// rather than in SQLite's busy handler.
			db.SetMaxOpenConns(4)
			return db
		}
		return sqltxtest.Binding(t, open(t), false, sqltxtest.NewTables(), open)
	})
}

func TestSQLiteDeadLettersConformance(t *testing.T) {
	deadlettertest.Run(t, func(t *testing.T, _ *dispatch.Router) deadlettertest.Harness {
		db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "dl.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		hk, err := sqltx.NewSQLite(db, txstep.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := hk.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return deadlettertest.Harness{Store: hk.DeadLetters(), Options: []dispatch.Option{dispatch.WithAcceptor(hk.Acceptor())}}
	})
}
