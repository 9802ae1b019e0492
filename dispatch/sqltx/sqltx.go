package sqltx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/internal/sqldeadletter"
	"github.com/hookkit/hookkit/dispatch/internal/txaccept"
	"github.com/hookkit/hookkit/dispatch/internal/txctx"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
)

// Tx returns the transaction a handler runs in, and whether there is one:
// the handler's writes through it commit together with the event's
// idempotency key. There is one when the handler's Endpoint was mounted
// with the transactional accept step (Database.Acceptor) or the handler
// runs in a dispatch/riverqueue worker; a handler that finds none returns
// dispatch.ErrNoTransaction, whose logged text names the missing step.
func Tx(ctx context.Context) (*sql.Tx, bool) { return txctx.From[*sql.Tx](ctx) }

// Config configures a Database. The zero value is ready to use.
type Config struct {
	// IdempotencyTable is the idempotency keys' table (default
	// sqlstore.DefaultTable).
	IdempotencyTable string
	// DeadLetterTable is the dead letters' table (default
	// "hookkit_dead_letters").
	DeadLetterTable string
	// Keep is how long a processed event's key is remembered (default
	// idempotency.DefaultKeep, 96 hours).
	Keep time.Duration
	// LockTimeout bounds, on PostgreSQL, how long a delivery waits for
	// another transaction that holds the same event before it is answered
	// 409 (default sqlstore.DefaultLockTimeout, 2 seconds).
	LockTimeout time.Duration
}

// Database is hookkit's tables on the host's database/sql database: the
// idempotency keys and the dead letters, with the transactions the
// transactional mode runs handlers in.
type Database struct {
	db          *sql.DB
	store       *sqlstore.Store
	letters     *sqldeadletter.Store[*sql.Tx]
	keep, limit time.Duration
	txOpts      *sql.TxOptions
}

// NewPostgres returns the Database on a PostgreSQL database opened with
// pgx's stdlib driver (or another PostgreSQL driver for database/sql).
func NewPostgres(db *sql.DB, cfg Config) (*Database, error) {
	store, err := sqlstore.NewPostgres(db, sqlstore.Config{Table: cfg.IdempotencyTable})
	if err != nil {
		return nil, err
	}
	return newDatabase(db, store, sqldeadletter.Postgres, cfg)
}

// NewSQLite returns the Database on a SQLite database (modernc.org/sqlite
// or another driver of SQLite 3.35 or later), opened with
// "_txlock=immediate" and a busy timeout.
func NewSQLite(db *sql.DB, cfg Config) (*Database, error) {
	store, err := sqlstore.NewSQLite(db, sqlstore.Config{Table: cfg.IdempotencyTable})
	if err != nil {
		return nil, err
	}
	return newDatabase(db, store, sqldeadletter.SQLite, cfg)
}

func newDatabase(db *sql.DB, store *sqlstore.Store, dialect sqldeadletter.Dialect, cfg Config) (*Database, error) {
	if db == nil {
		return nil, fmt.Errorf("sqltx: nil database: %w", dispatch.ErrInvalidConfig)
	}
	if cfg.Keep < 0 || cfg.LockTimeout < 0 {
		return nil, fmt.Errorf("sqltx: Config.Keep %s and LockTimeout %s must not be negative: %w", cfg.Keep, cfg.LockTimeout, dispatch.ErrInvalidConfig)
	}
	d := &Database{db: db, store: store, keep: cfg.Keep, limit: cfg.LockTimeout}
	if d.keep == 0 {
		d.keep = idempotency.DefaultKeep
	}
	letters, err := sqldeadletter.New[*sql.Tx](driver{db}, dialect, cfg.DeadLetterTable)
	if err != nil {
		return nil, fmt.Errorf("sqltx: %w", err)
	}
	d.letters = letters
	return d, nil
}

// Migrate creates the idempotency and dead-letter tables if they do not
// exist; replicas starting together may all call it.
func (d *Database) Migrate(ctx context.Context) error {
	if err := d.store.Migrate(ctx); err != nil {
		return err
	}
	return d.letters.Migrate(ctx)
}

// Store returns the idempotency store on the same table, for endpoints that
// keep the default (lease) accept step on this database.
func (d *Database) Store() *sqlstore.Store { return d.store }

// Acceptor returns the accept step that runs each handler in a transaction
// with its event's key (see package dispatch/sqltx's doc), for
// dispatch.WithAcceptor.
func (d *Database) Acceptor() dispatch.Acceptor {
	return txaccept.New[*sql.Tx](txDatabase{d})
}

// DeadLetters returns the dead letters kept on this database.
func (d *Database) DeadLetters() *DeadLetters { return &DeadLetters{d.letters} }

