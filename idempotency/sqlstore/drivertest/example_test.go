package drivertest_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
)

// sqlstore's ExampleNewSQLite, run with a driver registered.
func Example_newSQLite() {
	dir, err := os.MkdirTemp("", "sqlstore-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// Writers queue for the database instead of failing (see NewSQLite).
	db, err := sql.Open("sqlite", filepath.Join(dir, "app.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	store, err := sqlstore.NewSQLite(db, sqlstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	c, err := store.Claim(ctx, "stripe:evt_1", time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.State)
	if err := store.Complete(ctx, "stripe:evt_1", c.Token, idempotency.DefaultKeep); err != nil {
		log.Fatal(err)
	}
	again, _ := store.Claim(ctx, "stripe:evt_1", time.Minute) // the sender's retry
	fmt.Println(again.State)
	// Output:
	// acquired
	// completed
}
