// Package txdb is hookkit's tables on a host's SQL database, for the
// transactional accept step: written once, for the transaction type of
// dispatch/sqltx (database/sql) and of dispatch/pgxtx (pgx), which are thin
// typed fronts for it. dispatch/pgxtx, another module, holds a copy that
// .ci/shared writes.
package txdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/internal/sqldeadletter"
	"github.com/hookkit/hookkit/dispatch/order"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/internal/sqlschema"
)

// Keys is the keys' table of an idempotency store (sqlstore.Store or
// pgxstore.Store): its migration, and its claim inside a transaction as
// the transactional step makes it, through a closure of the transaction
// type.
type Keys[Tx any] struct {
	Migrate func(ctx context.Context) error
	ClaimTx func(ctx context.Context, tx Tx, key string, keep, lockTimeout time.Duration) (idempotency.State, error)
	// Exec runs a statement through the pool, outside any transaction,
	// and drops its error. With it, on PostgreSQL, an ordered event's
	// claim advances its object in the same statement (ClaimOrderedTx),
	// and prunes the keys as the store's ClaimTx does (one claim in
	// sqlschema.PruneEvery). Without it, ordered events are claimed by
	// ClaimTx, then advanced.
	Exec func(ctx context.Context, query string)
}

// Database is the keys and the dead letters on one database, with the
// transactions the handlers run in: the implementation of sqltx.Tables,
// which documents its methods.
type Database[Tx any] struct {
	driver      sqldeadletter.Driver[Tx]
	keys        Keys[Tx]
	letters     *sqldeadletter.Store[Tx]
	keep, limit time.Duration
	acceptor    dispatch.Acceptor
	order       *order.Tables[Tx]
	keeper      *order.Keeper[Tx]
	prefix      string                // the package's name, in errors
	keysSQL     *sqlschema.Statements // on PostgreSQL with Keys.Exec: the store's statements, for ordered claims
	claims      atomic.Uint64         // ordered claims, for pruning
}

// New returns the Database, or an error wrapping dispatch.ErrInvalidConfig
// naming the package (prefix) and the field.
func New[Tx any](prefix string, driver sqldeadletter.Driver[Tx], keys Keys[Tx], dialect sqldeadletter.Dialect, cfg txstep.Config) (*Database[Tx], error) {
	if cfg.Keep < 0 || cfg.LockTimeout < 0 {
		return nil, fmt.Errorf("%s: Config.Keep %s and LockTimeout %s must not be negative: %w", prefix, cfg.Keep, cfg.LockTimeout, dispatch.ErrInvalidConfig)
	}
	letters, err := sqldeadletter.New[Tx](driver, dialect, cfg.DeadLetterTable)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	d := &Database[Tx]{driver: driver, keys: keys, letters: letters, keep: cfg.Keep, limit: cfg.LockTimeout, prefix: prefix}
	if d.keep == 0 {
		d.keep = idempotency.DefaultKeep
	}
	odialect := order.Postgres
	if dialect == sqldeadletter.SQLite {
		odialect = order.SQLite
	}
	if d.order, err = order.New[Tx](orderDriver[Tx]{driver}, odialect, order.Config{PositionTable: cfg.PositionTable, KeptTable: cfg.KeptTable}); err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	letters.SetGuard(func(tx Tx) dispatch.Guard { return d.order.Guard(tx) })
	d.keeper, err = d.order.NewKeeper(order.KeeperConfig[Tx]{WithTx: txstep.WithTx[Tx], DeadLetterTx: letters.PutTx})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	var db txstep.Database[Tx] = step[Tx]{Driver: driver, d: d}
	if dialect == sqldeadletter.Postgres && keys.Exec != nil {
		stmts, err := sqlschema.Postgres(cfg.IdempotencyTable)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", prefix, err)
		}
		d.keysSQL = &stmts
		db = postgresStep[Tx]{step[Tx]{Driver: driver, d: d}}
	}
	if d.acceptor, err = txstep.New[Tx](db); err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	return d, nil
}

// Migrate creates the idempotency and dead-letter tables if they do not
// exist; replicas starting together may all call it.
func (d *Database[Tx]) Migrate(ctx context.Context) error {
	if err := d.keys.Migrate(ctx); err != nil {
		return err
	}
	if err := d.order.Migrate(ctx); err != nil {
		return err
	}
	return d.letters.Migrate(ctx)
}

// Acceptor returns the accept step that runs each handler in a transaction
// with its event's key, for dispatch.WithAcceptor.
func (d *Database[Tx]) Acceptor() dispatch.Acceptor { return d.acceptor }

