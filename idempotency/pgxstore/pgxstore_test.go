package pgxstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/internal/claimtxtest"
	"github.com/hookkit/hookkit/idempotency/internal/sqltabletest"
	"github.com/hookkit/hookkit/idempotency/pgxstore"
	"github.com/hookkit/hookkit/idempotency/storetest"
	"github.com/hookkit/hookkit/internal/servicetest"
)

var ctx = context.Background()

// openPool connects to the test database, counting writes into writes when
// it is not nil; skipped (failed in CI) when PostgreSQL is absent.
func openPool(t testing.TB, writes *atomic.Int64) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(servicetest.ServiceURL(t, servicetest.PostgresURLEnv))
	require.NoError(t, err)
	if writes != nil {
		cfg.MaxConns = 1 // one connection, so its statement cache is warm
		cfg.ConnConfig.DialFunc = servicetest.CountingDial(writes)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
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
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
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
	s := newStore(t, pool, servicetest.RandomName("hookkit_pgx_test_"))
	claimtxtest.Run(t, claimtxtest.Harness[pgx.Tx]{
		Store: s,
		Begin: func(t *testing.T) pgx.Tx {
			tx, err := pool.Begin(ctx)
			require.NoError(t, err)
			return tx
		},
		End: func(t *testing.T, tx pgx.Tx, commit bool) {
			if commit {
				assert.NoError(t, tx.Commit(ctx))
			} else {
				assert.NoError(t, tx.Rollback(ctx))
			}
		},
		ClaimTx: func(ctx context.Context, tx pgx.Tx, key string, keep, lockTimeout time.Duration) (idempotency.State, error) {
			return s.ClaimTx(ctx, tx, key, keep, lockTimeout)
		},
		Waits: true,
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
		require.NoError(t, err)
		if c.State == idempotency.Acquired {
			require.NoError(t, s.Complete(ctx, "warm", c.Token, time.Hour))
		}
		c, err = s.Claim(ctx, "warm-release", time.Minute)
		require.NoError(t, err)
		require.NoError(t, s.Release(ctx, "warm-release", c.Token))
	}
	count := func(op func() error) int64 {
		before := writes.Load()
		require.NoError(t, op())
		return writes.Load() - before
	}
	var c idempotency.Claim
	assert.EqualValues(t, 1, count(func() (err error) { c, err = s.Claim(ctx, "k", time.Minute); return err }), "Claim")
	assert.EqualValues(t, 1, count(func() error { return s.Complete(ctx, "k", c.Token, time.Hour) }), "Complete")
	assert.EqualValues(t, 1, count(func() (err error) { c, err = s.Claim(ctx, "r", time.Minute); return err }), "Claim")
	assert.EqualValues(t, 1, count(func() error { return s.Release(ctx, "r", c.Token) }), "Release")
}

// sqlstore and pgxstore read and write the same table the same way: a key
// completed through one is completed for the other.
func TestSharesTheTableWithSQLStore(t *testing.T) {
	pool := openPool(t, nil)
	table := servicetest.RandomName("hookkit_pgx_test_")
	s := newStore(t, pool, table)
	c, err := s.Claim(ctx, "stripe:evt_shared", time.Minute)
	require.NoError(t, err)
	require.NoError(t, s.Complete(ctx, "stripe:evt_shared", c.Token, time.Hour))
	var token string
	var expires time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT token, expires_at FROM "`+table+`" WHERE key = 'stripe:evt_shared'`).Scan(&token, &expires))
	assert.Empty(t, token, "completed rows hold no token, as sqlstore writes them")
	assert.WithinDuration(t, time.Now().Add(time.Hour), expires, time.Minute)
}

func TestErrorsKeepTheDriverError(t *testing.T) {
	pool := openPool(t, nil)
	s, err := pgxstore.New(pool, pgxstore.Config{Table: servicetest.RandomName("hookkit_pgx_test_")}) // never migrated
	require.NoError(t, err)
	_, err = s.Claim(ctx, "k", time.Minute)
	require.ErrorIs(t, err, idempotency.ErrUnavailable)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "42P01", pgErr.Code, "undefined_table")

	_, err = pgxstore.New(nil, pgxstore.Config{})
	require.ErrorIs(t, err, idempotency.ErrInvalidConfig)
	_, err = pgxstore.New(pool, pgxstore.Config{Table: "bad name"})
	require.ErrorIs(t, err, idempotency.ErrInvalidConfig)
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
		require.NoError(t, pool.QueryRow(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n))
		return n
	}
	sqltabletest.PrunesAsItWrites(t, newStore(t, pool, table), rows, func() { time.Sleep(300 * time.Millisecond) })
}
