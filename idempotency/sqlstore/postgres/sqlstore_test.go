// sqlstore's tests on PostgreSQL, through pgx's database/sql driver.
package postgres_test

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/internal/claimtxtest"
	"github.com/hookkit/hookkit/idempotency/internal/sqltabletest"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
	"github.com/hookkit/hookkit/idempotency/storetest"
	"github.com/hookkit/hookkit/internal/servicetest"
)

var ctx = context.Background()

func openPostgres(t testing.TB, writes *atomic.Int64) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(servicetest.ServiceURL(t, servicetest.PostgresURLEnv))
	require.NoError(t, err)
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

func postgresStore(t testing.TB, db *sql.DB, table string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.NewPostgres(db, sqlstore.Config{Table: table})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
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
	require.NoError(t, err)

	for i := 0; i < 2; i++ { // warm up: pgx prepares each statement on first use
		c, err := s.Claim(ctx, "warm", time.Minute)
		require.NoError(t, err)
		if c.State == idempotency.Acquired {
			require.NoError(t, s.Complete(ctx, "warm", c.Token, time.Hour))
		}
		c, err = s.Claim(ctx, "warm-release", time.Minute)
		require.NoError(t, err)
		require.NoError(t, s.Release(ctx, "warm-release", c.Token))
	}

	check := func(name string, op func() error) {
		t.Helper()
		w, st := writes.Load(), counting.Statements.Load()
		require.NoError(t, op(), name)
		assert.EqualValues(t, 1, counting.Statements.Load()-st, "%s: statements", name)
		assert.EqualValues(t, 1, writes.Load()-w, "%s: round trips", name)
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
	require.NoError(t, db.QueryRowContext(ctx, "SELECT now()").Scan(&serverNow))
	c, err := s.Claim(ctx, "k", 90*time.Second)
	require.NoError(t, err)
	assert.WithinDuration(t, serverNow.Add(90*time.Second), c.Expires, 2*time.Second)

	_, err = sqlstore.NewPostgres(db, sqlstore.Config{Clock: time.Now})
	require.ErrorIs(t, err, idempotency.ErrInvalidConfig, "a client clock would let skewed replicas disagree")
}

func TestPostgresSchemaQualifiedTable(t *testing.T) {
	db := openPostgres(t, nil)
	schema := servicetest.RandomName("hookkit_schema_")
	_, err := db.ExecContext(ctx, `CREATE SCHEMA "`+schema+`"`)
	require.NoError(t, err)
	t.Cleanup(func() { db.ExecContext(ctx, `DROP SCHEMA "`+schema+`" CASCADE`) })
	s, err := sqlstore.NewPostgres(db, sqlstore.Config{Table: schema + ".idempotency"})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.Migrate(ctx), "Migrate is idempotent")
	c, err := s.Claim(ctx, "k", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, idempotency.Acquired, c.State)
}

func TestPostgresPrune(t *testing.T) {
	db := openPostgres(t, nil)
	s := postgresStore(t, db, servicetest.RandomName("hookkit_test_"))
	for _, k := range []string{"a", "b", "c"} {
		_, err := s.Claim(ctx, k, 100*time.Millisecond)
		require.NoError(t, err)
	}
	c, err := s.Claim(ctx, "kept", time.Minute)
	require.NoError(t, err)
	require.NoError(t, s.Complete(ctx, "kept", c.Token, time.Hour))
	time.Sleep(300 * time.Millisecond)
	n, err := s.Prune(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 3, n)
	again, err := s.Claim(ctx, "kept", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, idempotency.Completed, again.State)
}

func TestPostgresUnavailable(t *testing.T) {
	db := stdlib.OpenDB(mustPgConfig(t, "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"))
	defer db.Close()
	s, err := sqlstore.NewPostgres(db, sqlstore.Config{})
	require.NoError(t, err)
	c, err := s.Claim(ctx, "k", time.Minute)
	require.ErrorIs(t, err, idempotency.ErrUnavailable)
	assert.NotEqual(t, idempotency.Acquired, c.State)
	require.ErrorIs(t, s.Complete(ctx, "k", "t", time.Hour), idempotency.ErrUnavailable)
	require.ErrorIs(t, s.Release(ctx, "k", "t"), idempotency.ErrUnavailable)
	require.ErrorIs(t, s.Migrate(ctx), idempotency.ErrUnavailable)
}

func mustPgConfig(t *testing.T, url string) pgx.ConnConfig {
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
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
	require.NoError(t, err)
	_, err = s.Claim(ctx, "k", time.Minute)
	require.ErrorIs(t, err, idempotency.ErrUnavailable)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "42P01", pgErr.Code, "undefined_table")
}

func TestPostgresClaimTx(t *testing.T) {
	db := openPostgres(t, nil)
	s := postgresStore(t, db, servicetest.RandomName("hookkit_test_"))
	claimtxtest.Run(t, sqltabletest.SQLHarness(s, db, true))
}

func TestPostgresClaimTxRestoresLockTimeout(t *testing.T) {
	db := openPostgres(t, nil)
	s := postgresStore(t, db, servicetest.RandomName("hookkit_test_"))
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `SET LOCAL lock_timeout = '7s'`)
	require.NoError(t, err)
	state, err := s.ClaimTx(ctx, tx, "k", time.Hour, 250*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired, state)
	var after string
	require.NoError(t, tx.QueryRowContext(ctx, `SHOW lock_timeout`).Scan(&after))
	assert.Equal(t, "7s", after)
}

// Nobody has to call Prune: claiming prunes expired rows as it goes.
func TestPostgresPrunesAsItWrites(t *testing.T) {
	db := openPostgres(t, nil)
	table := servicetest.RandomName("hookkit_test_")
	s := postgresStore(t, db, table)
	sqltabletest.PrunesAsItWrites(t, s, sqltabletest.SQLCount(t, db, table), func() { time.Sleep(300 * time.Millisecond) })
}
