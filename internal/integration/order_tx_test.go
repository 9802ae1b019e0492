package integration_test

import (
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
)

// orderTxHost is the booking host on the transactional accept step of
// binding ("sqltx-sqlite", "sqltx-postgres", "pgxtx"), with its tables
// migrated.
func orderTxHost(t *testing.T, binding string, conns int) (*bookingHost, dispatch.Acceptor) {
	t.Helper()
	var h *bookingHost
	var acc dispatch.Acceptor
	switch binding {
	case "sqltx-sqlite", "sqltx-postgres":
		var db = relSQLite
		newTables := sqltx.NewSQLite
		if binding == "sqltx-postgres" {
			db, newTables = relPostgres, sqltx.NewPostgres
		}
		d := db(t, conns)
		tb, err := newTables(d, txstep.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.Migrate(relCtx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tb.StopKept(relCtx) }) // before d closes
		h, acc = newBookingHost(t, binding == "sqltx-postgres", d), tb.Acceptor()
	default:
		pool := relPool(t, conns)
		tb, err := pgxtx.New(pool, txstep.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.Migrate(relCtx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tb.StopKept(relCtx) }) // before the pool closes
		h = newBookingHostOn(t, true, func(query string, args ...any) error {
			_, err := pool.Exec(relCtx, query, args...)
			return err
		}, func(query string, args []any, dest ...any) error {
			return pool.QueryRow(relCtx, query, args...).Scan(dest...)
		})
		acc = tb.Acceptor()
	}
	return h, acc
}

var orderTxBindings = []string{"sqltx-sqlite", "sqltx-postgres", "pgxtx"}

// Every arrival order of a booking's life (24), with retries, on the
// transactional accept step: each delivery answered 200 (processed,
// stale, kept or duplicate), every booking in the in-order state, each
// event applied once, and a kept confirmation applied within a second of
// its booking's creation.
func TestOrderedTxEveryArrivalOrder(t *testing.T) {
	for _, binding := range orderTxBindings {
		t.Run(binding, func(t *testing.T) {
			h, acc := orderTxHost(t, binding, 8)
			ep := conversoEndpoint(t, h.router(), dispatch.WithAcceptor(acc))
			checkEveryArrivalOrder(t, h, ep, time.Second, h.settle)
		})
	}
}
