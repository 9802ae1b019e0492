package integration_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/order"
	"github.com/hookkit/hookkit/events"
)

// sqlOrderDriver is order.Driver on database/sql.
type sqlOrderDriver struct{ db *sql.DB }

func (d sqlOrderDriver) Begin(ctx context.Context) (*sql.Tx, error) { return d.db.BeginTx(ctx, nil) }

func (d sqlOrderDriver) End(_ context.Context, tx *sql.Tx, commit bool) error {
	if commit {
		return tx.Commit()
	}
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

func (d sqlOrderDriver) Exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (d sqlOrderDriver) QueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) order.Row {
	return tx.QueryRowContext(ctx, query, args...)
}

// orderDBs opens the databases the order tables run on: SQLite, and
// PostgreSQL in a schema of the test's own.
func orderDBs(t *testing.T) map[string]struct {
	db      *sql.DB
	dialect order.Dialect
} {
	return map[string]struct {
		db      *sql.DB
		dialect order.Dialect
	}{
		"sqlite":   {relSQLite(t, 4), order.SQLite},
		"postgres": {relPostgres(t, 8), order.Postgres},
	}
}

func newOrderTables(t *testing.T, db *sql.DB, d order.Dialect) *order.Tables[*sql.Tx] {
	t.Helper()
	tables, err := order.New[*sql.Tx](sqlOrderDriver{db}, d, order.Config{Retry: []time.Duration{time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // replicas starting together
		if err := tables.Migrate(relCtx); err != nil {
			t.Fatal(err)
		}
	}
	return tables
}

// The guard's one statement: a first position, a newer one, an equal one
// (a tie: it runs) and an older one (stale: nothing recorded), and a
// rolled-back advance undone.
func TestOrderTablesAdvance(t *testing.T) {
	for name, c := range orderDBs(t) {
		t.Run(name, func(t *testing.T) {
			tables := newOrderTables(t, c.db, c.dialect)
			step := func(pos events.Position, commit bool) (events.Position, bool) {
				t.Helper()
				tx, err := c.db.BeginTx(relCtx, nil)
				if err != nil {
					t.Fatal(err)
				}
				last, found, err := tables.Guard(tx).Advance(relCtx, "goconverso", "b1", pos)
				if err != nil {
					t.Fatal(err)
				}
				if commit {
					err = tx.Commit()
				} else {
					err = tx.Rollback()
				}
				if err != nil {
					t.Fatal(err)
				}
				return last, found
			}
			p := func(at int64, rank int) events.Position { return events.Position{At: at, Rank: rank} }
			for i, s := range []struct {
				pos       events.Position
				commit    bool
				wantLast  events.Position
				wantFound bool
			}{
				{p(10, 1), true, p(0, 0), false},
				{p(20, 2), true, p(10, 1), true},
				{p(20, 2), true, p(20, 2), true}, // a tie
				{p(15, 4), true, p(20, 2), true}, // older: stale
				{p(30, 1), false, p(20, 2), true},
				{p(25, 0), true, p(20, 2), true}, // the rolled-back 30 left no trace
				{p(25, 1), true, p(25, 0), true},
			} {
				last, found := step(s.pos, s.commit)
				if last != s.wantLast || found != s.wantFound {
					t.Errorf("step %d, advance to %+v: last %+v found %v, want %+v %v", i, s.pos, last, found, s.wantLast, s.wantFound)
				}
			}
		})
	}
}

// A kept event runs again as soon as its object advances: kept in the
// transaction that completes its key, woken by the commit of the event
// that creates its object, applied and deleted in one transaction.
func TestOrderTablesKeptRunsWhenItsObjectAdvances(t *testing.T) {
	for name, c := range orderDBs(t) {
		t.Run(name, func(t *testing.T) {
			tables := newOrderTables(t, c.db, c.dialect)
			var mu sync.Mutex
			created := false
			applied := make(chan string, 4)
			r := dispatch.NewRouter()
			r.Use(dispatch.Ordered(func(e *events.Event) (string, events.Position, error) {
				return "b1", events.Position{At: e.Time.UnixMilli()}, nil
			}))
			r.HandleFunc("*", func(ctx context.Context, e *events.Event) error {
				mu.Lock()
				defer mu.Unlock()
				if e.Type == "created" {
					created = true
				} else if !created {
					return dispatch.ErrNotYet
				}
				applied <- e.Type
				return nil
			})
			dls := &dispatch.MemoryDeadLetters{}
			keeper, err := tables.NewKeeper(order.KeeperConfig[*sql.Tx]{
				WithTx:       func(ctx context.Context, _ *sql.Tx) context.Context { return ctx },
				DeadLetterTx: func(ctx context.Context, _ *sql.Tx, dl dispatch.DeadLetter) error { return dls.DeadLetter(ctx, dl) },
				Logger:       slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			keeper.Route("test", r)
			t.Cleanup(func() { keeper.Stop(relCtx) })

			t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
			confirmed := &events.Event{Source: "test", ID: "e2", Type: "confirmed", Time: t0.Add(time.Minute), Body: []byte(`{"b":1}`), Data: []byte(`1`)}
			// The confirmation, first: its handler says ErrNotYet, and it is kept.
			tx, _ := c.db.BeginTx(relCtx, nil)
			g := tables.Guard(tx)
			if err := r.Dispatch(dispatch.WithGuard(relCtx, g), confirmed); !errors.Is(err, dispatch.ErrNotYet) {
				t.Fatalf("confirmation: %v, want ErrNotYet", err)
			}
			tx.Rollback()
			tx, _ = c.db.BeginTx(relCtx, nil)
			if due, err := tables.KeepTx(relCtx, tx, confirmed, g, dispatch.ErrNotYet); err != nil || due {
				t.Fatalf("keep: due %v, %v", due, err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			// The creation: applied, and it finds an event kept for its object.
			tx, _ = c.db.BeginTx(relCtx, nil)
			g = tables.Guard(tx)
			if err := r.Dispatch(dispatch.WithGuard(relCtx, g), &events.Event{Source: "test", ID: "e1", Type: "created", Time: t0}); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			createdAt := time.Now()
			if got := g.Advanced(); len(got) != 1 || got[0] != (order.Object{Source: "test", ID: "b1"}) {
				t.Fatalf("advanced %v, want the object with a kept event", got)
			}
			keeper.Wake(g.Advanced()...)
			if got := <-applied; got != "created" {
				t.Fatalf("applied %s first", got)
			}
			select {
			case got := <-applied:
				if got != "confirmed" {
					t.Fatalf("applied %s, want the kept confirmation", got)
				}
				if late := time.Since(createdAt); late > time.Second {
					t.Errorf("the kept confirmation applied %s after its creation", late)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the kept confirmation did not run")
			}
			waitFor(t, "the kept row deleted", 5*time.Second, func() bool {
				var n int
				c.db.QueryRow(`SELECT count(*) FROM hookkit_kept`).Scan(&n)
				return n == 0
			})
			var kept int
			if err := c.db.QueryRow(`SELECT kept FROM hookkit_positions WHERE object = 'b1'`).Scan(&kept); err != nil || kept != 0 {
				t.Errorf("the object's kept count %d (%v), want 0", kept, err)
			}
			if len(allLetters(t, dls)) != 0 {
				t.Errorf("dead letters: %v", allLetters(t, dls))
			}
		})
	}
}

// A kept event whose object never advances runs again on the retry
// schedule, and after its last delay is a dead letter, deleted from the
// kept events in the transaction that stores the letter.
func TestOrderTablesKeptBecomesADeadLetter(t *testing.T) {
	for name, c := range orderDBs(t) {
		t.Run(name, func(t *testing.T) {
			tables, err := order.New[*sql.Tx](sqlOrderDriver{c.db}, c.dialect, order.Config{Retry: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			if err := tables.Migrate(relCtx); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			runs := 0
			r := dispatch.NewRouter()
			r.Use(dispatch.Ordered(func(e *events.Event) (string, events.Position, error) {
				return "never-created", events.Position{At: 1}, nil
			}))
			r.HandleFunc("*", func(context.Context, *events.Event) error {
				mu.Lock()
				defer mu.Unlock()
				runs++
				return dispatch.ErrNotYet
			})
			dls := &dispatch.MemoryDeadLetters{}
			keeper, err := tables.NewKeeper(order.KeeperConfig[*sql.Tx]{
				WithTx:       func(ctx context.Context, _ *sql.Tx) context.Context { return ctx },
				DeadLetterTx: func(ctx context.Context, _ *sql.Tx, dl dispatch.DeadLetter) error { return dls.DeadLetter(ctx, dl) },
				Poll:         20 * time.Millisecond,
				Logger:       slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			e := &events.Event{Source: "test", ID: "orphan", Type: "confirmed", Body: []byte(`{}`)}
			tx, _ := c.db.BeginTx(relCtx, nil)
			g := tables.Guard(tx)
			if err := r.Dispatch(dispatch.WithGuard(relCtx, g), e); !errors.Is(err, dispatch.ErrNotYet) {
				t.Fatal(err)
			}
			tx.Rollback()
			tx, _ = c.db.BeginTx(relCtx, nil)
			if _, err := tables.KeepTx(relCtx, tx, e, g, dispatch.ErrNotYet); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			keeper.Route("test", r)
			t.Cleanup(func() { keeper.Stop(relCtx) })
			// The memory letters take the letter inside the transaction
			// that deletes the kept row: wait for its commit too.
			var kept, count int
			waitFor(t, "the kept event dead-lettered", 10*time.Second, func() bool {
				c.db.QueryRow(`SELECT count(*) FROM hookkit_kept`).Scan(&count)
				return len(allLetters(t, dls)) == 1 && count == 0
			})
			c.db.QueryRow(`SELECT kept FROM hookkit_positions WHERE object = 'never-created'`).Scan(&kept)
			mu.Lock()
			defer mu.Unlock()
			if dl := allLetters(t, dls)[0]; dl.Event.ID != "orphan" || !errors.Is(dl.Err, dispatch.ErrNotYet) || count != 0 || kept != 0 || runs != 3 {
				t.Errorf("dead letter %s (%v), %d kept rows, kept count %d, %d runs; want the event, ErrNotYet, none left, 3 runs (the first and two kept)",
					dl.Event.ID, dl.Err, count, kept, runs)
			}
		})
	}
}

// allLetters lists every dead letter m holds (one page: these tests hold
// fewer than a page).
func allLetters(t *testing.T, m *dispatch.MemoryDeadLetters) []dispatch.DeadLetter {
	t.Helper()
	page, err := m.List(context.Background(), dispatch.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return page.Letters
}
