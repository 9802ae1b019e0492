package pgxtx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx/internal/sqldeadletter"
	"github.com/hookkit/hookkit/dispatch/pgxtx/internal/txdb"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/pgxstore"
)

// Tx returns the transaction a handler runs in, and whether there is one:
// the handler's writes through it commit together with the event's
// idempotency key. There is one when the handler's Endpoint was mounted
// with the transactional accept step (sqltx.Tables.Acceptor) or the handler
// runs in a dispatch/riverqueue worker; a handler that finds none returns
// dispatch.ErrNoTransaction, whose logged text names the missing step.
func Tx(ctx context.Context) (pgx.Tx, bool) { return txstep.TxFrom[pgx.Tx](ctx) }

// DB is what the transactional accept step needs from pgx: *pgxpool.Pool and
// *pgx.Conn satisfy it.
type DB interface {
	pgxstore.DB
	Beginner
}

// New returns hookkit's two tables in the host's PostgreSQL, reached
// through pgx, as the sqltx.Tables a host keeps whatever its driver
// (sqltx.Tables documents its methods). Their Acceptor runs each handler in
// a pgx.Tx from the pool, the one that claims its event's key; the handler
// reaches it with Tx(ctx).
func New(db DB, cfg txstep.Config) (sqltx.Tables, error) {
	if db == nil {
		return nil, fmt.Errorf("pgxtx: nil database: %w", dispatch.ErrInvalidConfig)
	}
	store, err := pgxstore.New(db, pgxstore.Config{Table: cfg.IdempotencyTable})
	if err != nil {
		return nil, err
	}
	keys := txdb.Keys[pgx.Tx]{Migrate: store.Migrate,
		ClaimTx: func(ctx context.Context, tx pgx.Tx, key string, keep, lockTimeout time.Duration) (idempotency.State, error) {
			return store.ClaimTx(ctx, tx, key, keep, lockTimeout)
		}}
	keys.Exec = func(ctx context.Context, query string) { _, _ = db.Exec(ctx, query) } // pruning only reclaims space
	tables, err := txdb.New[pgx.Tx]("pgxtx", driver{NewTransactor(db)}, keys, sqldeadletter.Postgres, cfg)
	if err != nil {
		return nil, err // not a nil *txdb.Database in a non-nil Tables
	}
	return tables, nil
}

// Beginner opens pgx transactions: *pgxpool.Pool and *pgx.Conn are
// Beginners.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Transactor opens and ends pgx transactions, for what runs a handler
// outside an Endpoint, such as a queue's worker (dispatch/riverqueue): the
// handler reaches the transaction with Tx(ctx).
type Transactor struct{ db Beginner }

// NewTransactor returns a Transactor on db.
func NewTransactor(db Beginner) Transactor { return Transactor{db} }

// Begin opens a transaction.
func (t Transactor) Begin(ctx context.Context) (pgx.Tx, error) {
	if t.db == nil {
		return nil, fmt.Errorf("pgxtx: Transactor on a nil database: %w", dispatch.ErrInvalidConfig)
	}
	return t.db.Begin(ctx)
}

// MaxConns returns how many connections the Transactor's database opens at
// most: a pgxpool.Pool's MaxConns, 1 for a *pgx.Conn, 0 when it cannot tell.
// dispatch/riverqueue reads it to check, as its workers start, that the pool
// can serve them and its acknowledgements at once.
func (t Transactor) MaxConns() int {
	switch db := t.db.(type) {
	case *pgxpool.Pool:
		if db == nil {
			return 0
		}
		return int(db.Stat().MaxConns())
	case *pgx.Conn:
		return 1
	}
	return 0
}

// End commits tx, or rolls it back.
func (t Transactor) End(ctx context.Context, tx pgx.Tx, commit bool) error {
	if commit {
		return tx.Commit(ctx)
	}
	if err := tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	return nil
}

// driver runs the dead-letter store's statements on pgx, in the
// Transactor's transactions.
type driver struct{ Transactor }

func (d driver) Exec(ctx context.Context, tx pgx.Tx, query string, args ...any) (int64, error) {
	tag, err := tx.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (d driver) QueryRow(ctx context.Context, tx pgx.Tx, query string, args ...any) sqldeadletter.Scanner {
	return sqldeadletter.Row(tx.QueryRow(ctx, query, args...).Scan, pgx.ErrNoRows)
}

func (d driver) Query(ctx context.Context, tx pgx.Tx, query string, args ...any) (sqldeadletter.Rows, error) {
	return tx.Query(ctx, query, args...)
}