// Stats counts the open dead letters, for gauges (dispatch/otelobserver).
func (d *Database) Stats(ctx context.Context) (dispatch.QueueStats, error) {
	return d.letters.Stats(ctx)
}

// txDatabase is the Database as the transactional accept step uses it.
type txDatabase struct{ d *Database }

func (t txDatabase) Begin(ctx context.Context) (*sql.Tx, error) {
	return t.d.db.BeginTx(ctx, t.d.txOpts)
}

func (t txDatabase) End(_ context.Context, tx *sql.Tx, commit bool) error { return end(tx, commit) }

func (t txDatabase) ClaimTx(ctx context.Context, tx *sql.Tx, key string) (idempotency.State, error) {
	return t.d.store.ClaimTx(ctx, tx, key, t.d.keep, t.d.limit)
}

func (t txDatabase) DeadLetterTx(ctx context.Context, tx *sql.Tx, dl dispatch.DeadLetter) error {
	return t.d.letters.PutTx(ctx, tx, dl)
}

func end(tx *sql.Tx, commit bool) error {
	if commit {
		return tx.Commit()
	}
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

// Transactor opens and ends transactions on a database, for what runs a
// handler outside an Endpoint, such as a queue's worker
// (dispatch/riverqueue): the handler reaches the transaction with Tx(ctx).
type Transactor struct{ db *sql.DB }

// NewTransactor returns a Transactor on db.
func NewTransactor(db *sql.DB) Transactor { return Transactor{db} }

// Begin opens a transaction.
func (t Transactor) Begin(ctx context.Context) (*sql.Tx, error) { return t.db.BeginTx(ctx, nil) }

// End commits tx, or rolls it back.
func (t Transactor) End(_ context.Context, tx *sql.Tx, commit bool) error { return end(tx, commit) }

// DeadLetters is the durable dead-letter store on a Database: the events
// whose handler failed permanently (or did not decode), each kept with the
// raw body and the headers a re-run needs (never credentials or
// signatures), until it is re-run to success or discarded. It is also a
// dispatch.DeadLetterSink, for endpoints on the default accept step.
type DeadLetters struct {
	s *sqldeadletter.Store[*sql.Tx]
}

// DeadLetter implements dispatch.DeadLetterSink, in a transaction of its
// own.
func (l *DeadLetters) DeadLetter(ctx context.Context, dl dispatch.DeadLetter) error {
	return l.s.Put(ctx, dl)
}

// List returns a page of the open dead letters f selects, oldest first.
func (l *DeadLetters) List(ctx context.Context, f dispatch.DeadLetterFilter) (dispatch.DeadLetterPage, error) {
	return l.s.List(ctx, f)
}

// Get returns the open dead letter of the event with key (Event.Key()), or
// an error wrapping dispatch.ErrNotDeadLettered.
func (l *DeadLetters) Get(ctx context.Context, key string) (dispatch.DeadLetter, error) {
	return l.s.Get(ctx, key)
}

// Rerun runs the dead letter of key through r once its cause is fixed, in a
// transaction that marks it resolved when the handler succeeds: a handler
// that writes through Tx(ctx) commits its effect and the resolution
// together. A handler that fails again leaves the letter open, with its
// error and one attempt more, and the error wraps dispatch.ErrRerunFailed.
func (l *DeadLetters) Rerun(ctx context.Context, r *dispatch.Router, key string) error {
	return l.s.Rerun(ctx, r, key)
}

// Discard closes the dead letter of key without running it.
func (l *DeadLetters) Discard(ctx context.Context, key string) error { return l.s.Discard(ctx, key) }

var _ dispatch.DeadLetterStore = (*DeadLetters)(nil)

// driver runs the dead-letter store's statements on database/sql.
type driver struct{ db *sql.DB }

func (d driver) Begin(ctx context.Context) (*sql.Tx, error) { return d.db.BeginTx(ctx, nil) }

func (d driver) End(_ context.Context, tx *sql.Tx, commit bool) error { return end(tx, commit) }

func (d driver) Exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (d driver) QueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) sqldeadletter.Scanner {
	return row{tx.QueryRowContext(ctx, query, args...)}
}

func (d driver) Query(ctx context.Context, tx *sql.Tx, query string, args ...any) (sqldeadletter.Rows, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

type row struct{ *sql.Row }

func (r row) Scan(dest ...any) error {
	if err := r.Row.Scan(dest...); errors.Is(err, sql.ErrNoRows) {
		return sqldeadletter.ErrNoRows
	} else if err != nil {
		return err
	}
	return nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }
