package hotpath_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
)

// server is what a server process serves: its handler, how many
// deliveries it has handled (handler runs, or jobs in the database), and
// what to close when it exits.
type server struct {
	handler http.Handler
	handled func() (int64, error)
	close   func()
	// databaseCPU, on PostgreSQL, is the CPU time its backends serving
	// this server have used (0 elsewhere: SQLite runs in the process).
	databaseCPU func() (time.Duration, error)
}

// The kinds of server a benchmark starts.
const (
	kindFloor    = "floor"         // read the body, pre-keyed HMAC check, 200
	kindTyped    = "typed"         // Endpoint, *stripe.PaymentIntent handler, memory store
	kindRaw      = "raw-event"     // Endpoint, raw-event handler, memory store
	kindStripeGo = "stripe-go"     // ConstructEvent, json.Unmarshal, a map for duplicates
	kindLean     = "lean-river"    // the lean hand-written group commit on River
	kindHookkit  = "hookkit-river" // Endpoint on a riverqueue.Queue
)

// maxBody is the body limit of the hand-written servers: hookkit's default.
const maxBody = verify.DefaultMaxBodyBytes

var sinkAmount atomic.Int64

func newServer(kind, database string) (*server, error) {
	var count atomic.Int64
	counted := func() (int64, error) { return count.Load(), nil }
	discard := dispatch.WithLogger(slog.New(slog.DiscardHandler)) // nothing is logged
	switch kind {
	case kindFloor:
		return &server{handler: newFloor(func() { count.Add(1) }), handled: counted, close: func() {}}, nil
	case kindTyped, kindRaw:
		v, err := verify.NewStripe(secret)
		if err != nil {
			return nil, err
		}
		r := dispatch.NewRouter()
		if kind == kindTyped {
			dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(_ context.Context, _ *events.Event, pi *stripe.PaymentIntent) error {
				sinkAmount.Store(pi.Amount)
				count.Add(1)
				return nil
			})
		} else {
			r.HandleFunc("payment_intent.succeeded", func(_ context.Context, e *events.Event) error {
				sinkAmount.Store(int64(len(e.Data)))
				count.Add(1)
				return nil
			})
		}
		ep, err := dispatch.NewEndpointSafely(v, stripeevent.NewParser(), r, discard)
		if err != nil {
			return nil, err
		}
		return &server{handler: ep, handled: counted, close: func() {}}, nil
	case kindStripeGo:
		return &server{handler: stripeGoHandler(func() { count.Add(1) }), handled: counted, close: func() {}}, nil
	case kindLean, kindHookkit:
		return newRiverServer(kind, database)
	}
	return nil, fmt.Errorf("no server of kind %q", kind)
}

// floor is the least a correct receiver does: read the body, check the
// Stripe-Signature's HMAC with a key set up once (hmac's Reset returns to
// the keyed state) and its timestamp, answer 200. It parses nothing and
// deduplicates nothing.
type floor struct {
	macs     sync.Pool
	verified func()
}

func newFloor(verified func()) *floor {
	f := &floor{verified: verified}
	f.macs.New = func() any { return hmac.New(sha256.New, []byte(secret)) }
	return f
}

func (f *floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		http.Error(w, "read", http.StatusRequestEntityTooLarge)
		return
	}
	if !f.check(r.Header.Get("Stripe-Signature"), body) {
		http.Error(w, "signature", http.StatusBadRequest)
		return
	}
	f.verified()
	w.WriteHeader(http.StatusOK)
}

// readBody reads a body within maxBody, in one allocation when its length
// is declared.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > maxBody {
		return nil, fmt.Errorf("body of %d bytes", r.ContentLength)
	}
	if r.ContentLength >= 0 {
		body := make([]byte, r.ContentLength)
		_, err := io.ReadFull(r.Body, body)
		return body, err
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
}

// check verifies header ("t=<unix>,v1=<hex>[,...]") over body: any v1 may
// match, the timestamp within 5 minutes either way.
func (f *floor) check(header string, body []byte) bool {
	var t string
	var sigs [4][sha256.Size]byte
	n := 0
	for field := range strings.SplitSeq(header, ",") {
		name, value, _ := strings.Cut(field, "=")
		switch name {
		case "t":
			t = value
		case "v1":
			if n < len(sigs) && len(value) == 2*sha256.Size {
				if _, err := hex.Decode(sigs[n][:], []byte(value)); err == nil {
					n++
				}
			}
		}
	}
	ts, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n == 0 {
		return false
	}
	if age := time.Since(time.Unix(ts, 0)); age > 5*time.Minute || age < -5*time.Minute {
		return false
	}
	mac := f.macs.Get().(hash.Hash)
	defer f.macs.Put(mac)
	mac.Reset()
	io.WriteString(mac, t)
	mac.Write([]byte{'.'})
	mac.Write(body)
	var sum [sha256.Size]byte
	mac.Sum(sum[:0])
	match := false
	for i := range n {
		match = hmac.Equal(sum[:], sigs[i][:]) || match // no early return on a match
	}
	return match
}

// stripeGoHandler is the handler users write by hand with stripe-go:
// ConstructEvent verifies and decodes the event, a map remembers the IDs
// seen, data.object is decoded into its type.
func stripeGoHandler(handled func()) http.Handler {
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
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
		mu.Lock()
		dup := seen[event.ID]
		seen[event.ID] = true
		mu.Unlock()
		if !dup && event.Type == "payment_intent.succeeded" {
			var pi stripe.PaymentIntent
			if err := json.Unmarshal(event.Data.Raw, &pi); err != nil {
				http.Error(w, "decode", http.StatusBadRequest)
				return
			}
			sinkAmount.Store(pi.Amount)
			handled()
		}
		w.WriteHeader(http.StatusOK)
	})
}

