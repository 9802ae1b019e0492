package pgxstore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/pgxstore"
	"github.com/hookkit/hookkit/idempotency/pgxstore/internal/claimtxtest"
	"github.com/hookkit/hookkit/idempotency/pgxstore/internal/servicetest"
	"github.com/hookkit/hookkit/idempotency/pgxstore/internal/sqltabletest"
	"github.com/hookkit/hookkit/idempotency/storetest"
)

var ctx = context.Background()

// openPool connects to the test database, counting writes into writes when
// it is not nil; skipped (failed in CI) when PostgreSQL is absent.
func openPool(t testing.TB, writes *atomic.Int64) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(servicetest.ServiceURL(t, servicetest.PostgresURLEnv))
	if err != nil {
		t.Fatal(err)
	}
	if writes != nil {
		cfg.MaxConns = 1 // one connection, so its statement cache is warm
		cfg.ConnConfig.DialFunc = servicetest.CountingDial(writes)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
	}
	return pool
}

// newStore returns a migrated store on a table of its own, dropped when the
// test ends.
func newStore(t testing.TB, pool *pgxpool.Pool, table string) *pgxstore.Store {
	t.Helper()
	s, err := pgxstore.New(pool, pgxstore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Exec(ctx, `DROP TABLE IF EXISTS "`+table+`"`) })
	return s
}

func TestConformance(t *testing.T) {
	pool := openPool(t, nil)
	storetest.Run(t, func(t *testing.T) idempotency.Store {
		return newStore(t, pool, servicetest.RandomName("hookkit_pgx_test_"))
	})
}

func TestClaimTx(t *testing.T) {
	pool := openPool(t, nil)
	table := servicetest.RandomName("hookkit_pgx_test_")
	s := newStore(t, pool, table)
	claimtxtest.Run(t, claimtxtest.Harness[pgx.Tx]{
		Store: s,
		Begin: func(t *testing.T) pgx.Tx {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return tx
		},
		End: func(t *testing.T, tx pgx.Tx, commit bool) {
			if commit {
				if err := tx.Commit(ctx); err != nil {
					t.Error(err)
				}
			} else {
				if err := tx.Rollback(ctx); err != nil {
					t.Error(err)
				}
			}
		},
		ClaimTx: func(ctx context.Context, tx pgx.Tx, key string, keep, lockTimeout time.Duration) (idempotency.State, error) {
			return s.ClaimTx(ctx, tx, key, keep, lockTimeout)
		},
		Waits: true,
		Waiting: func(t *testing.T) bool {
			t.Helper()
			var n int
			if err := pool.QueryRow(ctx, claimtxtest.WaitingQuery, table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n > 0
		},
	})
}

// Two replicas: two pools, two Store values, one table.
func TestReplicasRace(t *testing.T) {
	a, b := openPool(t, nil), openPool(t, nil)
	table := servicetest.RandomName("hookkit_pgx_test_")
	storetest.ConcurrentClaims(t, []idempotency.Store{newStore(t, a, table), newStore(t, b, table)}, 64, 10)
}

// Each operation is one round trip once pgx has prepared its statement.
func TestOneRoundTripPerOperation(t *testing.T) {
	var writes atomic.Int64
	pool := openPool(t, &writes)
	s := newStore(t, pool, servicetest.RandomName("hookkit_pgx_test_"))
	for range 2 { // warm up: pgx prepares each statement on first use
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
	count := func(op func() error) int64 {
		before := writes.Load()
		if err := op(); err != nil {
			t.Fatal(err)
		}
		return writes.Load() - before
	}
	var c idempotency.Claim
	if got := count(func() (err error) { c, err = s.Claim(ctx, "k", time.Minute); return err }); got != 1 {
		t.Errorf("Claim: got %d, want 1", got)
	}
	if got := count(func() error { return s.Complete(ctx, "k", c.Token, time.Hour) }); got != 1 {
		t.Errorf("Complete: got %d, want 1", got)
	}
	if got := count(func() (err error) { c, err = s.Claim(ctx, "r", time.Minute); return err }); got != 1 {
		t.Errorf("Claim: got %d, want 1", got)
	}
	if got := count(func() error { return s.Release(ctx, "r", c.Token) }); got != 1 {
		t.Errorf("Release: got %d, want 1", got)
	}
}

// sqlstore and pgxstore read and write the same table the same way: a key
// completed through one is completed for the other.
func TestSharesTheTableWithSQLStore(t *testing.T) {
	pool := openPool(t, nil)
	table := servicetest.RandomName("hookkit_pgx_test_")
	s := newStore(t, pool, table)
	c, err := s.Claim(ctx, "stripe:evt_shared", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "stripe:evt_shared", c.Token, time.Hour); err != nil {
		t.Fatal(err)
	}
	var token string
	var expires time.Time
	if err := pool.QueryRow(ctx, `SELECT token, expires_at FROM "`+table+`" WHERE key = 'stripe:evt_shared'`).Scan(&token, &expires); err != nil {
		t.Fatal(err)
	}
	if token != "" {
		t.Errorf("completed rows hold no token, as sqlstore writes them: got %q, want empty", token)
	}
	if d := expires.Sub(time.Now().Add(time.Hour)); d < -time.Minute || d > time.Minute {
		t.Errorf("expires: got %v, want within %v of %v", expires, time.Minute, time.Now().Add(time.Hour))
	}
}

func TestErrorsKeepTheDriverError(t *testing.T) {
	pool := openPool(t, nil)
	s, err := pgxstore.New(pool, pgxstore.Config{Table: servicetest.RandomName("hookkit_pgx_test_")}) // never migrated
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

	_, err = pgxstore.New(nil, pgxstore.Config{})
	if !errors.Is(err, idempotency.ErrInvalidConfig) {
		t.Fatalf("err: got %v, want %v", err, idempotency.ErrInvalidConfig)
	}
	_, err = pgxstore.New(pool, pgxstore.Config{Table: "bad name"})
	if !errors.Is(err, idempotency.ErrInvalidConfig) {
		t.Fatalf("err: got %v, want %v", err, idempotency.ErrInvalidConfig)
	}
}

// Replicas that start together may all migrate.
func TestMigrateConcurrently(t *testing.T) {
	pools := []*pgxpool.Pool{openPool(t, nil), openPool(t, nil), openPool(t, nil)}
	sqltabletest.MigrateConcurrently(t, len(pools), func() string {
		table := servicetest.RandomName("hookkit_pgx_test_")
		t.Cleanup(func() { pools[0].Exec(ctx, `DROP TABLE IF EXISTS "`+table+`"`) })
		return table
	}, func(i int, table string) (sqltabletest.Migrator, error) {
		return pgxstore.New(pools[i], pgxstore.Config{Table: table})
	})
}

// Nobody has to call Prune: claiming prunes expired rows as it goes.
func TestPrunesAsItWrites(t *testing.T) {
	pool := openPool(t, nil)
	table := servicetest.RandomName("hookkit_pgx_test_")
	rows := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	sqltabletest.PrunesAsItWrites(t, newStore(t, pool, table), rows, func() { time.Sleep(300 * time.Millisecond) })
}
