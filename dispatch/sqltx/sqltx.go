package sqltx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/internal/sqldeadletter"
	"github.com/hookkit/hookkit/dispatch/internal/txdb"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
)

// Tx returns the transaction a handler runs in, and whether there is one:
// the handler's writes through it commit together with the event's
// idempotency key. There is one when the handler's Endpoint was mounted
// with the transactional accept step (Tables.Acceptor) or the handler
// runs in a dispatch/riverqueue worker; a handler that finds none returns
// dispatch.ErrNoTransaction, whose logged text names the missing step.
func Tx(ctx context.Context) (*sql.Tx, bool) { return txstep.TxFrom[*sql.Tx](ctx) }

// Tables is hookkit's two tables in the host's SQL database (the
// idempotency keys and the dead letters), with the transactions the
// transactional accept step runs handlers in. NewPostgres and NewSQLite
// return it on database/sql, and dispatch/pgxtx's New on pgx: a host
// names and keeps it whatever its driver. hookkit's constructors
// are its only implementations; it may gain methods.
type Tables interface {
	// Migrate creates the idempotency and dead-letter tables if they do
	// not exist. Replicas starting together may all call it: on
	// PostgreSQL it runs under an advisory lock.
	Migrate(ctx context.Context) error
	// Acceptor returns the accept step that runs each handler in a
	// transaction with its event's key (see the package doc), for
	// dispatch.WithAcceptor; the handler reaches the transaction with
	// Tx(ctx), or pgxtx.Tx(ctx) on pgx.
	Acceptor() dispatch.Acceptor
	// DeadLetters returns the dead letters the accept step committed on
	// this database, to list, re-run and discard (dispatch/admin serves
	// them; Router.Rerun re-runs one).
	DeadLetters() dispatch.DeadLetterStore
	// DeadLetterSink returns the same dead letters as a
	// dispatch.DeadLetterSink, for endpoints that keep the default (lease)
	// accept step on this database (dispatch.WithDeadLetters): each letter
	// is stored in a transaction of its own.
	DeadLetterSink() dispatch.DeadLetterSink
	// Stats counts the open dead letters, for the gauges of
	// dispatch/otelobserver's Watch.
	Stats(ctx context.Context) (dispatch.QueueStats, error)
	// RunKept has the events kept on this database (a handler said
	// dispatch.ErrNotYet) of source run again with r: call it at start,
	// for each sender whose handlers are ordered (dispatch.Ordered), so
	// that events kept before a restart run on their schedule even before
	// the sender's next delivery (which would start them too).
	RunKept(source string, r *dispatch.Router)
	// StopKept stops running kept events, waiting until ctx ends for the
	// one running (its transaction commits, or rolls back and the event
	// stays kept). Call it at shutdown, after the Endpoints' Shutdown and
	// before closing the database: the runner would otherwise outlive
	// them, and find the database closed. RunKept, or a delivery that
	// keeps an event or advances an object with events kept, starts it
	// again.
	StopKept(ctx context.Context) error
}

// NewPostgres returns the Tables on a PostgreSQL database opened with
// pgx's stdlib driver (or another PostgreSQL driver for database/sql).
func NewPostgres(db *sql.DB, cfg txstep.Config) (Tables, error) {
	return newTables(db, sqlstore.NewPostgres, sqldeadletter.Postgres, cfg)
}

// NewSQLite returns the Tables on a SQLite database (modernc.org/sqlite
// or another driver of SQLite 3.35 or later), opened with
// "_txlock=immediate" and a busy timeout.
func NewSQLite(db *sql.DB, cfg txstep.Config) (Tables, error) {
	return newTables(db, sqlstore.NewSQLite, sqldeadletter.SQLite, cfg)
}

func newTables(db *sql.DB, newStore func(sqlstore.DB, sqlstore.Config) (*sqlstore.Store, error), dialect sqldeadletter.Dialect, cfg txstep.Config) (Tables, error) {
	if db == nil {
		return nil, fmt.Errorf("sqltx: nil database: %w", dispatch.ErrInvalidConfig)
	}
	store, err := newStore(db, sqlstore.Config{Table: cfg.IdempotencyTable})
	if err != nil {
		return nil, err
	}
	keys := txdb.Keys[*sql.Tx]{Migrate: store.Migrate,
		ClaimTx: func(ctx context.Context, tx *sql.Tx, key string, keep, lockTimeout time.Duration) (idempotency.State, error) {
			return store.ClaimTx(ctx, tx, key, keep, lockTimeout)
		}}
	keys.Exec = func(ctx context.Context, query string) { _, _ = db.ExecContext(ctx, query) } // pruning only reclaims space
	d := driver{Transactor: NewTransactor(db)}
	if dialect == sqldeadletter.SQLite {
		d.stmts = newStmtCache(db)
	}
	tables, err := txdb.New[*sql.Tx]("sqltx", d, keys, dialect, cfg)
	if err != nil {
		return nil, err // not a nil *txdb.Database in a non-nil Tables
	}
	return tables, nil
}

