package sqltx_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch/internal/txmodetest"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/sqltx/internal/sqltxtest"
)

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
		return sqltxtest.Mode(t, open(t), false, sqltxtest.NewTables(), open)
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
