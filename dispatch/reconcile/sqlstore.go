package reconcile

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hookkit/hookkit/dispatch"
)

// DefaultTable is the checkpoints' table unless SQLConfig.Table says
// otherwise.
const DefaultTable = "hookkit_reconcile"

// Dialects of SQLStore.
const (
	PostgreSQL = "postgres"
	SQLite     = "sqlite"
)

// SQLConfig configures a SQLStore.
type SQLConfig struct {
	// Dialect is PostgreSQL or SQLite. Required.
	Dialect string
	// Table is the table's name (default DefaultTable): letters, digits
	// and underscores, schema-qualified on PostgreSQL if wished.
	Table string
	// Clock is the leases' clock (default time.Now). Leases are compared
	// on the processes' clocks: they must agree to well within a lease.
	Clock func() time.Time
}

// SQLStore is a Store in a table of the host's database, through
// database/sql: PostgreSQL (with the pgx stdlib driver, or any other) or
// SQLite (modernc.org/sqlite, 3.35 or later). One row per Source: its
// checkpoint, the holder and end of the running run's lease, and the last
// run's Report as JSON. Each method is one statement, autocommitted: the
// checkpoint never waits on a transaction, and no connection is held
// between them.
type SQLStore struct {
	db  *sql.DB
	now func() time.Time
	sql struct{ schema, acquire, save, release, last string }
}

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

// NewSQLStore returns a SQLStore on db, or an error wrapping
// dispatch.ErrInvalidConfig for a nil db, an unknown dialect or a bad
// table name. Call Migrate once before use.
func NewSQLStore(db *sql.DB, cfg SQLConfig) (*SQLStore, error) {
	if db == nil {
		return nil, fmt.Errorf("reconcile: NewSQLStore: nil db: %w", dispatch.ErrInvalidConfig)
	}
	table := cfg.Table
	if table == "" {
		table = DefaultTable
	}
	if !tableName.MatchString(table) || (cfg.Dialect == SQLite && strings.Contains(table, ".")) {
		return nil, fmt.Errorf("reconcile: SQLConfig.Table %q: want [schema.]name of letters, digits and underscores (no schema on SQLite): %w",
			table, dispatch.ErrInvalidConfig)
	}
	s := &SQLStore{db: db, now: cfg.Clock}
	if s.now == nil {
		s.now = time.Now
	}
	// One text for both dialects: PostgreSQL's $n placeholders become
	// SQLite's ?n.
	param := func(q string) string { return q }
	switch cfg.Dialect {
	case PostgreSQL:
	case SQLite:
		param = func(q string) string { return strings.ReplaceAll(q, "$", "?") }
	default:
		return nil, fmt.Errorf("reconcile: SQLConfig.Dialect %q: want %q or %q: %w", cfg.Dialect, PostgreSQL, SQLite, dispatch.ErrInvalidConfig)
	}
	t := table
	s.sql.schema = `CREATE TABLE IF NOT EXISTS ` + t + ` (
	name        TEXT PRIMARY KEY,
	since_s     BIGINT NOT NULL DEFAULT 0, -- Unix seconds; the window's start, or the next one's
	until_s     BIGINT NOT NULL DEFAULT 0, -- Unix seconds; 0 when no window is open
	stream      TEXT NOT NULL DEFAULT '',
	cursor      TEXT NOT NULL DEFAULT '',
	holder      TEXT NOT NULL DEFAULT '',  -- the running run's, '' when none runs
	lease_until BIGINT NOT NULL DEFAULT 0, -- Unix milliseconds
	last_run    TEXT NOT NULL DEFAULT ''   -- the last finished run's Report, JSON
)`
	s.sql.acquire = param(`INSERT INTO ` + t + ` AS c (name, holder, lease_until) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
WHERE c.holder = '' OR c.holder = excluded.holder OR c.lease_until < $4
RETURNING since_s, until_s, stream, cursor`)
	s.sql.save = param(`UPDATE ` + t + ` SET since_s = $3, until_s = $4, stream = $5, cursor = $6, lease_until = $7
WHERE name = $1 AND holder = $2`)
	s.sql.release = param(`UPDATE ` + t + ` SET holder = '', lease_until = 0, last_run = $3 WHERE name = $1 AND holder = $2`)
	s.sql.last = param(`SELECT since_s, until_s, stream, cursor, last_run FROM ` + t + ` WHERE name = $1`)
	return s, nil
}

// Schema returns the CREATE statement Migrate runs, for hosts that manage
// their schema with their own migration tool.
func (s *SQLStore) Schema() string { return s.sql.schema }

// Migrate creates the table if it does not exist.
func (s *SQLStore) Migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, s.sql.schema); err != nil {
		return fmt.Errorf("reconcile: creating the checkpoint table: %w: %w", ErrUnavailable, err)
	}
	return nil
}

func unavailable(op string, err error) error {
	return fmt.Errorf("reconcile: %s: %w: %w", op, ErrUnavailable, err)
}

func toCheckpoint(since, until int64, stream, cursor string) Checkpoint {
	cp := Checkpoint{Stream: stream, Cursor: cursor}
	if since != 0 {
		cp.Since = time.Unix(since, 0).UTC()
	}
	if until != 0 {
		cp.Until = time.Unix(until, 0).UTC()
	}
	return cp
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// Acquire implements Store.
func (s *SQLStore) Acquire(ctx context.Context, name, holder string, lease time.Duration) (Checkpoint, error) {
	now := s.now()
	var (
		since, until   int64
		stream, cursor string
	)
	err := s.db.QueryRowContext(ctx, s.sql.acquire, name, holder, now.Add(lease).UnixMilli(), now.UnixMilli()).
		Scan(&since, &until, &stream, &cursor)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Checkpoint{}, ErrRunning
	case err != nil:
		return Checkpoint{}, unavailable("acquiring "+name, err)
	}
	return toCheckpoint(since, until, stream, cursor), nil
}

// Save implements Store.
func (s *SQLStore) Save(ctx context.Context, name, holder string, cp Checkpoint, lease time.Duration) error {
	res, err := s.db.ExecContext(ctx, s.sql.save, name, holder, unix(cp.Since), unix(cp.Until), cp.Stream, cp.Cursor,
		s.now().Add(lease).UnixMilli())
	return affected(res, err, "saving "+name)
}

// Release implements Store.
func (s *SQLStore) Release(ctx context.Context, name, holder string, last Report) error {
	b, err := json.Marshal(last)
	if err != nil {
		return fmt.Errorf("reconcile: encoding the report: %w", err)
	}
	res, err := s.db.ExecContext(ctx, s.sql.release, name, holder, string(b))
	return affected(res, err, "releasing "+name)
}

func affected(res sql.Result, err error, op string) error {
	if err != nil {
		return unavailable(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return unavailable(op, err)
	}
	if n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// Last implements Store.
func (s *SQLStore) Last(ctx context.Context, name string) (Checkpoint, Report, error) {
	var (
		since, until          int64
		stream, cursor, lastS string
	)
	err := s.db.QueryRowContext(ctx, s.sql.last, name).Scan(&since, &until, &stream, &cursor, &lastS)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Checkpoint{}, Report{}, nil
	case err != nil:
		return Checkpoint{}, Report{}, unavailable("reading "+name, err)
	}
	var last Report
	if lastS != "" {
		if err := json.Unmarshal([]byte(lastS), &last); err != nil {
			return Checkpoint{}, Report{}, fmt.Errorf("reconcile: %s's last report does not decode: %w", name, err)
		}
	}
	return toCheckpoint(since, until, stream, cursor), last, nil
}
