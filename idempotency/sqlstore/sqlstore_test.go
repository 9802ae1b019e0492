package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/internal/txtest"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
	"github.com/hookkit/hookkit/idempotency/storetest"
	"github.com/hookkit/hookkit/internal/servicetest"
)

var ctx = context.Background()

func randomName(prefix string) string {
	var raw [6]byte
	rand.Read(raw[:])
	return prefix + hex.EncodeToString(raw[:])
}

// openPostgres opens the test database, counting writes into writes when
// it is not nil; skipped (failed in CI) when PostgreSQL is absent.
func openPostgres(t testing.TB, writes *atomic.Int64) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(servicetest.ServiceURL(t, servicetest.PostgresURLEnv))
	require.NoError(t, err)
	if writes != nil {
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return servicetest.CountWrites(c, writes), nil // pgx writes a query's messages whole
		}
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
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	t.Cleanup(func() { db.ExecContext(ctx, `DROP TABLE IF EXISTS "`+table+`"`) })
	return s
}

func openSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func sqliteStore(t testing.TB, db *sql.DB, now func() time.Time) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.NewSQLite(db, sqlstore.Config{Clock: now})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	return s
}

func TestPostgresConformance(t *testing.T) {
	db := openPostgres(t, nil)
	storetest.Run(t, func(t *testing.T) idempotency.Store {
		return postgresStore(t, db, randomName("hookkit_test_"))
	})
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) idempotency.Store {
		return sqliteStore(t, openSQLite(t, filepath.Join(t.TempDir(), "idem.db")), nil)
	})
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) idempotency.Store {
		return sqliteStore(t, openSQLite(t, filepath.Join(t.TempDir(), "idem.db")), now)
	})
}

// Two replicas: two connection pools, two Store values, one database.
func TestPostgresReplicasRace(t *testing.T) {
	a, b := openPostgres(t, nil), openPostgres(t, nil)
	table := randomName("hookkit_test_")
	stores := []idempotency.Store{postgresStore(t, a, table), postgresStore(t, b, table)}
	storetest.ConcurrentClaims(t, stores, 64, 10)
}

func TestSQLiteTwoHandlesRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idem.db")
	stores := []idempotency.Store{sqliteStore(t, openSQLite(t, path), nil), sqliteStore(t, openSQLite(t, path), nil)}
	storetest.ConcurrentClaims(t, stores, 64, 5)
}

// countingDB counts the statements the store sends through database/sql.
type countingDB struct {
	sqlstore.DB
	statements atomic.Int64
}

func (c *countingDB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	c.statements.Add(1)
	return c.DB.ExecContext(ctx, q, args...)
}

func (c *countingDB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	c.statements.Add(1)
	return c.DB.QueryRowContext(ctx, q, args...)
}

// Each operation is one statement, and on PostgreSQL one round trip (one
// write on the connection) once pgx has prepared it.
func TestPostgresOneStatementOneRoundTrip(t *testing.T) {
	var writes atomic.Int64
	db := openPostgres(t, &writes)
	db.SetMaxOpenConns(1) // one connection, so its statement cache is warm
	table := randomName("hookkit_test_")
	postgresStore(t, db, table)
	counting := &countingDB{DB: db}
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
		w, st := writes.Load(), counting.statements.Load()
		require.NoError(t, op(), name)
		assert.EqualValues(t, 1, counting.statements.Load()-st, "%s: statements", name)
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

func TestSQLiteOneStatement(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "idem.db"))
	sqliteStore(t, db, nil) // migrated
	counting := &countingDB{DB: db}
	s, err := sqlstore.NewSQLite(counting, sqlstore.Config{})
	require.NoError(t, err)
	ops := map[string]func() error{}
	var c idempotency.Claim
	ops["claim"] = func() (err error) { c, err = s.Claim(ctx, "k", time.Minute); return }
	ops["complete"] = func() error { return s.Complete(ctx, "k", c.Token, time.Hour) }
	for _, name := range []string{"claim", "complete"} {
		before := counting.statements.Load()
		require.NoError(t, ops[name]())
		assert.EqualValues(t, 1, counting.statements.Load()-before, name)
	}
}

func TestPostgresUsesServerClock(t *testing.T) {
	db := openPostgres(t, nil)
	s := postgresStore(t, db, randomName("hookkit_test_"))
	var serverNow time.Time
	require.NoError(t, db.QueryRowContext(ctx, "SELECT now()").Scan(&serverNow))
	c, err := s.Claim(ctx, "k", 90*time.Second)
	require.NoError(t, err)
	assert.WithinDuration(t, serverNow.Add(90*time.Second), c.Expires, 2*time.Second)

	_, err = sqlstore.NewPostgres(db, sqlstore.Config{Clock: time.Now})
	require.ErrorIs(t, err, idempotency.ErrInvalid, "a client clock would let skewed replicas disagree")
}

