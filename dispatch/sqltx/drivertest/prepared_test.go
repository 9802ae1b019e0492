package drivertest_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
)

// guardParses counts, over every connection opened through the
// "sqlite-parses" driver, how many times SQLite was handed the ordering
// guard's upsert to parse: a query run directly, or a statement prepared.
var (
	guardParses        atomic.Int64
	schemaPrepares     atomic.Int64 // statements prepared that change the schema
	registerParsesOnce sync.Once
)

// parsesDriver is modernc's driver, with connections that count the
// guard's parses.
type parsesDriver struct{ sqlite.Driver }

func (d *parsesDriver) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return parsesConn{c}, nil
}

// parsesConn passes every call to modernc's connection, counting those
// that parse the guard's upsert.
type parsesConn struct{ driver.Conn }

func countGuard(query string) {
	if strings.Contains(query, "INSERT INTO hookkit_positions") {
		guardParses.Add(1)
	}
}

func (c parsesConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	countGuard(query)
	if strings.HasPrefix(strings.TrimSpace(query), "CREATE") {
		schemaPrepares.Add(1)
	}
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c parsesConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	countGuard(query)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (c parsesConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	countGuard(query)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (c parsesConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// On SQLite the ordering guard's upsert is prepared once per connection
// and kept, not parsed again for every event: SQLite's prepare was most of
// the guard's cost. 200 ordered events on a pool of 4 connections parse it
// a handful of times (the first events run before the background prepare
// is ready); parsed for each event, it would be 200. Migrate's schema
// statements, run once, are not kept prepared.
func TestGuardStatementIsPreparedOnce(t *testing.T) {
	registerParsesOnce.Do(func() { sql.Register("sqlite-parses", &parsesDriver{}) })
	schemaBefore := schemaPrepares.Load() // before Migrate's
	db, hk := orderedSQLite(t, "sqlite-parses")
	if _, err := db.Exec(`CREATE TABLE bookings (id TEXT PRIMARY KEY, status TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	r := dispatch.NewRouter()
	r.Use(dispatch.Ordered(conversoevent.Ordering))
	r.HandleFunc("booking.*", func(ctx context.Context, e *events.Event) error {
		tx, _ := sqltx.Tx(ctx)
		_, err := tx.ExecContext(ctx, `INSERT INTO bookings (id, status) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET status = excluded.status`, e.ID, e.Type)
		return err
	})
	send := bookingSender(t, hk, r)
	life := []string{"booking.created", "booking.confirmed", "booking.rescheduled", "booking.cancelled"}
	before := guardParses.Load()
	const n = 200
	for i := range n {
		if code := send(life[i%4], fmt.Sprintf("prep-%d", i/4), i); code != http.StatusOK {
			t.Fatalf("event %d: status %d", i, code)
		}
	}
	parses := guardParses.Load() - before
	t.Logf("the guard's upsert parsed %d times for %d events", parses, n)
	if parses == 0 || parses > n/4 {
		t.Errorf("the guard's upsert was parsed %d times for %d events; want at least once, at most %d", parses, n, n/4)
	}
	if kept := schemaPrepares.Load() - schemaBefore; kept != 0 {
		t.Errorf("%d schema statements kept prepared; want none", kept)
	}
}
