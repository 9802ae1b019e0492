package integration_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// benchDB opens name's database ("sqlite": a file of the benchmark's own;
// "postgres": a schema of its own) with sqltx's tables migrated.
func benchDB(b *testing.B, name string) (*sql.DB, sqltx.Tables) {
	b.Helper()
	var db *sql.DB
	var err error
	newTables := sqltx.NewSQLite
	if name == "sqlite" {
		db, err = sql.Open("sqlite", filepath.Join(b.TempDir(), "bench.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	} else {
		db, err = sql.Open("pgx", postgresSchemaURL(b))
		newTables = sqltx.NewPostgres
	}
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(8)
	b.Cleanup(func() { db.Close() })
	tb, err := newTables(db, txstep.Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := tb.Migrate(relCtx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tb.StopKept(relCtx) }) // before db closes
	if _, err := db.Exec(`CREATE TABLE bench_effects (event_id text NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	return db, tb
}

// bookingBody is a GoConverso event of booking id, in the shape GoConverso
// documents, at the given millisecond of lifeHour.
func bookingBody(name, id string, ms int) []byte {
	return fmt.Appendf(nil, `{"event":%q,"timestamp":"%s:%02d:%02d.%03dZ","data":{"booking_id":%q,"professional_id":"550e8400-e29b-41d4-a716-446655440000",`+
		`"client_name":"John Smith","client_email":"john@example.com","client_phone":"+1-555-0100","service":{"id":"svc_abc123","name":"Haircut",`+
		`"price":35.00,"duration":30,"currency":"USD"},"scheduled_at":"2026-02-05T10:00:00.000Z","status":"confirmed","notes":"bench"}}`,
		name, lifeHour, ms/60000%60, ms/1000%60, ms%1000, id)
}

// BenchmarkOrderGuard: the transactional accept step (sqltx) with and
// without the ordering guard, in the same run, on SQLite and PostgreSQL.
// Each event is one of a booking's life in order (created, confirmed,
// rescheduled, cancelled; a booking every four events), signed, verified,
// parsed, and its handler writes one row in the step's transaction; the
// ordered run adds dispatch.Ordered(conversoevent.Ordering), whose guard
// upserts the booking's position in that transaction. events/s is the
// figure to compare.
func BenchmarkOrderGuard(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		for _, mode := range []string{"tx", "tx+guard"} {
			b.Run(name+"/"+mode, func(b *testing.B) {
				_, tb := benchDB(b, name)
				insert := `INSERT INTO bench_effects (event_id) VALUES ($1)`
				if name == "sqlite" {
					insert = `INSERT INTO bench_effects (event_id) VALUES (?)`
				}
				r := dispatch.NewRouter()
				if mode == "tx+guard" {
					r.Use(dispatch.Ordered(conversoevent.Ordering))
				}
				r.HandleFunc("booking.*", func(ctx context.Context, e *events.Event) error {
					tx, _ := sqltx.Tx(ctx)
					_, err := tx.ExecContext(ctx, insert, e.ID)
					return err
				})
				ep := conversoEndpoint(b, r, dispatch.WithAcceptor(tb.Acceptor()))
				bodies := make([][]byte, b.N)
				sigs := make([]http.Header, b.N)
				for i := range bodies {
					bodies[i] = bookingBody(bookingLife[i%4], fmt.Sprintf("bench-%s-%d", mode, i/4), i%4*1000)
					req := verifytest.NewRequest(conversoSigner, "/", bodies[i])
					sigs[i] = req.Header
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					req := httptest.NewRequest(http.MethodPost, "/webhooks/goconverso", nil)
					req.Body = io.NopCloser(bytes.NewReader(bodies[i]))
					req.ContentLength = int64(len(bodies[i]))
					req.Header = sigs[i]
					rec := httptest.NewRecorder()
					ep.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkKeptConfirmation: a booking's confirmation arrives first and is
// kept (its handler says dispatch.ErrNotYet), then its creation: the time
// from the creation's arrival to the kept confirmation applied, by the
// Keeper woken after the creation's commit. p50 and p99 over b.N bookings.
func BenchmarkKeptConfirmation(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			db, tb := benchDB(b, name)
			h := newBookingHost(b, name == "postgres", db)
			applied := make(chan struct{}, 1)
			r := dispatch.NewRouter()
			r.Use(dispatch.Ordered(conversoevent.Ordering))
			for _, life := range bookingLife[:2] {
				dispatch.On(r, events.NewType[*conversoevent.Booking](life), func(ctx context.Context, e *events.Event, bk *conversoevent.Booking) error {
					err := h.apply(ctx, e, bk)
					if err == nil && e.Type == "booking.confirmed" {
						applied <- struct{}{}
					}
					return err
				})
			}
			ep := conversoEndpoint(b, r, dispatch.WithAcceptor(tb.Acceptor()))
			send := func(name, id string, ms int) {
				rec := httptest.NewRecorder()
				ep.ServeHTTP(rec, verifytest.NewRequest(conversoSigner, "/webhooks/goconverso", bookingBody(name, id, ms)))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", name, rec.Code)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				id := fmt.Sprintf("kept-%d", i)
				send("booking.confirmed", id, 1000)
				start := time.Now()
				send("booking.created", id, 0)
				select {
				case <-applied:
				case <-time.After(10 * time.Second):
					b.Fatal("the kept confirmation was not applied within 10 s")
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