func TestPostgresSchemaQualifiedTable(t *testing.T) {
	db := openPostgres(t, nil)
	schema := randomName("hookkit_schema_")
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
	s := postgresStore(t, db, randomName("hookkit_test_"))
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

func TestSQLitePrune(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	s := sqliteStore(t, openSQLite(t, filepath.Join(t.TempDir(), "idem.db")), clock.Now)
	for _, k := range []string{"a", "b"} {
		_, err := s.Claim(ctx, k, time.Minute)
		require.NoError(t, err)
	}
	c, err := s.Claim(ctx, "kept", time.Minute)
	require.NoError(t, err)
	require.NoError(t, s.Complete(ctx, "kept", c.Token, 72*time.Hour))
	clock.Advance(time.Hour)
	n, err := s.Prune(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
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

func TestTableNames(t *testing.T) {
	db := &sql.DB{}
	for _, bad := range []string{"x; DROP TABLE y", `a"b`, "1abc", "a.b.c", "a-b", "a b"} {
		_, err := sqlstore.NewPostgres(db, sqlstore.Config{Table: bad})
		require.ErrorIs(t, err, idempotency.ErrInvalid, bad)
		_, err = sqlstore.NewSQLite(db, sqlstore.Config{Table: bad})
		require.ErrorIs(t, err, idempotency.ErrInvalid, bad)
	}
	_, err := sqlstore.NewSQLite(db, sqlstore.Config{Table: "main.t"})
	require.ErrorIs(t, err, idempotency.ErrInvalid)
	s, err := sqlstore.NewPostgres(db, sqlstore.Config{Table: "webhooks.idem_keys"})
	require.NoError(t, err)
	assert.Contains(t, s.Schema(), `CREATE TABLE IF NOT EXISTS "webhooks"."idem_keys"`)
}

// Replicas that start together each run Migrate on an empty schema; every
// call must succeed.
func TestPostgresMigrateConcurrently(t *testing.T) {
	pools := []*sql.DB{openPostgres(t, nil), openPostgres(t, nil), openPostgres(t, nil)}
	for round := 0; round < 10; round++ {
		table := randomName("hookkit_migrate_")
		t.Cleanup(func() { pools[0].ExecContext(ctx, `DROP TABLE IF EXISTS "`+table+`"`) })
		errs := make(chan error, len(pools))
		start := make(chan struct{})
		for _, db := range pools {
			go func() {
				s, err := sqlstore.NewPostgres(db, sqlstore.Config{Table: table})
				if err == nil {
					<-start
					err = s.Migrate(ctx)
				}
				errs <- err
			}()
		}
		close(start)
		for range pools {
			require.NoError(t, <-errs, "round %d", round)
		}
	}
}

// A driver error stays reachable beside the sentinel.
func TestPostgresErrorsKeepTheDriverError(t *testing.T) {
	db := openPostgres(t, nil)
	s, err := sqlstore.NewPostgres(db, sqlstore.Config{Table: randomName("hookkit_never_created_")})
	require.NoError(t, err)
	_, err = s.Claim(ctx, "k", time.Minute)
	require.ErrorIs(t, err, idempotency.ErrUnavailable)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "42P01", pgErr.Code, "undefined_table")
}

// sqlHarness runs the ClaimTx checks on a database/sql store.
func sqlHarness(s *sqlstore.Store, db *sql.DB, waits bool) txtest.Harness[*sql.Tx] {
	return txtest.Harness[*sql.Tx]{
		Store: s,
		Begin: func(t *testing.T) *sql.Tx {
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			return tx
		},
		End: func(t *testing.T, tx *sql.Tx, commit bool) {
			if commit {
				assert.NoError(t, tx.Commit())
			} else {
				assert.NoError(t, tx.Rollback())
			}
		},
		ClaimTx: func(ctx context.Context, tx *sql.Tx, key string, keep, lockTimeout time.Duration) (idempotency.State, error) {
			return s.ClaimTx(ctx, tx, key, keep, lockTimeout)
		},
		Waits: waits,
	}
}

func TestPostgresClaimTx(t *testing.T) {
	db := openPostgres(t, nil)
	s := postgresStore(t, db, randomName("hookkit_test_"))
	txtest.Run(t, sqlHarness(s, db, true))
}

func TestSQLiteClaimTx(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "idem.db"))
	txtest.Run(t, sqlHarness(sqliteStore(t, db, nil), db, false))
}

// The lock timeout bounds the claim only: the handler's statements in the
// same transaction wait as the session says.
func TestPostgresClaimTxRestoresLockTimeout(t *testing.T) {
	db := openPostgres(t, nil)
	s := postgresStore(t, db, randomName("hookkit_test_"))
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

// countRows counts the rows of table, expired or not.
func countRows(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n))
	return n
}

// Nobody has to call Prune: claiming prunes expired rows as it goes. 300
// expired rows, then 128 claims of new keys: the expired ones are gone
// (two batches of up to 256), and the new ones are all there.
func TestSQLitePrunesAsItWrites(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	db := openSQLite(t, filepath.Join(t.TempDir(), "idem.db"))
	s := sqliteStore(t, db, clock.Now)
	prunesAsItWrites(t, s, db, sqlstore.DefaultTable, func() { clock.Advance(time.Hour) })
}

func TestPostgresPrunesAsItWrites(t *testing.T) {
	db := openPostgres(t, nil)
	table := randomName("hookkit_test_")
	s := postgresStore(t, db, table)
	prunesAsItWrites(t, s, db, table, func() { time.Sleep(300 * time.Millisecond) })
}

func prunesAsItWrites(t *testing.T, s *sqlstore.Store, db *sql.DB, table string, expire func()) {
	for i := range 300 {
		_, err := s.Claim(ctx, fmt.Sprintf("old-%d", i), 100*time.Millisecond)
		require.NoError(t, err)
	}
	expire()
	for i := range 128 {
		c, err := s.Claim(ctx, fmt.Sprintf("new-%d", i), time.Hour)
		require.NoError(t, err)
		require.Equal(t, idempotency.Acquired, c.State)
	}
	assert.Equal(t, 128, countRows(t, db, table), "only the live keys are left")
}
