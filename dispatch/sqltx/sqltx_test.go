package sqltx_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch/internal/txmodetest"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/internal/servicetest"
)

var ctx = context.Background()

func randomName(prefix string) string {
	var raw [6]byte
	rand.Read(raw[:])
	return prefix + hex.EncodeToString(raw[:])
}

// tables names one test's tables.
type tables struct{ idempotency, deadLetters, effects string }

func newTables() tables {
	return tables{randomName("hk_idem_"), randomName("hk_dl_"), randomName("hk_effects_")}
}

// mode builds a Mode on db; open opens another pool on the same database.
func mode(t *testing.T, db *sql.DB, postgres bool, tb tables, open func(t *testing.T) *sql.DB) txmodetest.Mode {
	t.Helper()
	cfg := sqltx.Config{IdempotencyTable: tb.idempotency, DeadLetterTable: tb.deadLetters}
	newDB := sqltx.NewSQLite
	if postgres {
		newDB = sqltx.NewPostgres
	}
	hk, err := newDB(db, cfg)
	require.NoError(t, err)
	require.NoError(t, hk.Migrate(ctx))
	// No unique constraint: a handler that ran twice leaves two rows.
	_, err = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+tb.effects+` (event_id TEXT NOT NULL)`)
	require.NoError(t, err)
	rename := func(from, to string) func(t *testing.T) {
		return func(t *testing.T) {
			_, err := db.ExecContext(ctx, `ALTER TABLE `+from+` RENAME TO `+to)
			require.NoError(t, err)
		}
	}
	count := func(query string) func(t *testing.T) int {
		return func(t *testing.T) int {
			var n int
			require.NoError(t, db.QueryRowContext(ctx, query).Scan(&n))
			return n
		}
	}
	return txmodetest.Mode{
		Acceptor:    hk.Acceptor(),
		DeadLetters: hk.DeadLetters(),
		Stats:       hk.Stats,
		Effect: func(ctx context.Context, id string) error {
			tx, ok := sqltx.Tx(ctx)
			if !ok {
				return errors.New("no transaction in the handler's context")
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO `+tb.effects+` (event_id) VALUES ($1)`, id)
			return err
		},
		Effects: func(t *testing.T, id string) int {
			var n int
			require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+tb.effects+` WHERE event_id = $1`, id).Scan(&n))
			return n
		},
		BreakDeadLetters: rename(tb.deadLetters, tb.deadLetters+"_x"),
		FixDeadLetters:   rename(tb.deadLetters+"_x", tb.deadLetters),
		Replica:          func(t *testing.T) txmodetest.Mode { return mode(t, open(t), postgres, tb, open) },
		ClosedRows:       count(`SELECT COUNT(*) FROM ` + tb.deadLetters + ` WHERE state <> 'open'`),
		ClosedWithContent: count(`SELECT COUNT(*) FROM ` + tb.deadLetters +
			` WHERE state <> 'open' AND (length(body) > 0 OR length(data) > 0 OR header <> '{}')`),
		AgeClosed: func(t *testing.T) {
			age := `UPDATE ` + tb.deadLetters + ` SET closed_at = closed_at - interval '8 days' WHERE state <> 'open'`
			if !postgres {
				age = `UPDATE ` + tb.deadLetters + ` SET closed_at = closed_at - 8 * 86400000000 WHERE state <> 'open'`
			}
			_, err := db.ExecContext(ctx, age)
			require.NoError(t, err)
		},
		Waits: postgres,
	}
}

func TestPostgres(t *testing.T) {
	url := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
	open := func(t *testing.T) *sql.DB {
		db, err := sql.Open("pgx", url)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		// A bounded pool, as a host has: past it, a delivery waits for a
		// connection instead of failing on PostgreSQL's max_connections.
		db.SetMaxOpenConns(16)
		if err := db.PingContext(ctx); err != nil {
			servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
		}
		return db
	}
	txmodetest.Run(t, func(t *testing.T) txmodetest.Mode {
		db := open(t)
		tb := newTables()
		t.Cleanup(func() {
			for _, name := range []string{tb.idempotency, tb.deadLetters, tb.deadLetters + "_x", tb.effects} {
				db.ExecContext(ctx, `DROP TABLE IF EXISTS `+name)
			}
		})
		return mode(t, db, true, tb, open)
	})
}

func TestSQLite(t *testing.T) {
	txmodetest.Run(t, func(t *testing.T) txmodetest.Mode {
		path := filepath.Join(t.TempDir(), "app.db")
		open := func(t *testing.T) *sql.DB {
			db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			// One writer at a time: deliveries queue for a connection
			// rather than in SQLite's busy handler.
			db.SetMaxOpenConns(4)
			return db
		}
		return mode(t, open(t), false, newTables(), open)
	})
}

func TestConfigIsValidated(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "x.db"))
	require.NoError(t, err)
	defer db.Close()
	for name, cfg := range map[string]sqltx.Config{
		"negative keep":           {Keep: -1},
		"negative lock timeout":   {LockTimeout: -1},
		"bad dead-letter table":   {DeadLetterTable: "no spaces"},
		"bad idempotency table":   {IdempotencyTable: "x;drop"},
		"schema-qualified SQLite": {DeadLetterTable: "s.t"},
	} {
		_, err := sqltx.NewSQLite(db, cfg)
		require.Error(t, err, name)
	}
	_, err = sqltx.NewPostgres(nil, sqltx.Config{})
	require.Error(t, err)
}
