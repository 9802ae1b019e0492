package drivertest_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stripe/stripe-go/v76"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/drivertest/internal/servicetest"
	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

const (
	stripeKey     = "rk_test_drivertest"
	webhookSecret = "whsec_drivertest"
)

var quiet = slog.New(slog.DiscardHandler)

// database is one of the two a host may keep its checkpoints in.
type database struct {
	name    string
	dialect string
	open    func(t testing.TB) *sql.DB
	// tables returns sqltx's tables on db.
	tables func(db *sql.DB) (sqltx.Tables, error)
	// param is the placeholder of the nth argument.
	param func(n int) string
}

var tableSeq atomic.Int64

func databases() []database {
	return []database{
		{name: "sqlite", dialect: reconcile.SQLite, open: func(t testing.TB) *sql.DB {
			db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "host.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			db.SetMaxOpenConns(4)
			return db
		}, tables: func(db *sql.DB) (sqltx.Tables, error) { return sqltx.NewSQLite(db, txstep.Config{}) },
			param: func(n int) string { return fmt.Sprintf("?%d", n) }},
		{name: "postgres", dialect: reconcile.PostgreSQL, open: func(t testing.TB) *sql.DB {
			url := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
			db, err := sql.Open("pgx", url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			db.SetMaxOpenConns(8)
			if err := db.PingContext(context.Background()); err != nil {
				servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
			}
			return db
		}, tables: func(db *sql.DB) (sqltx.Tables, error) {
			n := tableSeq.Add(1)
			return sqltx.NewPostgres(db, txstep.Config{IdempotencyTable: fmt.Sprintf("reconcile_keys_%d_%d", time.Now().UnixNano(), n),
				DeadLetterTable: fmt.Sprintf("reconcile_dl_%d_%d", time.Now().UnixNano(), n)})
		}, param: func(n int) string { return fmt.Sprintf("$%d", n) }},
	}
}

// uniqueTable returns a table name no other test uses (PostgreSQL's
// database is shared between test runs).
func uniqueTable(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano(), tableSeq.Add(1))
}

// bookingHost is a host whose Stripe handler marks a booking paid in the
// transaction its event's key is claimed in (dispatch/sqltx): one row per
// event applied, so a repeated effect would show as a second row.
type bookingHost struct {
	ep       *dispatch.Endpoint
	db       *sql.DB
	bookings string
}

func newBookingHost(t testing.TB, d database, db *sql.DB) *bookingHost {
	t.Helper()
	tables, err := d.tables(db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := tables.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h := &bookingHost{db: db, bookings: uniqueTable("bookings_paid")}
	if _, err := db.ExecContext(ctx, `CREATE TABLE `+h.bookings+` (event_id TEXT NOT NULL, booking_id TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO ` + h.bookings + ` (event_id, booking_id) VALUES (` + d.param(1) + `, ` + d.param(2) + `)`
	r := dispatch.NewRouter()
	dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(ctx context.Context, e *events.Event, pi *stripe.PaymentIntent) error {
		tx, ok := sqltx.Tx(ctx)
		if !ok {
			return fmt.Errorf("no transaction")
		}
		_, err := tx.ExecContext(ctx, insert, e.ID, pi.Metadata["booking_id"])
		return err
	})
	v, err := verify.NewStripe(webhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	h.ep = dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(tables.Acceptor()), dispatch.WithLogger(quiet))
	return h
}

// applied returns how many times each event was applied.
func (h *bookingHost) applied(t testing.TB) map[string]int {
	t.Helper()
	rows, err := h.db.QueryContext(context.Background(), `SELECT event_id FROM `+h.bookings)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		got[id]++
	}
	return got
}

func (h *bookingHost) webhook(t testing.TB, body []byte) {
	t.Helper()
	req := verifytest.NewRequest(verifytest.Stripe{Secret: webhookSecret}, "/webhooks/stripe", body)
	rec := httptest.NewRecorder()
	h.ep.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("webhook answered %d", rec.Code)
	}
}

func addEvents(srv *reconciletest.Server, prefix string, n int, start time.Time) [][]byte {
	var bodies [][]byte
	for i := range n {
		body := reconciletest.StripeEvent(fmt.Sprintf("evt_%s_%06d", prefix, i), "payment_intent.succeeded", start.Add(time.Duration(i)*time.Second),
			fmt.Sprintf(`{"id":"pi_%s_%06d","object":"payment_intent","amount":5000,"currency":"usd","status":"succeeded","metadata":{"booking_id":"b%d"}}`, prefix, i, i))
		srv.AddStripeEvent(body)
		bodies = append(bodies, body)
	}
	return bodies
}

func newStore(t testing.TB, d database, db *sql.DB) *reconcile.SQLStore {
	t.Helper()
	table := reconcile.DefaultTable
	if d.dialect == reconcile.PostgreSQL {
		table = uniqueTable("reconcile_cp")
	}
	s, err := reconcile.NewSQLStore(db, reconcile.SQLConfig{Dialect: d.dialect, Table: table})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func newReconciler(t testing.TB, h *bookingHost, srv *reconciletest.Server, store reconcile.Store, cfg reconcile.Config) *reconcile.Reconciler {
	t.Helper()
	src, err := reconcile.NewStripe(reconcile.StripeConfig{Key: stripeKey, URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Endpoint, cfg.Source, cfg.Store, cfg.Logger = h.ep, src, store, quiet
	r, err := reconcile.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
