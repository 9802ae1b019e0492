package drivertest_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hookkit/hookkit/dispatch/reconcile"
)

// A SQLStore keeps checkpoints in the host's SQLite database (or
// PostgreSQL, with reconcile.PostgreSQL): a checkpoint saved by one run is
// where the next one, in any process, starts.
func ExampleNewSQLStore() {
	dir, _ := os.MkdirTemp("", "reconcile-example")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "host.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	store, err := reconcile.NewSQLStore(db, reconcile.SQLConfig{Dialect: reconcile.SQLite})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := store.Migrate(ctx); err != nil {
		panic(err)
	}
	cp, _ := store.Acquire(ctx, "stripe", "run-1", time.Minute)
	fmt.Println("first run starts at", cp)
	cp.Since, cp.Until, cp.Stream, cp.Cursor = time.Unix(1_800_000_000, 0).UTC(), time.Unix(1_800_003_600, 0).UTC(), "types:payment_intent.succeeded", "evt_42"
	store.Save(ctx, "stripe", "run-1", cp, time.Minute)
	_, err = store.Acquire(ctx, "stripe", "run-2", time.Minute)
	fmt.Println("a second run meanwhile:", err)
	store.Release(ctx, "stripe", "run-1", reconcile.Report{Source: "stripe"})
	cp, _ = store.Acquire(ctx, "stripe", "run-2", time.Minute)
	fmt.Println("the next run resumes after", cp.Cursor, "in", cp.Stream)
	// Output:
	// first run starts at {0001-01-01 00:00:00 +0000 UTC 0001-01-01 00:00:00 +0000 UTC  }
	// a second run meanwhile: reconcile: a run is already under way
	// the next run resumes after evt_42 in types:payment_intent.succeeded
}
