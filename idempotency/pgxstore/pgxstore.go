package pgxstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/pgxstore/internal/sqlschema"
	"github.com/hookkit/hookkit/idempotency/pgxstore/internal/storeargs"
)

// DefaultTable is the table name unless Config.Table says otherwise.
const DefaultTable = sqlschema.DefaultTable

// DefaultLockTimeout bounds how long ClaimTx waits for another transaction
// that holds the same key: past it the claim answers Busy (the sender is
// told 409 and retries later).
const DefaultLockTimeout = sqlschema.DefaultLockTimeout

// DB is what the store needs from pgx: *pgxpool.Pool, *pgx.Conn and pgx.Tx
// satisfy it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Config configures a Store. The zero value uses DefaultTable.
type Config struct {
	// Table is the table name, optionally schema-qualified
	// ("webhooks.idempotency"); letters, digits and underscores only.
	Table string
}

// Store is an idempotency.Store on a PostgreSQL table through pgx. It is
// safe for concurrent use, by any number of processes sharing the database.
type Store struct {
	db     DB
	sql    sqlschema.Statements
	claims atomic.Uint64 // for pruning on write
}

// New returns a Store on db, or an error wrapping idempotency.ErrInvalidConfig
// for a nil db or a table name that is not [schema.]name.
func New(db DB, cfg Config) (*Store, error) {
	statements, err := sqlschema.For("pgxstore", db, sqlschema.Postgres, cfg.Table)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, sql: statements}, nil
}

// Schema returns the CREATE statements Migrate runs, for hosts that manage
// their schema with their own migration tool.
func (s *Store) Schema() string { return s.sql.SchemaText() }

// Migrate creates the table and its index if they do not exist. Replicas
// starting together may all call it: the statements run as one script (pgx
// sends a statement without arguments in the simple protocol, which runs it
// in one implicit transaction) behind an advisory lock.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.db.Exec(ctx, s.sql.Script())
	return sqlschema.Migrated("pgxstore", err)
}

func unavailable(op string, err error) error { return sqlschema.Unavailable("pgxstore", op, err) }

// Claim implements idempotency.Store.
func (s *Store) Claim(ctx context.Context, key string, lease time.Duration) (idempotency.Claim, error) {
	if err := storeargs.Claim(key, lease); err != nil {
		return idempotency.Claim{}, err
	}
	token := storeargs.NewToken()
	var holder string
	var expires time.Time
	err := s.db.QueryRow(ctx, s.sql.Claim, key, token, max(lease, time.Microsecond).Microseconds()).Scan(&holder, &expires)
	if err != nil {
		return idempotency.Claim{}, unavailable("claim", err)
	}
	c := sqlschema.ClaimResult(holder, token, expires)
	if c.State == idempotency.Acquired {
		s.pruneNowAndThen(ctx)
	}
	return c, nil
}

// Complete implements idempotency.Store.
func (s *Store) Complete(ctx context.Context, key, token string, keep time.Duration) error {
	if err := storeargs.Complete(key, token, keep); err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, s.sql.Complete, key, token, max(keep, time.Microsecond).Microseconds())
	return fenced("complete", key, tag, err)
}

// Release implements idempotency.Store.
func (s *Store) Release(ctx context.Context, key, token string) error {
	if err := storeargs.Release(key, token); err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, s.sql.Release, key, token)
	return fenced("release", key, tag, err)
}

func fenced(op, key string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return unavailable(op, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("pgxstore %s %q: %w", op, key, idempotency.ErrLeaseLost)
	}
	return nil
}

// Prune deletes the rows whose lease or keep window has ended and returns
// how many it deleted. Expired rows do no harm (a Claim takes them over),
// and the store prunes as it writes (one claim in 64 also deletes up to 256
// expired rows no transaction holds), so a host need not call Prune; it is
// there to reclaim space at once, after a storm.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	tag, err := s.db.Exec(ctx, s.sql.Prune)
	if err != nil {
		return 0, unavailable("prune", err)
	}
	return tag.RowsAffected(), nil
}

// pruneNowAndThen deletes a bounded batch of expired rows on one claim in
// sqlschema.PruneEvery. Pruning only reclaims space, so its error is
// dropped: the claim that triggered it has succeeded.
func (s *Store) pruneNowAndThen(ctx context.Context) {
	if s.claims.Add(1)%sqlschema.PruneEvery == 0 {
		_, _ = s.db.Exec(ctx, s.sql.PruneSome)
	}
}

// ClaimTx claims key inside tx, the transaction the event's handler will
// write in, for the transactional accept step (package dispatch/pgxtx): the key's
// row is written as completed, kept for keep; tx's commit completes the key
// together with the handler's writes, its rollback leaves it free. It
// answers Acquired (go on, then commit), Completed (roll back, answer 200)
// or Busy (a lease holder has it, or the transaction holding it did
// not end within lockTimeout, DefaultLockTimeout when not positive: roll
// back, answer 409). After any answer but Acquired, and after an error, tx
// must be rolled back. See sqlstore.Store.ClaimTx, whose statement this is.
func (s *Store) ClaimTx(ctx context.Context, tx DB, key string, keep, lockTimeout time.Duration) (idempotency.State, error) {
	if err := storeargs.Claim(key, keep); err != nil {
		return 0, err
	}
	var restored string
	err := tx.QueryRow(ctx, s.sql.ClaimTx, sqlschema.PostgresClaimTxArgs(key, keep, lockTimeout)...).Scan(&restored)
	switch {
	case err == nil:
		s.pruneNowAndThen(ctx) // through the pool: an error in tx would abort it
		return idempotency.Acquired, nil
	case errors.Is(err, pgx.ErrNoRows):
		var holder string
		err := tx.QueryRow(ctx, s.sql.Holder, key).Scan(&holder)
		return sqlschema.HolderState("pgxstore", holder, err, pgx.ErrNoRows)
	case sqlschema.IsLockTimeout(err):
		return idempotency.Busy, nil
	}
	return 0, unavailable("claim in transaction", err)
}
