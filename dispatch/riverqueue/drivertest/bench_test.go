package drivertest_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/riverqueue/drivertest/internal/servicetest"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// The load the benchmarks put on the server: senders posting at once over
// loopback HTTP, each waiting for its answer before the next delivery.
const senders = 16

// statements counts the statements a pgx pool runs, by their sqlc query
// name (River's) or their first SQL keyword (BEGIN, INSERT, COMMIT...).
type statements struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	sql := strings.TrimSpace(data.SQL)
	name, _, _ := strings.Cut(sql, " ")
	if rest, ok := strings.CutPrefix(sql, "-- name: "); ok { // sqlc's
		name, _, _ = strings.Cut(rest, " ")
	}
	s.mu.Lock()
	s.n[strings.ToUpper(name)]++
	s.mu.Unlock()
	return ctx
}

func (s *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (s *statements) reset() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.n
	s.n = map[string]int{}
	return n
}

// benchPostgres opens a pool on a schema of the benchmark's own, counting
// its statements.
func benchPostgres(b *testing.B) (*pgxpool.Pool, *statements) {
	cfg, err := pgxpool.ParseConfig(postgresSchemaURL(b))
	if err != nil {
		b.Fatal(err)
	}
	counter := &statements{n: map[string]int{}}
	cfg.ConnConfig.Tracer = counter
	cfg.MaxConns = senders
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool, counter
}

// xid is PostgreSQL's transaction counter: every committed write
// transaction takes one ID (and reading it takes one more).
func xid(b *testing.B, pool *pgxpool.Pool) int64 {
	var n int64
	if err := pool.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

func benchSQLite(b *testing.B) *sql.DB { return openSQLite(b, filepath.Join(b.TempDir(), "bench.db")) }

// benchEndpoint is a Stripe endpoint whose accept step is a.
func benchEndpoint(b *testing.B, a dispatch.Acceptor, r *dispatch.Router) http.Handler {
	v, err := verify.NewStripe(secret)
	if err != nil {
		b.Fatal(err)
	}
	ep, err := dispatch.NewEndpointSafely(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(a), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	return ep
}

// benchQueue is a migrated Queue on driver running r's handlers, logging
// nowhere unless cfg says otherwise.
func benchQueue[TDriver riverdriver.Driver[TTx], TTx any](b testing.TB, driver TDriver, txs txstep.Driver[TTx], r *dispatch.Router, cfg riverqueue.Config) *riverqueue.Queue[TDriver, TTx] {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	q, err := riverqueue.New(driver, txs, r, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := q.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return q
}

// postgresQueue and sqliteQueue are benchQueue on each database, running
// benchRouter(nil)'s handler.
func postgresQueue(b testing.TB, pool *pgxpool.Pool, cfg riverqueue.Config) *riverqueue.Queue[*riverpgxv5.Driver, pgx.Tx] {
	return benchQueue(b, riverpgxv5.New(pool), pgxtx.NewTransactor(pool), benchRouter(nil), cfg)
}

func sqliteQueue(b testing.TB, db *sql.DB, cfg riverqueue.Config) *riverqueue.Queue[*riversqlite.Driver, *sql.Tx] {
	return benchQueue(b, riversqlite.New(db), sqltx.NewTransactor(db), benchRouter(nil), cfg)
}

// riverClient is a bare River client on driver, for the hand-written
// receiver.
func riverClient[TTx any](b testing.TB, driver riverdriver.Driver[TTx]) *river.Client[TTx] {
	client, err := river.NewClient(driver, &river.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return client
}

// sender posts signed deliveries of fresh events to a server over
// loopback HTTP.
type sender struct {
	url    string
	client *http.Client
	prefix string
	next   atomic.Int64
}

func newSender(b *testing.B, h http.Handler) *sender {
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	transport := &http.Transport{MaxIdleConnsPerHost: senders * 2}
	b.Cleanup(transport.CloseIdleConnections)
	return &sender{url: srv.URL, client: &http.Client{Transport: transport}, prefix: servicetest.RandomName("evt_")}
}

// send delivers the next event and returns its ID once answered 200.
func (s *sender) send(b *testing.B) string {
	id := fmt.Sprintf("%s_%09d", s.prefix, s.next.Add(1))
	body := []byte(fmt.Sprintf(`{"id":%q,"type":"payment_intent.succeeded","created":%d,"data":{"object":{"id":"pi_1","amount":5000}}}`,
		id, time.Now().Unix()))
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return ""
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", verifytest.Stripe{Secret: secret}.Header(body))
	res, err := s.client.Do(req)
	if err != nil {
		b.Error(err)
		return ""
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Errorf("%s: status %d", id, res.StatusCode)
	}
	return id
}

// storm sends b.N deliveries from senders concurrent senders, calling
// acked with each ID as its 200 arrives.
func (s *sender) storm(b *testing.B, acked func(id string)) {
	b.SetParallelism((senders + 1) / 2) // × GOMAXPROCS: 16 senders on two cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if id := s.send(b); acked != nil {
				acked(id)
			}
		}
	})
}

// BenchmarkAcknowledge measures what a sender waits for, over loopback HTTP
// with 16 concurrent senders: the acknowledgement of fresh Stripe
// deliveries by River's insert on PostgreSQL and on SQLite (no workers
// running: the insert alone), beside today's synchronous path on
// PostgreSQL (dispatch/sqltx: the claim and a handler that writes one row,
// in one transaction, before the 200). It reports acknowledgements per
// second, and on PostgreSQL the write transactions and the statements per
// acknowledgement, counted by the database and by a pgx tracer.
func BenchmarkAcknowledge(b *testing.B) {
	b.Run("river-postgres", func(b *testing.B) {
		pool, counted := benchPostgres(b)
		q := postgresQueue(b, pool, riverqueue.Config{})
		s := newSender(b, benchEndpoint(b, q, benchRouter(nil)))
		s.send(b) // a first connection and job, outside the count
		ackRun(b, s, pool, counted)
		countJobs(b, pool, b.N+1)
	})
	b.Run("river-sqlite", func(b *testing.B) {
		db := benchSQLite(b)
		q := sqliteQueue(b, db, riverqueue.Config{})
		s := newSender(b, benchEndpoint(b, q, benchRouter(nil)))
		b.ReportAllocs()
		b.ResetTimer()
		s.storm(b, nil)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acks/s")
	})
	b.Run("sync-postgres", func(b *testing.B) {
		pool, counted := benchPostgres(b)
		db := stdlib.OpenDBFromPool(pool)
		b.Cleanup(func() { db.Close() })
		if _, err := pool.Exec(ctx, `CREATE TABLE effects (event_id text NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		hk, err := sqltx.NewPostgres(db, txstep.Config{})
		if err != nil {
			b.Fatal(err)
		}
		if err := hk.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		r := dispatch.NewRouter()
		r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
			tx, _ := sqltx.Tx(ctx)
			_, err := tx.ExecContext(ctx, `INSERT INTO effects (event_id) VALUES ($1)`, e.ID)
			return err
		})
		s := newSender(b, benchEndpoint(b, hk.Acceptor(), r))
		s.send(b)
		ackRun(b, s, pool, counted)
	})
}

// ackRun runs the storm and reports acks/s, and transactions and
// statements per acknowledgement.
func ackRun(b *testing.B, s *sender, pool *pgxpool.Pool, counted *statements) {
	before := xid(b, pool)
	counted.reset()
	b.ReportAllocs()
	b.ResetTimer()
	s.storm(b, nil)
	b.StopTimer()
	byKeyword := counted.reset()
	xacts := xid(b, pool) - before - 1 // the second read
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acks/s")
	b.ReportMetric(float64(xacts)/float64(b.N), "xacts/ack")
	inserts, total := 0, 0
	for name, n := range byKeyword {
		if strings.Contains(name, "INSERT") { // INSERT, River's JobInsertFastMany
			inserts += n
		}
		if name != "BEGIN" && name != "COMMIT" {
			total += n
		}
	}
	b.ReportMetric(float64(inserts)/float64(b.N), "inserts/ack")
	b.ReportMetric(float64(total)/float64(b.N), "stmts/ack")
	if b.N >= 100 {
		b.Logf("N=%d statements: %v", b.N, byKeyword)
	}
}

func countJobs(b *testing.B, pool *pgxpool.Pool, want int) {
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n != want {
		b.Fatalf("%d jobs for %d acknowledgements", n, want)
	}
}

// benchRouter routes payment_intent.succeeded to started, then an effect
// written by effect in the job's transaction.
func benchRouter(handle func(ctx context.Context, e *events.Event) error) *dispatch.Router {
	r := dispatch.NewRouter()
	if handle == nil {
		handle = func(context.Context, *events.Event) error { return nil }
	}
	r.HandleFunc("payment_intent.succeeded", handle)
	return r
}

// timings records, per event, when its 200 arrived and when its handler
// started.
type timings struct {
	mu             sync.Mutex
	acked, started map[string]time.Time
	done           atomic.Int64
	// notify, when set, is told each event whose handler starts.
	notify chan string
}

func newTimings() *timings {
	return &timings{acked: map[string]time.Time{}, started: map[string]time.Time{}}
}

func (t *timings) ack(id string) {
	now := time.Now()
	t.mu.Lock()
	t.acked[id] = now
	t.mu.Unlock()
}

func (t *timings) start(id string) {
	now := time.Now()
	t.mu.Lock()
	_, again := t.started[id]
	if !again {
		t.started[id] = now
	}
	notify := t.notify
	t.mu.Unlock()
	if notify != nil && !again {
		notify <- id
	}
}

// waits returns, sorted, how long each event waited from its 200 to its
// handler's start.
func (t *timings) waits() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var d []time.Duration
	for id, acked := range t.acked {
		if started, ok := t.started[id]; ok {
			d = append(d, max(0, started.Sub(acked)))
		}
	}
	slices.Sort(d)
	return d
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// processing is a queue with its workers running a handler that records
// its start and writes one row in the job's transaction.
type processing struct {
	sender *sender
	times  *timings
}

func startProcessing(b *testing.B, database string) *processing {
	times := newTimings()
	cfg := riverqueue.Config{Logger: slog.New(slog.DiscardHandler), MaxWorkers: 20}
	var (
		q    queue
		err  error
		host http.Handler
	)
	switch database {
	case "postgres":
		pool, _ := benchPostgres(b)
		if _, err := pool.Exec(ctx, `CREATE TABLE effects (event_id text NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		r := benchRouter(func(ctx context.Context, e *events.Event) error {
			times.start(e.ID)
			tx, _ := pgxtx.Tx(ctx)
			_, err := tx.Exec(ctx, `INSERT INTO effects (event_id) VALUES ($1)`, e.ID)
			times.done.Add(1)
			return err
		})
		q, err = riverqueue.New(riverpgxv5.New(pool), pgxtx.NewTransactor(pool), r, cfg)
		if err == nil {
			host = benchEndpoint(b, q, r)
		}
	case "sqlite":
		db := benchSQLite(b)
		if _, err := db.Exec(`CREATE TABLE effects (event_id TEXT NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		r := benchRouter(func(ctx context.Context, e *events.Event) error {
			times.start(e.ID)
			tx, _ := sqltx.Tx(ctx)
			_, err := tx.ExecContext(ctx, `INSERT INTO effects (event_id) VALUES ($1)`, e.ID)
			times.done.Add(1)
			return err
		})
		// No LISTEN/NOTIFY on SQLite: River polls for jobs another process
		// inserted; its own inserts wake its workers at once.
		cfg.River = &river.Config{FetchPollInterval: 200 * time.Millisecond}
		q, err = riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, cfg)
		if err == nil {
			host = benchEndpoint(b, q, r)
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	if err := q.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(stopCtx)
	})
	return &processing{sender: newSender(b, host), times: times}
}

// waitDone waits until n handlers have run.
func (p *processing) waitDone(b *testing.B, n int64) {
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for p.times.done.Load() < n {
		select {
		case <-deadline.C:
			b.Fatalf("%d of %d events processed", p.times.done.Load(), n)
		case <-tick.C:
		}
	}
}

// BenchmarkEndToEnd sends fresh deliveries as fast as 16 concurrent senders
// can, with River's workers (20) running a handler that writes one row in
// the job's transaction, and measures from the first send until every
// event's handler has run: events processed per second, and how long events
// waited between their 200 and their handler's start (p50, p99) while the
// queue was saturated.
func BenchmarkEndToEnd(b *testing.B) {
	for _, database := range []string{"postgres", "sqlite"} {
		b.Run(database, func(b *testing.B) {
			p := startProcessing(b, database)
			b.ReportAllocs()
			b.ResetTimer()
			p.sender.storm(b, p.times.ack)
			p.waitDone(b, int64(b.N))
			b.StopTimer()
			waits := p.times.waits()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(percentile(waits, 0.50).Microseconds())/1000, "p50-wait-ms")
			b.ReportMetric(float64(percentile(waits, 0.99).Microseconds())/1000, "p99-wait-ms")
		})
	}
}

// BenchmarkPickup measures the queue's own latency, without a backlog:
// one delivery at a time, each sent once the previous one's handler has
// started, and ns/op is how long an event waits from its 200 (as the
// sender sees it) to its handler's start (nothing when the handler started
// first). It also reports that wait's p50 and p99.
func BenchmarkPickup(b *testing.B) {
	for _, database := range []string{"postgres", "sqlite"} {
		b.Run(database, func(b *testing.B) {
			p := startProcessing(b, database)
			started := make(chan string, 1)
			p.times.mu.Lock()
			p.times.notify = started
			p.times.mu.Unlock()
			b.StopTimer()
			b.ResetTimer()
			for range b.N {
				id := p.sender.send(b)
				p.times.ack(id)
				b.StartTimer()
				select {
				case got := <-started:
					if got != id {
						b.Fatalf("handler started for %s, want %s", got, id)
					}
				case <-time.After(time.Minute):
					b.Fatalf("%s: no handler started within a minute", id)
				}
				b.StopTimer()
			}
			waits := p.times.waits()
			b.ReportMetric(float64(percentile(waits, 0.50).Microseconds())/1000, "p50-wait-ms")
			b.ReportMetric(float64(percentile(waits, 0.99).Microseconds())/1000, "p99-wait-ms")
		})
	}
}

// benchFlushers overrides Config.BatchFlushers for BenchmarkGroupCommit
// (0: the default), to choose the default by measurement.
var benchFlushers, _ = strconv.Atoi(os.Getenv("HOOKKIT_BENCH_FLUSHERS"))

// benchWait overrides Config.BatchWait likewise (HOOKKIT_BENCH_WAIT, a
// duration).
var benchWait, _ = time.ParseDuration(os.Getenv("HOOKKIT_BENCH_WAIT"))

// handArgs is the job a hand-written River webhook handler inserts.
type handArgs struct {
	Key  string `json:"key" river:"unique"`
	Body []byte `json:"body"`
}

func (handArgs) Kind() string { return "hand.webhook" }

// handWritten is the River webhook receiver the seeds write by hand:
// stripe-go verifies the body, and one unique Insert is committed before
// the 200.
func handWritten(b *testing.B, client interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read", http.StatusRequestEntityTooLarge)
			return
		}
		event, err := webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), secret,
			webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
		if err != nil {
			http.Error(w, "signature", http.StatusBadRequest)
			return
		}
		if _, err := client.Insert(r.Context(), handArgs{Key: "stripe:" + event.ID, Body: body},
			&river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// latencies collects how long each delivery waited for its answer.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) report(b *testing.B) {
	slices.Sort(l.d)
	b.ReportMetric(float64(percentile(l.d, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(l.d, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkGroupCommit compares acknowledgements per second and their
// latency, over loopback HTTP with 16 senders and with one, between the
// hand-written River receiver (stripe-go verification and one unique
// Insert per delivery) and hookkit's Endpoint on a Queue, whose
// acknowledgements share transactions (Config.BatchSize); on PostgreSQL
// and SQLite, in one run. On PostgreSQL it also reports write
// transactions (commits) per acknowledgement.
func BenchmarkGroupCommit(b *testing.B) {
	for _, database := range []string{"postgres", "sqlite"} {
		for _, path := range []string{"hand-written", "hookkit"} {
			for _, n := range []int{senders, 1} {
				b.Run(fmt.Sprintf("%s/%s/senders-%d", database, path, n), func(b *testing.B) {
					var h http.Handler
					var pool *pgxpool.Pool
					switch database {
					case "postgres":
						pool, _ = benchPostgres(b)
						q := postgresQueue(b, pool, riverqueue.Config{BatchFlushers: benchFlushers, BatchWait: benchWait})
						h = benchEndpoint(b, q, benchRouter(nil))
						if path == "hand-written" {
							h = handWritten(b, riverClient(b, riverpgxv5.New(pool)))
						}
					case "sqlite":
						db := benchSQLite(b)
						h = benchEndpoint(b, sqliteQueue(b, db, riverqueue.Config{}), benchRouter(nil))
						if path == "hand-written" {
							h = handWritten(b, riverClient(b, riversqlite.New(db)))
						}
					}
					s := newSender(b, h)
					s.send(b) // a first connection, outside the count
					lat := &latencies{}
					timed := func() {
						start := time.Now()
						s.send(b)
						lat.add(time.Since(start))
					}
					var before int64
					if pool != nil {
						before = xid(b, pool)
					}
					b.ResetTimer()
					if n == 1 {
						for b.Loop() {
							timed()
						}
					} else {
						b.SetParallelism((n + 1) / 2)
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								timed()
							}
						})
					}
					b.StopTimer()
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acks/s")
					lat.report(b)
					if pool != nil {
						b.ReportMetric(float64(xid(b, pool)-before-1)/float64(b.N), "commits/ack")
					}
				})
			}
		}
	}
}

// BenchmarkListDeadLetters lists 10,000 dead letters (discarded jobs) a
// page of 100 at a time, following the cursor: ns/op is one page.
func BenchmarkListDeadLetters(b *testing.B) {
	b.Run("postgres", func(b *testing.B) {
		pool, _ := benchPostgres(b)
		q := postgresQueue(b, pool, riverqueue.Config{})
		if _, err := pool.Exec(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state, attempt, attempted_at, finalized_at, errors)
SELECT jsonb_build_object('key', 'stripe:evt_' || i, 'source', 'stripe', 'id', 'evt_' || i, 'type', 'payment_intent.succeeded', 'body', ''),
	'hookkit.webhook', 8, 'hookkit_webhooks', 'discarded', 8, now(), now() - (10000 - i) * interval '1 millisecond',
	ARRAY[jsonb_build_object('at', now(), 'attempt', 8, 'error', 'no such booking', 'trace', '')]
FROM generate_series(1, 10000) i`); err != nil {
			b.Fatal(err)
		}
		benchList(b, q.DeadLetters())
	})
	b.Run("sqlite", func(b *testing.B) {
		db := benchSQLite(b)
		q := sqliteQueue(b, db, riverqueue.Config{})
		if _, err := db.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO river_job (args, kind, max_attempts, queue, state, attempt, attempted_at, finalized_at, errors, metadata)
SELECT jsonb(json_object('key', 'stripe:evt_' || i, 'source', 'stripe', 'id', 'evt_' || i, 'type', 'payment_intent.succeeded', 'body', '')),
	'hookkit.webhook', 8, 'hookkit_webhooks', 'discarded', 8, datetime('now', 'subsec'), strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (10000 - i) || ' seconds'),
	jsonb(json_array(json_object('at', datetime('now'), 'attempt', 8, 'error', 'no such booking', 'trace', ''))), jsonb('{}')
FROM n`); err != nil {
			b.Fatal(err)
		}
		benchList(b, q.DeadLetters())
	})
}

func benchList(b *testing.B, store dispatch.DeadLetterStore) {
	f := dispatch.DeadLetterFilter{Limit: 100}
	first, err := store.List(ctx, f)
	if err != nil || len(first.Letters) != 100 {
		b.Fatalf("first page: %d letters, %v", len(first.Letters), err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		page, err := store.List(ctx, f)
		if err != nil {
			b.Fatal(err)
		}
		f.After = page.Next
	}
}
