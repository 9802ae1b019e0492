package sqltx_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/internal/servicetest"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// sqliteCommits counts the commits of every connection opened through the
// "sqlite-counting" driver.
var (
	sqliteCommits  atomic.Int64
	registerOnce   sync.Once
	countingDriver = &sqlite.Driver{}
)

func openCountingSQLite(b *testing.B, path string) *sql.DB {
	registerOnce.Do(func() {
		countingDriver.RegisterConnectionHook(func(conn sqlite.ExecQuerierContext, _ string) error {
			hooks, ok := conn.(sqlite.HookRegisterer)
			if !ok {
				return errors.New("modernc's connection registers no hooks")
			}
			hooks.RegisterCommitHook(func() int32 { sqliteCommits.Add(1); return 0 })
			return nil
		})
		sql.Register("sqlite-counting", countingDriver)
	})
	db, err := sql.Open("sqlite-counting", path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	b.Cleanup(func() { db.Close() })
	return db
}

var _ driver.Driver = countingDriver

// BenchmarkModes sends fresh Stripe deliveries through an Endpoint whose
// handler writes one row, in today's mode (claim in the store, the handler's
// own transaction, completion) and in the transactional mode (the claim and
// the handler's row in one transaction), on PostgreSQL and SQLite, and
// reports events per second and commits per event.
func BenchmarkModes(b *testing.B) {
	databases := []struct {
		name string
		open func(b *testing.B) (*sql.DB, bool, func() int64)
	}{
		{"postgres", func(b *testing.B) (*sql.DB, bool, func() int64) {
			db, err := sql.Open("pgx", servicetest.ServiceURL(b, servicetest.PostgresURLEnv))
			if err != nil {
				b.Fatal(err)
			}
			db.SetMaxOpenConns(16)
			b.Cleanup(func() { db.Close() })
			// Every committed write transaction takes a transaction ID;
			// asking for the counter takes one more.
			xid := func() int64 {
				var n int64
				if err := db.QueryRow(`SELECT pg_current_xact_id()::text::bigint`).Scan(&n); err != nil {
					b.Fatal(err)
				}
				return n
			}
			return db, true, xid
		}},
		{"sqlite", func(b *testing.B) (*sql.DB, bool, func() int64) {
			return openCountingSQLite(b, filepath.Join(b.TempDir(), "bench.db")), false, sqliteCommits.Load
		}},
	}
	for _, d := range databases {
		for _, mode := range []string{"lease", "tx"} {
			b.Run(d.name+"/"+mode, func(b *testing.B) {
				db, postgres, commits := d.open(b)
				tb := newTables()
				b.Cleanup(func() {
					for _, name := range []string{tb.idempotency, tb.deadLetters, tb.effects} {
						db.Exec(`DROP TABLE IF EXISTS ` + name)
					}
				})
				ep := benchEndpoint(b, db, postgres, mode, tb)
				bodies := make([][]byte, b.N)
				sigs := make([]string, b.N)
				signer := verifytest.Stripe{Secret: "whsec_bench"}
				for i := range bodies {
					bodies[i] = []byte(fmt.Sprintf(`{"id":"evt_bench_%s_%09d","type":"payment_intent.succeeded","created":1795420800,"data":{"object":{}}}`, tb.effects, i))
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

func benchEndpoint(b *testing.B, db *sql.DB, postgres bool, mode string, tb tables) *dispatch.Endpoint {
	cfg := sqltx.Config{IdempotencyTable: tb.idempotency, DeadLetterTable: tb.deadLetters}
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
	if _, err := db.Exec(`CREATE TABLE ` + tb.effects + ` (event_id TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	insert := `INSERT INTO ` + tb.effects + ` (event_id) VALUES ($1)`
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
		opts = append(opts, dispatch.WithStore(hk.Store()))
	}
	v, err := verify.NewStripe("whsec_bench")
	if err != nil {
		b.Fatal(err)
	}
	return dispatch.NewEndpoint(v, stripeevent.NewParser(), r, opts...)
}