// Transactor opens and ends transactions on a database, for what runs a
// handler outside an Endpoint, such as a queue's worker
// (dispatch/riverqueue): the handler reaches the transaction with Tx(ctx).
type Transactor struct{ db *sql.DB }

// NewTransactor returns a Transactor on db.
func NewTransactor(db *sql.DB) Transactor { return Transactor{db} }

// Begin opens a transaction.
func (t Transactor) Begin(ctx context.Context) (*sql.Tx, error) {
	if t.db == nil {
		return nil, fmt.Errorf("sqltx: Transactor on a nil database: %w", dispatch.ErrInvalidConfig)
	}
	return t.db.BeginTx(ctx, nil)
}

// MaxConns returns how many connections the Transactor's database opens at
// most (sql.DB.SetMaxOpenConns), 0 when it sets no limit.
// dispatch/riverqueue reads it to check, as its workers start, that the pool
// can serve them and its acknowledgements at once.
func (t Transactor) MaxConns() int {
	if t.db == nil {
		return 0
	}
	return t.db.Stats().MaxOpenConnections
}

// End commits tx, or rolls it back.
func (t Transactor) End(_ context.Context, tx *sql.Tx, commit bool) error {
	if commit {
		return tx.Commit()
	}
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

// driver runs hookkit's statements (the ordering guard's, the kept
// events', the dead letters') on database/sql, in the Transactor's
// transactions.
type driver struct {
	Transactor
	stmts *stmtCache // nil: each statement is prepared where it runs
}

func (d driver) Exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if s := d.stmts.get(query); s != nil {
		res, err = tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	} else {
		res, err = tx.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (d driver) QueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) sqldeadletter.Scanner {
	if s := d.stmts.get(query); s != nil {
		return sqldeadletter.Row(tx.StmtContext(ctx, s).QueryRowContext(ctx, args...).Scan, sql.ErrNoRows)
	}
	return sqldeadletter.Row(tx.QueryRowContext(ctx, query, args...).Scan, sql.ErrNoRows)
}

func (d driver) Query(ctx context.Context, tx *sql.Tx, query string, args ...any) (sqldeadletter.Rows, error) {
	var rows *sql.Rows
	var err error
	if s := d.stmts.get(query); s != nil {
		rows, err = tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	} else {
		rows, err = tx.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// stmtCache keeps hookkit's statements prepared, on SQLite: database/sql
// prepares a query run in a transaction (tx.QueryRowContext) anew each
// time, and SQLite's prepare is most of the cost of such a statement (of
// the ordering guard's upsert, about 60% of its CPU). A statement prepared
// on the pool is used in a transaction through tx.StmtContext, which
// prepares it once per connection and keeps it there. It is prepared on
// the pool in the background, on its first use: preparing it in the
// transaction's goroutine would need a second connection while the
// transaction holds one, and wait forever on a pool of one. Until it is
// ready, and while preparing it fails, the query runs as before. Only
// statements that read or write rows are kept: a schema statement
// (Migrate's) runs once.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*cachedStmt
}

// cachedStmt is one query's statement: nil while it is being prepared or
// after its prepare failed (tried again from retryAt).
type cachedStmt struct {
	stmt    *sql.Stmt
	retryAt time.Time
}

// prepareRetry is how long a query whose prepare failed runs unprepared
// before its prepare is tried again (its table not created yet, a
// connection that cannot see it, the database closed).
const prepareRetry = time.Minute

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*cachedStmt{}} }

// get returns query's prepared statement, or nil (and starts preparing it
// on its first use, or once its last failure is old enough). A nil cache
// keeps nothing.
func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil || !keepsPrepared(query) {
		return nil
	}
	c.mu.RLock()
	e, seen := c.m[query]
	var s *sql.Stmt
	var retryAt time.Time
	if seen {
		s, retryAt = e.stmt, e.retryAt
	}
	c.mu.RUnlock()
	if s != nil || seen && (retryAt.IsZero() || time.Now().Before(retryAt)) {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, seen = c.m[query]
	switch {
	case !seen:
		c.m[query] = &cachedStmt{}
	case e.stmt == nil && !e.retryAt.IsZero() && !time.Now().Before(e.retryAt):
		e.retryAt = time.Time{} // being prepared again
	default:
		return e.stmt
	}
	go c.prepare(query)
	return nil
}

// keepsPrepared reports whether query reads or writes rows: the
// statements worth keeping prepared.
func keepsPrepared(query string) bool {
	for _, verb := range []string{"INSERT", "UPDATE", "DELETE", "SELECT", "WITH"} {
		if len(query) >= len(verb) && strings.EqualFold(query[:len(verb)], verb) {
			return true
		}
	}
	return false
}

// prepare prepares query on the pool.
func (c *stmtCache) prepare(query string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.db.PrepareContext(ctx, query)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.m[query] = &cachedStmt{retryAt: time.Now().Add(prepareRetry)}
		return
	}
	c.m[query] = &cachedStmt{stmt: s}
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }
