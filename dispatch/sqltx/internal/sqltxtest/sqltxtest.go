// Package sqltxtest is what dispatch/sqltx's tests on SQLite and on
// PostgreSQL (dispatch/sqltx/drivertest) share: the accept-step suite's
// Binding on a database, and the accept steps' benchmark.
package sqltxtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/internal/txaccepttest"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

var ctx = context.Background()

// Tables names one test's tables.
type Tables = txaccepttest.Tables

// NewTables returns tables of random names.
func NewTables() Tables { return txaccepttest.NewTables() }

// Binding builds a txaccepttest.Binding of sqltx on db (PostgreSQL or SQLite),
// with its tables created; open opens another pool on the same database.
func Binding(t *testing.T, db *sql.DB, postgres bool, tb Tables, open func(t *testing.T) *sql.DB) txaccepttest.Binding {
	t.Helper()
	cfg := txstep.Config{IdempotencyTable: tb.Idempotency, DeadLetterTable: tb.DeadLetters}
	newDB := sqltx.NewSQLite
	if postgres {
		newDB = sqltx.NewPostgres
	}
	hk, err := newDB(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := hk.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// Before db closes (its Cleanup was registered first): the kept
	// events' runner would otherwise outlive the test.
	t.Cleanup(func() { hk.StopKept(context.Background()) })
	on := txaccepttest.SQL{
		Exec: func(ctx context.Context, query string, args ...any) error {
			_, err := db.ExecContext(ctx, query, args...)
			return err
		},
		Count: func(ctx context.Context, query string, args ...any) (n int, err error) {
			err = db.QueryRowContext(ctx, query, args...).Scan(&n)
			return n, err
		},
	}
	return txaccepttest.OnTables(t, on, tb, postgres, txaccepttest.Binding{
		Acceptor:    hk.Acceptor(),
		DeadLetters: hk.DeadLetters(),
		Stats:       hk.Stats,
		Effect: func(ctx context.Context, id string) error {
			tx, ok := sqltx.Tx(ctx)
			if !ok {
				return errors.New("no transaction in the handler's context")
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO `+tb.Effects+` (event_id) VALUES ($1)`, id)
			return err
		},
		Replica: func(t *testing.T) txaccepttest.Binding { return Binding(t, open(t), postgres, tb, open) },
	})
}

// Database is one database the accept-step benchmark runs on.
type Database struct {
	Name string
	// Open opens it, says whether it is PostgreSQL, and counts its commits.
	Open func(b *testing.B) (db *sql.DB, postgres bool, commits func() int64)
}

// BenchmarkAcceptSteps sends fresh Stripe deliveries through an Endpoint whose
// handler writes one row, with the default accept step (claim in the store, the
// handler's own transaction, completion) and with the transactional accept step
// (the claim and the handler's row in one transaction), on each database,
// and reports events per second and commits per event.
func BenchmarkAcceptSteps(b *testing.B, databases ...Database) {
	for _, d := range databases {
		for _, mode := range []string{"lease", "tx"} {
			b.Run(d.Name+"/"+mode, func(b *testing.B) {
				db, postgres, commits := d.Open(b)
				tb := NewTables()
				b.Cleanup(func() {
					for _, name := range []string{tb.Idempotency, tb.DeadLetters, tb.Effects} {
						db.Exec(`DROP TABLE IF EXISTS ` + name)
					}
				})
				ep := benchEndpoint(b, db, postgres, mode, tb)
				bodies := make([][]byte, b.N)
				sigs := make([]string, b.N)
				signer := verifytest.Stripe{Secret: "whsec_bench"}
				for i := range bodies {
					bodies[i] = []byte(fmt.Sprintf(`{"id":"evt_bench_%s_%09d","type":"payment_intent.succeeded","created":1795420800,"data":{"object":{}}}`, tb.Effects, i))
					sigs[i] = signer.Header(bodies[i])
				}
				req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", nil)
				before := commits()
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					req.Body = io.NopCloser(bytes.NewReader(bodies[i]))
					req.ContentLength = int64(len(bodies[i]))
					req.Header.Set("Stripe-Signature", sigs[i])
					rec := httptest.NewRecorder()
					ep.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
				b.StopTimer()
				spent := commits() - before
				if postgres {
					spent-- // the second counter read
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(float64(spent)/float64(b.N), "commits/event")
			})
		}
	}
}

func benchEndpoint(b *testing.B, db *sql.DB, postgres bool, mode string, tb Tables) *dispatch.Endpoint {
	cfg := txstep.Config{IdempotencyTable: tb.Idempotency, DeadLetterTable: tb.DeadLetters}
	newDB := sqltx.NewSQLite
	if postgres {
		newDB = sqltx.NewPostgres
	}
	hk, err := newDB(db, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := hk.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE ` + tb.Effects + ` (event_id TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	insert := `INSERT INTO ` + tb.Effects + ` (event_id) VALUES ($1)`
	r := dispatch.NewRouter()
	opts := []dispatch.Option{dispatch.WithLogger(slog.New(slog.DiscardHandler))}
	if mode == "tx" {
		r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
			tx, _ := sqltx.Tx(ctx)
			_, err := tx.ExecContext(ctx, insert, e.ID)
			return err
		})
		opts = append(opts, dispatch.WithAcceptor(hk.Acceptor()))
	} else {
		// Today's way: the handler's own transaction, between the claim and
		// the completion.
		r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, insert, e.ID); err != nil {
				tx.Rollback()
				return err
			}
			return tx.Commit()
		})
		newKeys := sqlstore.NewSQLite // the same keys table, for the lease step
		if postgres {
			newKeys = sqlstore.NewPostgres
		}
		keys, err := newKeys(db, sqlstore.Config{Table: tb.Idempotency})
		if err != nil {
			b.Fatal(err)
		}
		opts = append(opts, dispatch.WithStore(keys))
	}
	v, err := verify.NewStripe("whsec_bench")
	if err != nil {
		b.Fatal(err)
	}
	return dispatch.NewEndpoint(v, stripeevent.NewParser(), r, opts...)
}

// BenchmarkListDeadLetters fills hk's dead letters with n letters and
// lists them a page of 100 at a time, following the cursor (and starting
// over at the end): ns/op is the time of one page.
func BenchmarkListDeadLetters(b *testing.B, hk sqltx.Tables, n int) {
	dls := hk.DeadLetters()
	at := time.Now().Add(-time.Hour)
	for i := range n {
		e := &events.Event{Source: "stripe", ID: fmt.Sprintf("evt_list_%06d", i), Type: "payment_intent.succeeded",
			Body: []byte(`{"id":"evt"}`), Data: []byte(`{}`)}
		if err := hk.DeadLetterSink().DeadLetter(ctx, dispatch.DeadLetter{Event: e, Err: errors.New("no such booking"), Attempts: 1, At: at.Add(time.Duration(i) * time.Millisecond)}); err != nil {
			b.Fatal(err)
		}
	}
	f := dispatch.DeadLetterFilter{Limit: 100}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		page, err := dls.List(ctx, f)
		if err != nil {
			b.Fatal(err)
		}
		if len(page.Letters) != 100 && page.Next != "" {
			b.Fatalf("a short page before the end: %d", len(page.Letters))
		}
		f.After = page.Next
	}
}
