package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/internal/storeargs"
	"github.com/hookkit/hookkit/internal/sqlschema"
)

// DefaultTable is the table name unless Config.Table says otherwise.
const DefaultTable = sqlschema.DefaultTable

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
	db     DB
	sqlite bool
	now    func() time.Time
	sql    sqlschema.Statements
	claims atomic.Uint64 // for pruning on write
}

// NewPostgres returns a Store for a PostgreSQL database opened with the
// pgx stdlib driver (or any PostgreSQL driver for database/sql).
func NewPostgres(db DB, cfg Config) (*Store, error) {
	if cfg.Clock != nil {
		return nil, fmt.Errorf("sqlstore: PostgreSQL uses the server's clock; Config.Clock applies to SQLite only: %w", idempotency.ErrInvalidConfig)
	}
	statements, err := sqlschema.For("sqlstore", db, sqlschema.Postgres, cfg.Table)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, sql: statements}, nil
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
	statements, err := sqlschema.For("sqlstore", db, sqlschema.SQLite, cfg.Table)
	if err != nil {
		return nil, err
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, sqlite: true, now: now, sql: statements}, nil
}

// Schema returns the CREATE statements Migrate runs, for hosts that manage
// their schema with their own migration tool.
func (s *Store) Schema() string { return s.sql.SchemaText() }

// Migrate creates the table and its index if they do not exist. Replicas
// starting together may all call it: on PostgreSQL the statements run as
// one script, in one transaction, behind an advisory lock (concurrent
// CREATE ... IF NOT EXISTS otherwise fail with unique violations), and on
// SQLite as one script the database runs alone.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, s.sql.Script())
	return sqlschema.Migrated("sqlstore", err)
}

func unavailable(op string, err error) error { return sqlschema.Unavailable("sqlstore", op, err) }

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
	if err := storeargs.Claim(key, lease); err != nil {
		return idempotency.Claim{}, err
	}
	lease = max(lease, time.Microsecond)
	token := storeargs.NewToken()
	var (
		holder  string
		expires time.Time
		err     error
	)
	row := s.db.QueryRowContext(ctx, s.sql.Claim, s.args(key, token, lease, true)...)
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
	c := sqlschema.ClaimResult(holder, token, expires)
	if c.State == idempotency.Acquired {
		s.pruneNowAndThen(ctx, s.db)
	}
	return c, nil
}

// Complete implements idempotency.Store.
func (s *Store) Complete(ctx context.Context, key, token string, keep time.Duration) error {
	if err := storeargs.Complete(key, token, keep); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.sql.Complete, s.args(key, token, max(keep, time.Microsecond), true)...)
	return fenced("complete", key, res, err)
}

// Release implements idempotency.Store.
func (s *Store) Release(ctx context.Context, key, token string) error {
	if err := storeargs.Release(key, token); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.sql.Release, s.args(key, token, 0, false)...)
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
// how many it deleted. Expired rows do no harm (a Claim takes them over),
// and the store prunes as it writes (one claim in sqlschema.PruneEvery, 64,
// also deletes up to 256 expired rows), so a host need not call Prune; it
// is there to reclaim space at once, after a storm.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	var args []any
	if s.sqlite {
		args = []any{s.now().UnixMicro()}
	}
	res, err := s.db.ExecContext(ctx, s.sql.Prune, args...)
	if err != nil {
		return 0, unavailable("prune", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, unavailable("prune", err)
	}
	return n, nil
}

// pruneNowAndThen deletes a bounded batch of expired rows on one call in
// PruneEvery, through db: the store's own pool, or on SQLite the
// transaction that already holds the write lock (another connection would
// wait for it). Pruning only reclaims space, so its error is dropped: the
// claim that triggered it has succeeded.
func (s *Store) pruneNowAndThen(ctx context.Context, db DB) {
	if s.claims.Add(1)%sqlschema.PruneEvery != 0 {
		return
	}
	var args []any
	if s.sqlite {
		args = []any{s.now().UnixMicro()}
	}
	_, _ = db.ExecContext(ctx, s.sql.PruneSome, args...)
}

// DefaultLockTimeout bounds how long ClaimTx on PostgreSQL waits for
// another transaction that holds the same key: past it the claim answers
// Busy (the sender is told 409 and retries later).
const DefaultLockTimeout = sqlschema.DefaultLockTimeout

// ClaimTx claims key inside tx, the transaction the event's handler will
// write in, for the transactional accept step (package dispatch/sqltx): the key's
// row is written as completed, kept for keep. tx's commit completes the
// key together with the handler's writes; its rollback leaves the key free.
// No lease is involved, so a crash can never leave a key claimed.
//
// It answers Acquired (the row is written: go on, then commit), Completed
// (the event was processed: roll back, answer 200) or Busy (a lease
// holder has it, or another transaction holding it did not end within
// lockTimeout on PostgreSQL: roll back, answer 409). A concurrent ClaimTx
// of the same key waits for the transaction that holds it; on SQLite, the
// wait is at BEGIN, for the write lock, up to the busy timeout. After any
// answer but Acquired, and after an error, the transaction must be rolled
// back.
func (s *Store) ClaimTx(ctx context.Context, tx DB, key string, keep, lockTimeout time.Duration) (idempotency.State, error) {
	if err := storeargs.Claim(key, keep); err != nil {
		return 0, err
	}
	var taken any
	var err error
	if s.sqlite {
		err = tx.QueryRowContext(ctx, s.sql.ClaimTx, key, s.now().UnixMicro(), keep.Microseconds()).Scan(&taken)
	} else {
		err = tx.QueryRowContext(ctx, s.sql.ClaimTx, sqlschema.PostgresClaimTxArgs(key, keep, lockTimeout)...).Scan(&taken)
	}
	switch {
	case err == nil:
		// On PostgreSQL an error inside tx would abort the host's
		// transaction: prune through the pool instead, skipping rows
		// any transaction holds.
		if s.sqlite {
			s.pruneNowAndThen(ctx, tx)
		} else {
			s.pruneNowAndThen(ctx, s.db)
		}
		return idempotency.Acquired, nil
	case errors.Is(err, sql.ErrNoRows):
		return s.holder(ctx, tx, key)
	case sqlschema.IsLockTimeout(err):
		return idempotency.Busy, nil
	}
	return 0, unavailable("claim in transaction", err)
}

// holder tells a live key's completion from another holder's lease.
func (s *Store) holder(ctx context.Context, tx DB, key string) (idempotency.State, error) {
	var holder string
	err := tx.QueryRowContext(ctx, s.sql.Holder, key).Scan(&holder)
	return sqlschema.HolderState("sqlstore", holder, err, sql.ErrNoRows)
}
