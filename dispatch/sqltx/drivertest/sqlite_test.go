// sqltx's transactional accept step on SQLite, through modernc.org/sqlite:
// the suite every binding passes (dispatch/internal/txaccepttest), and
// the dead-letter store's conformance suite.
package drivertest_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"runtime"
	"testing"
	"time"

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

// StopKept ends the kept events' runner that RunKept started (at
// shutdown, before the database closes), and RunKept starts it again.
func TestStopKeptEndsTheRunner(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "kept.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hk, err := sqltx.NewSQLite(db, txstep.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := hk.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	r := dispatch.NewRouter()
	for round := range 2 {
		hk.RunKept("goconverso", r)
		if !waitRunner(true) {
			t.Fatalf("round %d: RunKept started no runner", round)
		}
		if err := hk.StopKept(ctx); err != nil {
			t.Fatalf("round %d: StopKept: %v", round, err)
		}
		if !waitRunner(false) {
			t.Fatalf("round %d: the runner still runs after StopKept returned", round)
		}
	}
	if err := hk.StopKept(ctx); err != nil {
		t.Errorf("StopKept of a stopped runner: %v, want nil", err)
	}
}

// waitRunner waits, up to 5 seconds, until a Keeper's goroutine runs (or
// none does), and reports whether it came to that.
func waitRunner(running bool) bool {
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(5 * time.Second); ; {
		stacks := buf[:runtime.Stack(buf, true)]
		if bytes.Contains(stacks, []byte("dispatch/order.(*Keeper[...]).run(")) == running {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}
