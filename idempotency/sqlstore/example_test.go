package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
)

// With the host's SQLite driver registered (modernc.org/sqlite, for one).
// Not run here, where no driver is: idempotency/sqlstore/drivertest runs
// it with one (Example_newSQLite), output and all.
func ExampleNewSQLite() {
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
	fmt.Println(c.State) // acquired
	if err := store.Complete(ctx, "stripe:evt_1", c.Token, idempotency.DefaultKeep); err != nil {
		log.Fatal(err)
	}
	// The sender's retry:
	again, _ := store.Claim(ctx, "stripe:evt_1", time.Minute)
	fmt.Println(again.State) // completed
}

// On PostgreSQL, with the host's database/sql driver registered (pgx's
// stdlib, for one). Not run: it needs a PostgreSQL; the tests of
// idempotency/sqlstore/drivertest run the same on one.
func ExampleNewPostgres() {
	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	store, err := sqlstore.NewPostgres(db, sqlstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Migrate(context.Background()); err != nil { // safe on replicas started together
		log.Fatal(err)
	}
	_ = idempotency.Store(store) // for dispatch.WithStore
}
