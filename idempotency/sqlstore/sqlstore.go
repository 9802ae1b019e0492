package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

// DefaultTable is the table name unless Config.Table says otherwise.
const DefaultTable = "hookkit_idempotency"

// DB is what the store needs from database/sql; *sql.DB, *sql.Conn and
// *sql.Tx satisfy it.
type DB interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Config configures a Store. The zero value uses DefaultTable.
type Config struct {
	// Table is the table name, optionally schema-qualified
	// ("webhooks.idempotency"); letters, digits and underscores only.
	Table string
	// Clock is the clock for SQLite (default time.Now). PostgreSQL always
	// uses the server's now(), and NewPostgres refuses a clock.
	Clock func() time.Time
}

// Store is an idempotency.Store on a SQL table. It is safe for concurrent
// use, by any number of processes sharing the database.
type Store struct {
	db      DB
	sqlite  bool
	now     func() time.Time
	schema  []string
	lock    string // serialises concurrent Migrates, or ""
	claim   string
	done    string
	release string
	prune   string
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

// names returns the quoted table name and a name for its index.
func names(table string) (quoted, index string, err error) {
	if table == "" {
		table = DefaultTable
	}
	if !identifier.MatchString(table) {
		return "", "", fmt.Errorf("sqlstore: table name %q: want [schema.]name of letters, digits and underscores: %w",
			table, idempotency.ErrInvalid)
	}
	parts := strings.Split(table, ".")
	for i, p := range parts {
		parts[i] = `"` + p + `"`
	}
	return strings.Join(parts, "."), `"` + strings.ReplaceAll(table, ".", "_") + `_expires_at"`, nil
}

// NewPostgres returns a Store for a PostgreSQL database opened with the
// pgx stdlib driver (or any PostgreSQL driver for database/sql).
func NewPostgres(db DB, cfg Config) (*Store, error) {
	if cfg.Clock != nil {
		return nil, fmt.Errorf("sqlstore: PostgreSQL uses the server's clock; Config.Clock applies to SQLite only: %w", idempotency.ErrInvalid)
	}
	t, index, err := names(cfg.Table)
	if err != nil {
		return nil, err
	}
	// Durations travel as microseconds; times are timestamptz on the
	// server's clock.
	const in = `$3::bigint * interval '1 microsecond'`
	return &Store{
		db:   db,
		lock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", lockKey(t)),
		schema: []string{`CREATE TABLE IF NOT EXISTS ` + t + ` (
	key        text PRIMARY KEY,
	token      text NOT NULL,        -- the lease holder's token, or '' once completed
	expires_at timestamptz NOT NULL  -- end of the lease, or of the keep window once completed
)`,
			`CREATE INDEX IF NOT EXISTS ` + index + ` ON ` + t + ` (expires_at)`},
		claim: `INSERT INTO ` + t + ` AS t (key, token, expires_at) VALUES ($1, $2, now() + ` + in + `)
ON CONFLICT (key) DO UPDATE SET
	token = CASE WHEN t.expires_at <= now() THEN excluded.token ELSE t.token END,
	expires_at = CASE WHEN t.expires_at <= now() THEN excluded.expires_at ELSE t.expires_at END
RETURNING token, expires_at`,
		done: `UPDATE ` + t + ` SET token = '', expires_at = now() + ` + in + `
WHERE key = $1 AND token = $2 AND expires_at > now()`,
		release: `DELETE FROM ` + t + ` WHERE key = $1 AND token = $2 AND expires_at > now()`,
		prune:   `DELETE FROM ` + t + ` WHERE expires_at <= now()`,
	}, nil
}

// NewSQLite returns a Store for a SQLite database opened with
// modernc.org/sqlite (or another SQLite driver, version 3.35 or later).
// Open it so that concurrent writers wait for one another instead of
// failing: a busy timeout, and transactions that take the write lock when
// they begin (for modernc,
// "file.db?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)").
// Without _txlock=immediate, a transaction that reads before it writes (a
// handler's usual shape) fails with SQLITE_BUSY at once, whatever the busy
// timeout, when another writer holds the lock as it tries to write.
func NewSQLite(db DB, cfg Config) (*Store, error) {
	t, index, err := names(cfg.Table)
	if err != nil {
		return nil, err
	}
	if strings.Contains(t, ".") {
		return nil, fmt.Errorf("sqlstore: SQLite tables take no schema: %w", idempotency.ErrInvalid)
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	// Times are Unix microseconds from the process clock, passed in as ?3.
	return &Store{
		db:     db,
		sqlite: true,
		now:    now,
		schema: []string{`CREATE TABLE IF NOT EXISTS ` + t + ` (
	key        TEXT PRIMARY KEY,
	token      TEXT NOT NULL,     -- the lease holder's token, or '' once completed
	expires_at INTEGER NOT NULL   -- Unix microseconds: end of the lease, or of the keep window
)`,
			`CREATE INDEX IF NOT EXISTS ` + index + ` ON ` + t + ` (expires_at)`},
		claim: `INSERT INTO ` + t + ` (key, token, expires_at) VALUES (?1, ?2, ?3 + ?4)
ON CONFLICT (key) DO UPDATE SET
	token = CASE WHEN expires_at <= ?3 THEN excluded.token ELSE token END,
	expires_at = CASE WHEN expires_at <= ?3 THEN excluded.expires_at ELSE expires_at END
RETURNING token, expires_at`,
		done:    `UPDATE ` + t + ` SET token = '', expires_at = ?3 + ?4 WHERE key = ?1 AND token = ?2 AND expires_at > ?3`,
		release: `DELETE FROM ` + t + ` WHERE key = ?1 AND token = ?2 AND expires_at > ?3`,
		prune:   `DELETE FROM ` + t + ` WHERE expires_at <= ?1`,
	}, nil
}

// Schema returns the CREATE statements Migrate runs, for hosts that manage
// their schema with their own migration tool.
func (s *Store) Schema() string { return strings.Join(s.schema, ";\n") + ";\n" }

// Migrate creates the table and its index if they do not exist. Replicas
// starting together may all call it: on PostgreSQL the statements run as
// one script, in one transaction, behind an advisory lock (concurrent
// CREATE ... IF NOT EXISTS otherwise fail with unique violations), and on
// SQLite as one script the database runs alone.
func (s *Store) Migrate(ctx context.Context) error {
	script := strings.Join(s.schema, ";\n")
	if s.lock != "" {
		script = s.lock + ";\n" + script
	}
	if _, err := s.db.ExecContext(ctx, script); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w: %w", err, idempotency.ErrUnavailable)
	}
	return nil
}

// lockKey is the advisory lock key of a table's migration: a hash of its
// quoted name, so migrations of different tables do not wait for each other.
func lockKey(quotedTable string) int64 {
	h := fnv.New64a()
	h.Write([]byte("hookkit/sqlstore " + quotedTable))
	return int64(h.Sum64())
}

func unavailable(op string, err error) error {
	return fmt.Errorf("sqlstore %s: %w: %w", op, err, idempotency.ErrUnavailable)
}

// args builds the arguments of a statement: key, token, and for SQLite the
// current time; then the duration, in microseconds.
func (s *Store) args(key, token string, d time.Duration, withDuration bool) []any {
	args := []any{key, token}
	switch {
	case s.sqlite:
		args = append(args, s.now().UnixMicro())
		if withDuration {
			args = append(args, d.Microseconds())
		}
	case withDuration:
		args = append(args, d.Microseconds())
	}
	return args
}

// Claim implements idempotency.Store.
func (s *Store) Claim(ctx context.Context, key string, lease time.Duration) (idempotency.Claim, error) {
	if err := idempotency.CheckClaim(key, lease); err != nil {
		return idempotency.Claim{}, err
	}
	lease = max(lease, time.Microsecond)
	token := idempotency.NewToken()
	var (
		holder  string
		expires time.Time
		err     error
	)
	row := s.db.QueryRowContext(ctx, s.claim, s.args(key, token, lease, true)...)
	if s.sqlite {
		var micros int64
		err = row.Scan(&holder, &micros)
		expires = time.UnixMicro(micros)
	} else {
		err = row.Scan(&holder, &expires)
	}
	if err != nil {
		return idempotency.Claim{}, unavailable("claim", err)
	}
	switch holder {
	case token:
		return idempotency.Claim{State: idempotency.Acquired, Token: token, Expires: expires}, nil
	case "":
		return idempotency.Claim{State: idempotency.Completed}, nil
	}
	return idempotency.Claim{State: idempotency.Busy, Expires: expires}, nil
}

// Complete implements idempotency.Store.
func (s *Store) Complete(ctx context.Context, key, token string, keep time.Duration) error {
	if err := idempotency.CheckComplete(key, token, keep); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.done, s.args(key, token, max(keep, time.Microsecond), true)...)
	return fenced("complete", key, res, err)
}

// Release implements idempotency.Store.
func (s *Store) Release(ctx context.Context, key, token string) error {
	if err := idempotency.CheckRelease(key, token); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.release, s.args(key, token, 0, false)...)
	return fenced("release", key, res, err)
}

func fenced(op, key string, res sql.Result, err error) error {
	if err != nil {
		return unavailable(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return unavailable(op, err)
	}
	if n != 1 {
		return fmt.Errorf("sqlstore %s %q: %w", op, key, idempotency.ErrLeaseLost)
	}
	return nil
}

// Prune deletes the rows whose lease or keep window has ended and returns
// how many it deleted. Expired rows do no harm (a Claim takes them over), so
// pruning only reclaims space; run it hourly or daily.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	var args []any
	if s.sqlite {
		args = []any{s.now().UnixMicro()}
	}
	res, err := s.db.ExecContext(ctx, s.prune, args...)
	if err != nil {
		return 0, unavailable("prune", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, unavailable("prune", err)
	}
	return n, nil
}
