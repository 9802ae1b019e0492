// sqltx's transactional accept step on PostgreSQL, through pgx's database/sql
// driver: the same suite as on SQLite (dispatch/internal/txaccepttest), in a
// module of its own so that the core's go.mod never names pgx.
package drivertest_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/deadlettertest"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/sqltx/drivertest/internal/servicetest"
	"github.com/hookkit/hookkit/dispatch/sqltx/drivertest/internal/sqltxtest"
	"github.com/hookkit/hookkit/dispatch/sqltx/drivertest/internal/txaccepttest"
	"github.com/hookkit/hookkit/dispatch/txstep"
)

var ctx = context.Background()

func TestPostgres(t *testing.T) {
	url := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
	open := func(t *testing.T) *sql.DB {
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		// A bounded pool, as a host has: past it, a delivery waits for a
		// connection instead of failing on PostgreSQL's max_connections.
		db.SetMaxOpenConns(16)
		if err := db.PingContext(ctx); err != nil {
			servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
		}
		return db
	}
	txaccepttest.Run(t, func(t *testing.T) txaccepttest.Binding {
		db := open(t)
		tb := sqltxtest.NewTables()
		t.Cleanup(func() {
			for _, name := range []string{tb.Idempotency, tb.DeadLetters, tb.DeadLetters + "_x", tb.Effects} {
				db.ExecContext(ctx, `DROP TABLE IF EXISTS `+name)
			}
		})
		return sqltxtest.Binding(t, db, true, tb, open)
	})
}

func TestPostgresDeadLettersConformance(t *testing.T) {
	url := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
	if db, err := sql.Open("pgx", url); err != nil {
		t.Fatal(err)
	} else if err := db.PingContext(ctx); err != nil {
		db.Close()
		servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
	} else {
		db.Close()
	}
	deadlettertest.Run(t, func(t *testing.T, _ *dispatch.Router) deadlettertest.Harness {
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		tb := sqltxtest.NewTables()
		t.Cleanup(func() {
			for _, name := range []string{tb.Idempotency, tb.DeadLetters} {
				db.Exec(`DROP TABLE IF EXISTS ` + name)
			}
		})
		hk, err := sqltx.NewPostgres(db, txstep.Config{IdempotencyTable: tb.Idempotency, DeadLetterTable: tb.DeadLetters})
		if err != nil {
			t.Fatal(err)
		}
		if err := hk.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return deadlettertest.Harness{Store: hk.DeadLetters(), Options: []dispatch.Option{dispatch.WithAcceptor(hk.Acceptor())}}
	})
}
