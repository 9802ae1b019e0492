// sqlstore's tests on PostgreSQL, through pgx's database/sql driver.
package drivertest_test

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
	"github.com/hookkit/hookkit/idempotency/sqlstore/drivertest/internal/claimtxtest"
	"github.com/hookkit/hookkit/idempotency/sqlstore/drivertest/internal/servicetest"
	"github.com/hookkit/hookkit/idempotency/sqlstore/drivertest/internal/sqltabletest"
	"github.com/hookkit/hookkit/idempotency/storetest"
)

var ctx = context.Background()

// openPostgres opens the test database, counting writes into writes when
// it is not nil; skipped (failed in CI) when PostgreSQL is absent.
func openPostgres(t testing.TB, writes *atomic.Int64) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(servicetest.ServiceURL(t, servicetest.PostgresURLEnv))
	if err != nil {
		t.Fatal(err)
	}
	if writes != nil {
		cfg.DialFunc = servicetest.CountingDial(writes)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(ctx); err != nil {
		servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
	}
	return db
}

// postgresStore returns a migrated store on a table of its own, dropped
// when the test ends.
func postgresStore(t testing.TB, db *sql.DB, table string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.NewPostgres(db, sqlstore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.ExecContext(ctx, `DROP TABLE IF EXISTS "`+table+`"`) })
	return s
}

func TestPostgresConformance(t *testing.T) {
	db := openPostgres(t, nil)
	storetest.Run(t, func(t *testing.T) idempotency.Store {
		return postgresStore(t, db, servicetest.RandomName("hookkit_test_"))
	})
}

func TestPostgresReplicasRace(t *testing.T) {
	a, b := openPostgres(t, nil), openPostgres(t, nil)
	table := servicetest.RandomName("hookkit_test_")
	stores := []idempotency.Store{postgresStore(t, a, table), postgresStore(t, b, table)}
	storetest.ConcurrentClaims(t, stores, 64, 10)
}