// DeadLetters returns the dead letters kept on this database.
func (d *Database[Tx]) DeadLetters() dispatch.DeadLetterStore { return d.letters }

// DeadLetterSink returns the same dead letters as a dispatch.DeadLetterSink,
// for endpoints that keep the default accept step on this database
// (dispatch.WithDeadLetters): each letter is stored in a transaction of
// its own.
func (d *Database[Tx]) DeadLetterSink() dispatch.DeadLetterSink { return sink[Tx]{d.letters} }

// Stats counts the open dead letters, for gauges (dispatch/otelobserver).
func (d *Database[Tx]) Stats(ctx context.Context) (dispatch.QueueStats, error) {
	return d.letters.Stats(ctx)
}

// RunKept has the Keeper run source's kept events with r.
func (d *Database[Tx]) RunKept(source string, r *dispatch.Router) { d.keeper.Route(source, r) }

// StopKept stops the Keeper, waiting for the event it runs until ctx ends.
func (d *Database[Tx]) StopKept(ctx context.Context) error { return d.keeper.Stop(ctx) }

// step is the Database as the transactional accept step uses it: the
// driver's transactions, the keys and the dead letters.
type step[Tx any] struct {
	txstep.Driver[Tx]
	d *Database[Tx]
}

func (s step[Tx]) ClaimTx(ctx context.Context, tx Tx, key string) (idempotency.State, error) {
	return s.d.keys.ClaimTx(ctx, tx, key, s.d.keep, s.d.limit)
}

func (s step[Tx]) DeadLetterTx(ctx context.Context, tx Tx, dl dispatch.DeadLetter) error {
	return s.d.letters.PutTx(ctx, tx, dl)
}

// postgresStep is the step on PostgreSQL, which claims an ordered event's
// key and advances its object in one statement.
type postgresStep[Tx any] struct{ step[Tx] }

// ClaimOrderedTx implements txstep.OrderedClaim: the store's claim and g's
// advance run as one statement (see order.TxGuard.ClaimAdvance). A key it
// does not take is live, and stays so for the transaction (the claim
// locked its row): its holder tells a completed event from a busy one, as
// the store's ClaimTx does.
func (s postgresStep[Tx]) ClaimOrderedTx(ctx context.Context, tx Tx, key string, g *order.TxGuard[Tx], source, object string, pos events.Position) (idempotency.State, error) {
	if key == "" { // the store's error
		return s.ClaimTx(ctx, tx, key)
	}
	q := s.d.keysSQL
	claimed, err := g.ClaimAdvance(ctx, q.ClaimTx, sqlschema.PostgresClaimTxArgs(key, s.d.keep, s.d.limit), source, object, pos)
	switch {
	case err == nil && claimed:
		if s.d.claims.Add(1)%sqlschema.PruneEvery == 0 {
			s.d.keys.Exec(ctx, q.PruneSome) // through the pool: an error in tx would abort it
		}
		return idempotency.Acquired, nil
	case err == nil:
		var holder string
		err := s.d.driver.QueryRow(ctx, tx, q.Holder, key).Scan(&holder)
		return sqlschema.HolderState(s.d.prefix, holder, err, sqldeadletter.ErrNoRows)
	case sqlschema.IsLockTimeout(err):
		return idempotency.Busy, nil
	}
	return 0, sqlschema.Unavailable(s.d.prefix, "claim in transaction", err)
}

// Order implements txstep.Ordering: the ordering guard's tables and the
// Keeper of their kept events.
func (s step[Tx]) Order() (*order.Tables[Tx], *order.Keeper[Tx]) { return s.d.order, s.d.keeper }

// orderDriver is the driver as package order wants it: a query that found
// no row reports sql.ErrNoRows.
type orderDriver[Tx any] struct{ sqldeadletter.Driver[Tx] }

func (d orderDriver[Tx]) QueryRow(ctx context.Context, tx Tx, query string, args ...any) order.Row {
	return noRows{d.Driver.QueryRow(ctx, tx, query, args...)}
}

type noRows struct{ sqldeadletter.Scanner }

func (r noRows) Scan(dest ...any) error {
	if err := r.Scanner.Scan(dest...); errors.Is(err, sqldeadletter.ErrNoRows) {
		return sql.ErrNoRows
	} else if err != nil {
		return err
	}
	return nil
}

type sink[Tx any] struct{ s *sqldeadletter.Store[Tx] }

func (k sink[Tx]) DeadLetter(ctx context.Context, dl dispatch.DeadLetter) error {
	return k.s.Put(ctx, dl)
}