// newRiverServer is kindLean or kindHookkit on database: a PostgreSQL URL
// (its search_path a schema of the benchmark's own), or sqlite:<path>.
// Neither runs workers: what is measured is the acknowledgement, a job
// committed before the 200.
func newRiverServer(kind, database string) (*server, error) {
	discard := slog.New(slog.DiscardHandler)
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return nil })
	cfg := riverqueue.Config{Logger: discard}
	var (
		acceptor dispatch.Acceptor
		lean     http.Handler
		count    func() (int64, error)
		closers  []func()
		// databaseCPU stays nil on SQLite.
		databaseCPU func() (time.Duration, error)
	)
	if path, ok := strings.CutPrefix(database, "sqlite:"); ok {
		db, err := openSQLite(path)
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() { db.Close() })
		count = func() (int64, error) { return countJobs(db.QueryRowContext(ctx, `SELECT count(*) FROM river_job`)) }
		driver := riversqlite.New(db)
		if kind == kindHookkit {
			q, err := riverqueue.New(driver, sqltx.NewTransactor(db), r, cfg)
			if err == nil {
				err = q.Migrate(ctx)
			}
			if err != nil {
				return nil, err
			}
			acceptor = q
		} else {
			l, err := newLean(driver, leanFlushers())
			if err != nil {
				return nil, err
			}
			closers = append(closers, l.stop)
			lean = l
		}
	} else {
		pcfg, err := pgxpool.ParseConfig(database)
		if err != nil {
			return nil, err
		}
		pcfg.MaxConns = senders
		app := fmt.Sprintf("hookkit_hotpath_%d", os.Getpid())
		pcfg.ConnConfig.RuntimeParams["application_name"] = app
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return nil, err
		}
		closers = append(closers, pool.Close)
		count = func() (int64, error) { return countJobs(pool.QueryRow(ctx, `SELECT count(*) FROM river_job`)) }
		databaseCPU = func() (time.Duration, error) { return backendsCPU(pool, app) }
		driver := riverpgxv5.New(pool)
		if kind == kindHookkit {
			q, err := riverqueue.New(driver, pgxtx.NewTransactor(pool), r, cfg)
			if err == nil {
				err = q.Migrate(ctx)
			}
			if err != nil {
				return nil, err
			}
			acceptor = q
		} else {
			l, err := newLean(driver, leanFlushers())
			if err != nil {
				return nil, err
			}
			closers = append(closers, l.stop)
			lean = l
		}
	}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if lean != nil {
		return &server{handler: lean, handled: count, close: closeAll, databaseCPU: databaseCPU}, nil
	}
	v, err := verify.NewStripe(secret)
	if err != nil {
		return nil, err
	}
	ep, err := dispatch.NewEndpointSafely(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(acceptor), dispatch.WithLogger(discard))
	if err != nil {
		return nil, err
	}
	return &server{handler: ep, handled: count, close: closeAll, databaseCPU: databaseCPU}, nil
}

// backendsCPU sums the CPU time (user + system) of the PostgreSQL backends
// whose application_name is app, as Linux accounts it in /proc/<pid>/stat
// (the database runs on this machine in the benchmarks).
func backendsCPU(pool *pgxpool.Pool, app string) (time.Duration, error) {
	rows, err := pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		return 0, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, err
	}
	const ticksPerSecond = 100 // Linux's USER_HZ
	var ticks int64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // a backend that has exited since
		}
		// The fields after the command's closing parenthesis: state is
		// the first (field 3), utime and stime fields 14 and 15.
		i := bytes.LastIndexByte(stat, ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 13 {
			return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
		}
		for _, f := range fields[11:13] {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
			}
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / ticksPerSecond, nil
}

// leanFlushers is how many batches the lean receiver writes at once: 2,
// as the ceiling was measured (on SQLite too, whose one writer
// makes the second wait: HOOKKIT_HOTPATH_LEAN_FLUSHERS=1 makes that lean
// receiver faster), or HOOKKIT_HOTPATH_LEAN_FLUSHERS.
func leanFlushers() int {
	if n, err := strconv.Atoi(os.Getenv("HOOKKIT_HOTPATH_LEAN_FLUSHERS")); err == nil && n > 0 {
		return n
	}
	return 2
}

// openSQLite opens path as dispatch/riverqueue's tests do: WAL, immediate
// transactions, a busy timeout, four connections.
func openSQLite(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	return db, nil
}

func countJobs(row interface{ Scan(...any) error }) (int64, error) {
	var n int64
	err := row.Scan(&n)
	return n, err
}

// jsonID finds the first "id" member of a JSON object by a byte scan, as
// the lean receiver does: Stripe writes the event's own id first.
func jsonID(body []byte) (string, bool) {
	_, rest, ok := bytes.Cut(body, []byte(`"id"`))
	if !ok {
		return "", false
	}
	rest = bytes.TrimLeft(rest, " \t\r\n")
	rest, ok = bytes.CutPrefix(rest, []byte(":"))
	if !ok {
		return "", false
	}
	rest = bytes.TrimLeft(rest, " \t\r\n")
	rest, ok = bytes.CutPrefix(rest, []byte(`"`))
	if !ok {
		return "", false
	}
	id, _, ok := bytes.Cut(rest, []byte(`"`))
	if !ok || len(id) == 0 || bytes.IndexByte(id, '\\') >= 0 {
		return "", false
	}
	return string(id), true
}