func TestPostgresOneStatementOneRoundTrip(t *testing.T) {
	var writes atomic.Int64
	db := openPostgres(t, &writes)
	db.SetMaxOpenConns(1) // one connection, so its statement cache is warm
	table := servicetest.RandomName("hookkit_test_")
	postgresStore(t, db, table)
	counting := &sqltabletest.CountingDB{DB: db}
	s, err := sqlstore.NewPostgres(counting, sqlstore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}

	for i := 0; i < 2; i++ { // warm up: pgx prepares each statement on first use
		c, err := s.Claim(ctx, "warm", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if c.State == idempotency.Acquired {
			if err := s.Complete(ctx, "warm", c.Token, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		c, err = s.Claim(ctx, "warm-release", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, "warm-release", c.Token); err != nil {
			t.Fatal(err)
		}
	}

	check := func(name string, op func() error) {
		t.Helper()
		w, st := writes.Load(), counting.Statements.Load()
		if err := op(); err != nil {
			t.Fatalf("%v: %v", name, err)
		}
		if got := counting.Statements.Load() - st; got != 1 {
			t.Errorf("%s: statements: got %d, want 1", name, got)
		}
		if got := writes.Load() - w; got != 1 {
			t.Errorf("%s: round trips: got %d, want 1", name, got)
		}
	}
	var c idempotency.Claim
	check("Claim (acquired)", func() (err error) { c, err = s.Claim(ctx, "k", time.Minute); return })
	check("Claim (busy)", func() error { _, err := s.Claim(ctx, "k", time.Minute); return err })
	check("Complete", func() error { return s.Complete(ctx, "k", c.Token, time.Hour) })
	check("Claim (completed)", func() error { _, err := s.Claim(ctx, "k", time.Minute); return err })
	check("Claim (for release)", func() (err error) { c, err = s.Claim(ctx, "r", time.Minute); return })
	check("Release", func() error { return s.Release(ctx, "r", c.Token) })
}

func TestPostgresUsesServerClock(t *testing.T) {
	db := openPostgres(t, nil)
	s := postgresStore(t, db, servicetest.RandomName("hookkit_test_"))
	var serverNow time.Time
	if err := db.QueryRowContext(ctx, "SELECT now()").Scan(&serverNow); err != nil {
		t.Fatal(err)
	}
	c, err := s.Claim(ctx, "k", 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Expires.Sub(serverNow.Add(90 * time.Second)); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("c.Expires: got %v, want within %v of %v", c.Expires, 2*time.Second, serverNow.Add(90*time.Second))
	}

	_, err = sqlstore.NewPostgres(db, sqlstore.Config{Clock: time.Now})
	if !errors.Is(err, idempotency.ErrInvalidConfig) {
		t.Fatalf("a client clock would let skewed replicas disagree: got %v, want %v", err, idempotency.ErrInvalidConfig)
	}
}

func TestPostgresSchemaQualifiedTable(t *testing.T) {
	db := openPostgres(t, nil)
	schema := servicetest.RandomName("hookkit_schema_")
	_, err := db.ExecContext(ctx, `CREATE SCHEMA "`+schema+`"`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.ExecContext(ctx, `DROP SCHEMA "`+schema+`" CASCADE`) })
	s, err := sqlstore.NewPostgres(db, sqlstore.Config{Table: schema + ".idempotency"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate is idempotent: %v", err)
	}
	c, err := s.Claim(ctx, "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != idempotency.Acquired {
		t.Errorf("c.State: got %v, want %v", c.State, idempotency.Acquired)
	}
}

func TestPostgresPrune(t *testing.T) {
	db := openPostgres(t, nil)
	s := postgresStore(t, db, servicetest.RandomName("hookkit_test_"))
	for _, k := range []string{"a", "b", "c"} {
		_, err := s.Claim(ctx, k, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.Claim(ctx, "kept", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "kept", c.Token, time.Hour); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	n, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("n: got %d, want 3", n)
	}
	again, err := s.Claim(ctx, "kept", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if again.State != idempotency.Completed {
		t.Errorf("again.State: got %v, want %v", again.State, idempotency.Completed)
	}
}

func TestPostgresUnavailable(t *testing.T) {
	db := stdlib.OpenDB(mustPgConfig(t, "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"))
	defer db.Close()
	s, err := sqlstore.NewPostgres(db, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Claim(ctx, "k", time.Minute)
	if !errors.Is(err, idempotency.ErrUnavailable) {
		t.Fatalf("err: got %v, want %v", err, idempotency.ErrUnavailable)
	}
	if c.State == idempotency.Acquired {
		t.Errorf("c.State: got %v, want anything else", c.State)
	}
	if err := s.Complete(ctx, "k", "t", time.Hour); !errors.Is(err, idempotency.ErrUnavailable) {
		t.Fatalf("s.Complete(ctx, \"k\", \"t\", time.Hour): got %v, want %v", err, idempotency.ErrUnavailable)
	}
	if err := s.Release(ctx, "k", "t"); !errors.Is(err, idempotency.ErrUnavailable) {
		t.Fatalf("s.Release(ctx, \"k\", \"t\"): got %v, want %v", err, idempotency.ErrUnavailable)
	}
	if err := s.Migrate(ctx); !errors.Is(err, idempotency.ErrUnavailable) {
		t.Fatalf("s.Migrate(ctx): got %v, want %v", err, idempotency.ErrUnavailable)
	}
}

func mustPgConfig(t *testing.T, url string) pgx.ConnConfig {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return *cfg
}

// Replicas that start together may all migrate.
func TestPostgresMigrateConcurrently(t *testing.T) {
	pools := []*sql.DB{openPostgres(t, nil), openPostgres(t, nil), openPostgres(t, nil)}
	sqltabletest.MigrateConcurrently(t, len(pools), func() string {
		table := servicetest.RandomName("hookkit_migrate_")
		t.Cleanup(func() { pools[0].ExecContext(ctx, `DROP TABLE IF EXISTS "`+table+`"`) })
		return table
	}, func(i int, table string) (sqltabletest.Migrator, error) {
		return sqlstore.NewPostgres(pools[i], sqlstore.Config{Table: table})
	})
}

func TestPostgresErrorsKeepTheDriverError(t *testing.T) {
	db := openPostgres(t, nil)
	s, err := sqlstore.NewPostgres(db, sqlstore.Config{Table: servicetest.RandomName("hookkit_never_created_")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Claim(ctx, "k", time.Minute)
	if !errors.Is(err, idempotency.ErrUnavailable) {
		t.Fatalf("err: got %v, want %v", err, idempotency.ErrUnavailable)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("err: got %v, want a %T", err, pgErr)
	}
	if pgErr.Code != "42P01" {
		t.Errorf("undefined_table: got %q, want %q", pgErr.Code, "42P01")
	}
}

func TestPostgresClaimTx(t *testing.T) {
	db := openPostgres(t, nil)
	table := servicetest.RandomName("hookkit_test_")
	s := postgresStore(t, db, table)
	claimtxtest.Run(t, sqltabletest.SQLHarness(s, db, sqltabletest.SQLWaiting(db, table)))
}

func TestPostgresClaimTxRestoresLockTimeout(t *testing.T) {
	db := openPostgres(t, nil)
	s := postgresStore(t, db, servicetest.RandomName("hookkit_test_"))
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `SET LOCAL lock_timeout = '7s'`)
	if err != nil {
		t.Fatal(err)
	}
	state, err := s.ClaimTx(ctx, tx, "k", time.Hour, 250*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if state != idempotency.Acquired {
		t.Fatalf("state: got %v, want %v", state, idempotency.Acquired)
	}
	var after string
	if err := tx.QueryRowContext(ctx, `SHOW lock_timeout`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != "7s" {
		t.Errorf("after: got %q, want %q", after, "7s")
	}
}

// Nobody has to call Prune: claiming prunes expired rows as it goes.
func TestPostgresPrunesAsItWrites(t *testing.T) {
	db := openPostgres(t, nil)
	table := servicetest.RandomName("hookkit_test_")
	s := postgresStore(t, db, table)
	sqltabletest.PrunesAsItWrites(t, s, sqltabletest.SQLCount(t, db, table), func() { time.Sleep(300 * time.Millisecond) })
}
