package drivertest_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/sqltx/drivertest/internal/servicetest"
	"github.com/hookkit/hookkit/dispatch/sqltx/drivertest/internal/sqltxtest"
	"github.com/hookkit/hookkit/dispatch/txstep"
)

// BenchmarkPostgresAcceptSteps compares the default and the transactional accept step on
// PostgreSQL: events per second and commits per event.
func BenchmarkPostgresAcceptSteps(b *testing.B) {
	sqltxtest.BenchmarkAcceptSteps(b, sqltxtest.Database{Name: "postgres", Open: func(b *testing.B) (*sql.DB, bool, func() int64) {
		db, err := sql.Open("pgx", servicetest.ServiceURL(b, servicetest.PostgresURLEnv))
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(16)
		b.Cleanup(func() { db.Close() })
		// Every committed write transaction takes a transaction ID;
		// asking for the counter takes one more.
		xid := func() int64 {
			var n int64
			if err := db.QueryRow(`SELECT pg_current_xact_id()::text::bigint`).Scan(&n); err != nil {
				b.Fatal(err)
			}
			return n
		}
		return db, true, xid
	}})
}

// BenchmarkPostgresListDeadLetters: a page of 100 of 10,000 dead letters on
// PostgreSQL.
func BenchmarkPostgresListDeadLetters(b *testing.B) {
	db, err := sql.Open("pgx", servicetest.ServiceURL(b, servicetest.PostgresURLEnv))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	tb := sqltxtest.NewTables()
	b.Cleanup(func() {
		for _, name := range []string{tb.Idempotency, tb.DeadLetters} {
			db.Exec(`DROP TABLE IF EXISTS ` + name)
		}
	})
	hk, err := sqltx.NewPostgres(db, txstep.Config{IdempotencyTable: tb.Idempotency, DeadLetterTable: tb.DeadLetters})
	if err != nil {
		b.Fatal(err)
	}
	if err := hk.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	sqltxtest.BenchmarkListDeadLetters(b, hk, 10_000)
}
