package drivertest_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/deadlettertest"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
)

// A delivery is acknowledged once its job is inserted; a worker runs its
// handler, whose effect commits with the job's completion; a duplicate is
// answered 200 without a second job, whatever state the first is in.
func TestAcknowledgeThenProcess(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error { return b.effect(ctx, e.ID) })
			q := b.newQueue(t, r, riverqueue.Config{})
			ep := endpoint(t, q, r)

			if got := deliver(ep, body("evt_queued")); got != 200 {
				t.Fatalf("acknowledged before any worker runs: got %d, want 200", got)
			}
			if got := deliver(ep, body("evt_queued")); got != 200 {
				t.Fatalf("a duplicate of a queued event: got %d, want 200", got)
			}
			if got := b.jobs(t); got != 1 {
				t.Errorf("one job: got %d, want 1", got)
			}
			if got := b.effects(t, "evt_queued"); got != 0 {
				t.Errorf("no worker yet: got %d, want 0", got)
			}

			start(t, q)
			eventually(t, "the worker ran it", func() bool { return b.effects(t, "evt_queued") == 1 })
			if got := deliver(ep, body("evt_queued")); got != 200 {
				t.Fatalf("a duplicate of a completed event: got %d, want 200", got)
			}
			if got := b.jobs(t); got != 1 {
				t.Errorf("jobs: got %d, want 1", got)
			}
			settle(t, q) // a second run of the completed job would have shown
			if got := b.effects(t, "evt_queued"); got != 1 {
				t.Errorf("effects of evt_queued: got %d, want 1", got)
			}
		})
	}
}

// A handler that fails twice then succeeds: one 200 to the sender, three
// attempts, one effect.
func TestFailTwiceThenSucceed(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var mu sync.Mutex
			var attempts []int
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
				mu.Lock()
				attempts = append(attempts, dispatch.Attempt(ctx))
				n := len(attempts)
				mu.Unlock()
				if err := b.effect(ctx, e.ID); err != nil {
					return err
				}
				if n <= 2 {
					return errors.New("SMS gateway timeout") // its effect is rolled back
				}
				return nil
			})
			q := b.newQueue(t, r, riverqueue.Config{Retry: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}})
			ep := endpoint(t, q, r)
			start(t, q)
			if got := deliver(ep, body("evt_flaky")); got != 200 {
				t.Fatalf("delivering evt_flaky: got %d, want 200", got)
			}
			eventually(t, "the third attempt", func() bool { return b.effects(t, "evt_flaky") == 1 })
			settle(t, q) // a fourth attempt would have shown
			mu.Lock()
			defer mu.Unlock()
			if want := []int{1, 2, 3}; !slices.Equal(attempts, want) {
				t.Errorf("attempts: got %v, want %v", attempts, want)
			}
			if got := b.effects(t, "evt_flaky"); got != 1 {
				t.Errorf("one effect: the failed attempts' writes were rolled back: got %d, want 1", got)
			}
		})
	}
}

// A handler that always fails ends discarded, a dead letter; once fixed,
// the dead letter is retried to success. A permanent failure is a dead
// letter at once.
func TestDeadLettersAndRetry(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var fixed atomic.Bool
			var runs atomic.Int32
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
				runs.Add(1)
				switch {
				case e.ID == "evt_permanent":
					return dispatch.Permanent(errors.New("booking 12345 was deleted"))
				case !fixed.Load():
					return errors.New("no reminder template")
				}
				return b.effect(ctx, e.ID)
			})
			q := b.newQueue(t, r, riverqueue.Config{Retry: []time.Duration{20 * time.Millisecond, 20 * time.Millisecond}})
			ep := endpoint(t, q, r)
			start(t, q)
			if got := deliver(ep, body("evt_broken")); got != 200 {
				t.Fatalf("delivering evt_broken: got %d, want 200", got)
			}
			if got := deliver(ep, body("evt_permanent")); got != 200 {
				t.Fatalf("delivering evt_permanent: got %d, want 200", got)
			}
			eventually(t, "both dead-lettered", func() bool { return len(b.deadLetters(t, q)) == 2 })

			letters := map[string]dispatch.DeadLetter{}
			for _, dl := range b.deadLetters(t, q) {
				letters[dl.Event.ID] = dl
			}
			if !strings.Contains(letters["evt_broken"].Ref, "(discarded)") {
				t.Errorf("evt_broken's letter Ref: got %q, want it to contain %q", letters["evt_broken"].Ref, "(discarded)")
			}
			if letters["evt_broken"].Attempts != 3 {
				t.Errorf("every attempt of the schedule: got %d, want 3", letters["evt_broken"].Attempts)
			}
			if got := letters["evt_broken"].Err.Error(); !strings.Contains(got, "no reminder template") {
				t.Errorf("evt_broken's letter error: got %q, want it to contain %q", got, "no reminder template")
			}
			if !strings.Contains(letters["evt_permanent"].Ref, "(cancelled)") {
				t.Errorf("evt_permanent's letter Ref: got %q, want it to contain %q", letters["evt_permanent"].Ref, "(cancelled)")
			}
			if letters["evt_permanent"].Attempts != 1 {
				t.Errorf("a permanent failure is not retried: got %d, want 1", letters["evt_permanent"].Attempts)
			}
			if letters["evt_broken"].Event.Type != "payment_intent.succeeded" {
				t.Errorf("evt_broken's letter type: got %q, want %q", letters["evt_broken"].Event.Type, "payment_intent.succeeded")
			}
			jsonEqual(t, "the payload a retry decodes", string(letters["evt_broken"].Event.Data), `{"id":"pi_1","amount":5000}`)
			if got := deliver(ep, body("evt_broken")); got != 200 {
				t.Fatalf("a duplicate of a dead letter: got %d, want 200", got)
			}
			if got := b.jobs(t); got != 2 {
				t.Errorf("no second job: got %d, want 2", got)
			}

			fixed.Store(true)
			if err := b.retry(t, q, "stripe:evt_broken"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the retried dead letter ran", func() bool { return b.effects(t, "evt_broken") == 1 })
			eventually(t, "it is no longer a dead letter", func() bool { return len(b.deadLetters(t, q)) == 1 })
			if err := b.retry(t, q, "stripe:evt_unknown"); !errors.Is(err, dispatch.ErrNotDeadLettered) {
				t.Fatalf("retrying an unknown key: got %v, want %v", err, dispatch.ErrNotDeadLettered)
			}
		})
	}
}

// Two replicas sharing one PostgreSQL: 16 copies of each of 200 events
// spread over both, one job and one effect each.
func TestTwoReplicasOnePostgres(t *testing.T) {
	b := postgresBackend(t)
	handle := func(ctx context.Context, e *events.Event) error { return b.effect(ctx, e.ID) }
	ra, rb := dispatch.NewRouter(), dispatch.NewRouter()
	ra.HandleFunc("payment_intent.succeeded", handle)
	rb.HandleFunc("payment_intent.succeeded", handle)
	qa, qb := b.newQueue(t, ra, riverqueue.Config{}), b.newQueue(t, rb, riverqueue.Config{})
	epa, epb := endpoint(t, qa, ra), endpoint(t, qb, rb)
	start(t, qa)
	start(t, qb)

	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
		gate   = make(chan struct{})
	)
	for i := range 200 {
		bd := body(fmt.Sprintf("evt_replica_%03d", i))
		for c := range 16 {
			ep := epa
			if c%2 == 1 {
				ep = epb
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				code := deliver(ep, bd)
				mu.Lock()
				counts[code]++
				mu.Unlock()
			}()
		}
	}
	close(gate)
	wg.Wait()
	if want := (map[int]int{200: 3200}); !reflect.DeepEqual(counts, want) {
		t.Errorf("counts: got %v, want %v", counts, want)
	}
	if got := b.jobs(t); got != 200 {
		t.Errorf("one job per event: got %d, want 200", got)
	}
	eventually(t, "every event processed", func() bool {
		for i := range 200 {
			if b.effects(t, fmt.Sprintf("evt_replica_%03d", i)) != 1 {
				return false
			}
		}
		return true
	})
}

// Stop lets running handlers finish within its deadline, leaves what is
// queued for the next start, and leaves no goroutine behind.
func TestShutdown(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			started := make(chan struct{}, 10)
			release := make(chan struct{})
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
				started <- struct{}{}
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
				return b.effect(ctx, e.ID)
			})
			q := b.newQueue(t, r, riverqueue.Config{MaxWorkers: 1})
			ep := endpoint(t, q, r)
			for i := range 3 {
				if got := deliver(ep, body(fmt.Sprintf("evt_shutdown_%d", i))); got != 200 {
					t.Fatalf("delivering evt_shutdown_%d: got %d, want 200", i, got)
				}
			}
			// The host starts the workers with its signal context, and the
			// signal cancels it before Stop: that alone cancels no handler.
			signalCtx, signal := context.WithCancel(ctx)
			if err := q.Start(signalCtx); err != nil {
				t.Fatal(err)
			}
			<-started // one running, two queued
			signal()
			stopped := make(chan error, 1)
			stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			waiting := &doneWatch{Context: stopCtx, asked: make(chan struct{})}
			go func() { stopped <- q.Stop(waiting) }()
			select {
			case <-waiting.asked:
			case err := <-stopped:
				t.Fatalf("Stop returned (%v) while a handler ran", err)
			}
			close(release) // the running handler finishes within Stop's deadline
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
			done := 0
			for i := range 3 {
				done += b.effects(t, fmt.Sprintf("evt_shutdown_%d", i))
			}
			if done != 1 {
				t.Errorf("the running one finished; the queued ones wait in the database: got %d, want 1", done)
			}
			if got := b.jobs(t); got != 3 {
				t.Errorf("jobs: got %d, want 3", got)
			}

			eventually(t, "no goroutine left behind", func() bool { return runtime.NumGoroutine() <= before+2 })

			next := b.newQueue(t, r, riverqueue.Config{}) // the next start
			start(t, next)
			eventually(t, "the next start runs what was queued", func() bool {
				n := 0
				for i := range 3 {
					n += b.effects(t, fmt.Sprintf("evt_shutdown_%d", i))
				}
				return n == 3
			})
		})
	}
}

// doneWatch is a context that closes asked when its Done is first called:
// River's Client.Stop calls it once it has told its producers to stop
// fetching, as it starts waiting for the jobs running (riverqueue's Stop
// hands it the context after refusing acknowledgements and ending the
// sweep, which use none).
type doneWatch struct {
	context.Context
	once  sync.Once
	asked chan struct{}
}

func (c *doneWatch) Done() <-chan struct{} {
	c.once.Do(func() { close(c.asked) })
	return c.Context.Done()
}

// The request's trace context travels in the job's metadata and is the
// remote parent of the worker's context.
func TestTraceContextCrossesTheQueue(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seen := make(chan trace.SpanContext, 1)
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
				seen <- trace.SpanContextFromContext(ctx)
				return nil
			})
			q := b.newQueue(t, r, riverqueue.Config{})
			ep := endpoint(t, q, r)
			start(t, q)

			delivery := trace.NewSpanContext(trace.SpanContextConfig{
				TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
				SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
				TraceFlags: trace.FlagsSampled,
			})
			req := request(body("evt_traced"))
			req = req.WithContext(trace.ContextWithSpanContext(req.Context(), delivery))
			rec := httptest.NewRecorder()
			ep.ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("rec.Code: got %d, want 200", rec.Code)
			}
			select {
			case got := <-seen:
				if !got.IsRemote() {
					t.Errorf("the worker's parent is the delivery's span, across the queue")
				}
				if got, want := got.TraceID(), delivery.TraceID(); got != want {
					t.Errorf("the worker's trace ID: got %v, want %v", got, want)
				}
				if got, want := got.SpanID(), delivery.SpanID(); got != want {
					t.Errorf("the worker's parent span ID: got %v, want %v", got, want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the worker never ran")
			}
		})
	}
}

// The host can enqueue in its own transaction: the job exists if and only
// if the transaction commits.
func TestEnqueueInTheHostsTransaction(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			q := b.newQueue(t, dispatch.NewRouter(), riverqueue.Config{})
			e := &events.Event{Source: "stripe", ID: "evt_host", Type: "payment_intent.succeeded", Body: []byte(`{}`)}
			if !b.insertInTx(t, q, e, false) {
				t.Errorf("inserted, then rolled back")
			}
			if got := b.jobs(t); got != 0 {
				t.Errorf("jobs: got %d, want 0", got)
			}
			if !b.insertInTx(t, q, e, true) {
				t.Errorf("inserted in a committed transaction: got false, want true")
			}
			if got := b.jobs(t); got != 1 {
				t.Errorf("jobs: got %d, want 1", got)
			}
			if b.insertInTx(t, q, e, true) {
				t.Errorf("a duplicate")
			}
			if got := b.jobs(t); got != 1 {
				t.Errorf("jobs: got %d, want 1", got)
			}
		})
	}
}

func TestConfigIsValidated(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), dispatch.NewRouter(), riverqueue.Config{})
	if err != nil {
		t.Fatalf("the zero Config is valid: %v", err)
	}
	for name, cfg := range map[string]riverqueue.Config{
		"bad queue name":          {Queue: "Has Spaces"},
		"negative workers":        {MaxWorkers: -1},
		"rescue before timeout":   {Timeout: time.Minute, RescueAfter: time.Second},
		"a delay that is not one": {Retry: []time.Duration{time.Second, 0}},
		"jitter over 1":           {Jitter: 2},
		"cooldown under 1ms":      {FetchCooldown: time.Microsecond},
	} {
		_, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), dispatch.NewRouter(), cfg)
		if !errors.Is(err, dispatch.ErrInvalidConfig) {
			t.Fatalf("%v: got %v, want %v", name, err, dispatch.ErrInvalidConfig)
		}
	}
	_, err = riverqueue.New(riversqlite.New(db), nil, dispatch.NewRouter(), riverqueue.Config{})
	if !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Fatalf("no transactor: got %v, want %v", err, dispatch.ErrInvalidConfig)
	}
}

// An insert that fails is answered 503 with Retry-After: the sender keeps
// the event and retries it, and once the database is back the retry is
// queued.
func TestInsertFailureIsUnavailable(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "river.db"))
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return nil })
	q, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, fast(riverqueue.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ep := endpoint(t, q, r)

	_, err = db.Exec(`ALTER TABLE river_job RENAME TO river_job_away`) // the job table is unreachable
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	ep.ServeHTTP(rec, request(body("evt_insert_fails")))
	if rec.Code != 503 {
		t.Errorf("rec.Code: got %d, want 503", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got == "" {
		t.Errorf("a 503 without Retry-After")
	}
	jsonEqual(t, "no internal error reaches the sender", rec.Body.String(), `{"error":"temporarily unavailable"}`)

	_, err = db.Exec(`ALTER TABLE river_job_away RENAME TO river_job`)
	if err != nil {
		t.Fatal(err)
	}
	if got := deliver(ep, body("evt_insert_fails")); got != 200 {
		t.Fatalf("the sender's retry is queued: got %d, want 200", got)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("n: got %d, want 1", n)
	}
}

// Stats counts the queue's jobs by what they wait for, and its dead
// letters.
func TestStats(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
				if e.ID == "evt_stats_bad" {
					return dispatch.Permanent(errors.New("refused"))
				}
				return b.effect(ctx, e.ID)
			})
			q := b.newQueue(t, r, riverqueue.Config{})
			stats := q.(interface {
				Stats(context.Context) (dispatch.QueueStats, error)
			})
			ep := endpoint(t, q, r)
			for _, id := range []string{"evt_stats_1", "evt_stats_2", "evt_stats_bad"} {
				if got := deliver(ep, body(id)); got != 200 {
					t.Fatalf("delivering %s: got %d, want 200", id, got)
				}
			}
			s, err := stats.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := (dispatch.QueueStats{Queue: true, Queued: 3}); s != want {
				t.Errorf("no worker yet: got %v, want %v", s, want)
			}

			start(t, q)
			eventually(t, "all ran", func() bool {
				s, err = stats.Stats(ctx)
				return err == nil && s.Queued == 0 && s.Running == 0
			})
			if want := (dispatch.QueueStats{Queue: true, DeadLetters: 1}); s != want {
				t.Errorf("the completed two are not counted; the cancelled one is a dead letter: got %v, want %v", s, want)
			}
		})
	}
}

// A job's arguments (shown in River's UI) keep only the headers a worker
// needs: no signature under any name, no credential, no header flood.
func TestJobArgsKeepNoSignatureHeaders(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
				return dispatch.Permanent(errors.New("no such booking"))
			})
			q := b.newQueue(t, r, riverqueue.Config{})
			ep := endpoint(t, q, r)
			header := http.Header{
				"X-Shopify-Hmac-Sha256": {"c2lnbmF0dXJl"},
				"X-Webhook-Hmac":        {"ab12"},
				"X-Auth":                {"secret-token"},
				"X-Client-Cert":         {"-----BEGIN CERTIFICATE-----"},
			}
			for i := range 100 {
				header[fmt.Sprintf("X-Flood-%d", i)] = []string{strings.Repeat("f", 500)}
			}
			if got := deliverWith(ep, body("evt_headers"), header); got != 200 {
				t.Fatalf("delivering evt_headers: got %d, want 200", got)
			}
			args := b.args(t)
			if len(args) != 1 {
				t.Fatalf("args: got %d items, want %d: %v", len(args), 1, args)
			}
			for _, secret := range []string{"c2lnbmF0dXJl", "ab12", "secret-token", "CERTIFICATE", "Stripe-Signature", "X-Flood"} {
				if strings.Contains(args[0], secret) {
					t.Errorf("args[0]: got %q, want it not to contain %q", args[0], secret)
				}
			}
			var stored struct{ Header http.Header }
			if err := json.Unmarshal([]byte(args[0]), &stored); err != nil {
				t.Fatal(err)
			}
			if want := (http.Header{"Content-Type": {"application/json"}}); !reflect.DeepEqual(stored.Header, want) {
				t.Errorf("stored.Header: got %v, want %v", stored.Header, want)
			}
		})
	}
}

// A discarded dead letter stays a tombstone: the same event delivered
// again (a replayed Twilio callback, whose signature never expires) is a
// duplicate, not a new job; and the tombstone keeps no body. Before, the
// discard deleted the job and with it the unique key.
func TestDiscardedEventIsStillADuplicate(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var runs atomic.Int32
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
				runs.Add(1)
				return dispatch.Permanent(errors.New("booking 12345 was deleted"))
			})
			q := b.newQueue(t, r, riverqueue.Config{})
			ep := endpoint(t, q, r)
			start(t, q)
			if got := deliver(ep, body("evt_discarded")); got != 200 {
				t.Fatalf("delivering evt_discarded: got %d, want 200", got)
			}
			eventually(t, "dead-lettered", func() bool { return len(b.deadLetters(t, q)) == 1 })
			if err := b.discard(t, q, "stripe:evt_discarded"); err != nil {
				t.Fatal(err)
			}
			if got := b.deadLetters(t, q); len(got) != 0 {
				t.Errorf("no longer listed: got %v, want empty", got)
			}
			if err := b.discard(t, q, "stripe:evt_discarded"); !errors.Is(err, dispatch.ErrNotDeadLettered) {
				t.Fatalf("discarding it again: got %v, want %v", err, dispatch.ErrNotDeadLettered)
			}
			if err := b.retry(t, q, "stripe:evt_discarded"); !errors.Is(err, dispatch.ErrNotDeadLettered) {
				t.Fatalf("a tombstone is not retried: got %v, want %v", err, dispatch.ErrNotDeadLettered)
			}

			if got := deliver(ep, body("evt_discarded")); got != 200 {
				t.Fatalf("delivered again: got %d, want 200", got)
			}
			if got := b.jobs(t); got != 1 {
				t.Errorf("a duplicate: no second job: got %d, want 1", got)
			}
			args := b.args(t)
			if len(args) != 1 {
				t.Fatalf("args: got %d items, want %d: %v", len(args), 1, args)
			}
			var stored struct {
				Key    string
				Body   []byte
				Header http.Header
			}
			if err := json.Unmarshal([]byte(args[0]), &stored); err != nil {
				t.Fatal(err)
			}
			if stored.Key != "stripe:evt_discarded" {
				t.Errorf("stored.Key: got %q, want %q", stored.Key, "stripe:evt_discarded")
			}
			if len(stored.Body) != 0 {
				t.Errorf("the tombstone keeps no body: got %q, want empty", stored.Body)
			}
			if len(stored.Header) != 0 {
				t.Errorf("stored.Header: got %v, want empty", stored.Header)
			}
			settle(t, q) // a job queued by mistake has run by now
			if got := runs.Load(); got != 1 {
				t.Errorf("handler runs: got %d, want 1", got)
			}
		})
	}
}

// Retry and Discard of one letter at once: exactly one of them wins, and
// the effect follows the winner (before, 12 of 40 letters got success from
// both, and never ran).
func TestRetryRacingDiscard(t *testing.T) {
	const letters = 20
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var fixed atomic.Bool
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
				if !fixed.Load() {
					return dispatch.Permanent(errors.New("no such booking"))
				}
				return b.effect(ctx, e.ID)
			})
			q := b.newQueue(t, r, riverqueue.Config{})
			ep := endpoint(t, q, r)
			start(t, q)
			for i := range letters {
				if got := deliver(ep, body(fmt.Sprintf("evt_race_%02d", i))); got != 200 {
					t.Fatalf("delivering evt_race_%02d: got %d, want 200", i, got)
				}
			}
			eventually(t, "all dead-lettered", func() bool { return len(b.deadLetters(t, q)) == letters })
			fixed.Store(true)

			retried := map[string]bool{}
			for i := range letters {
				id := fmt.Sprintf("evt_race_%02d", i)
				var retryErr, discardErr error
				var wg sync.WaitGroup
				wg.Add(2)
				go func() { defer wg.Done(); retryErr = b.retry(t, q, "stripe:"+id) }()
				go func() { defer wg.Done(); discardErr = b.discard(t, q, "stripe:"+id) }()
				wg.Wait()
				switch {
				case retryErr == nil && errors.Is(discardErr, dispatch.ErrNotDeadLettered):
					retried[id] = true
				case discardErr == nil && errors.Is(retryErr, dispatch.ErrNotDeadLettered):
				default:
					t.Errorf("%s: retry %v, discard %v: want exactly one to succeed", id, retryErr, discardErr)
				}
			}
			for i := range letters {
				id := fmt.Sprintf("evt_race_%02d", i)
				if retried[id] {
					eventually(t, id+" ran after its retry", func() bool { return b.effects(t, id) == 1 })
				}
			}
			settle(t, q) // a discarded letter queued by mistake has run by now
			for i := range letters {
				id := fmt.Sprintf("evt_race_%02d", i)
				want := 0
				if retried[id] {
					want = 1
				}
				if got := b.effects(t, id); got != want {
					t.Errorf("%v: got %d, want %d", id, got, want)
				}
			}
			if got := b.deadLetters(t, q); len(got) != 0 {
				t.Errorf("dead letters: got %v, want none", got)
			}
		})
	}
}

// A queue configured with no retries (an empty Retry) still handles a
// failing job queued earlier with attempts left: it is retried on the
// default schedule's first delay, where NextRetry used to index
// schedule[-1] and panic.
func TestEmptyRetryScheduleAndEarlierJobs(t *testing.T) {
	b := sqliteBackend(t)
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return errors.New("SMS gateway down") })
	before := b.newQueue(t, r, riverqueue.Config{Retry: []time.Duration{time.Hour, time.Hour}}) // three attempts
	if got := deliver(endpoint(t, before, r), body("evt_earlier")); got != 200 {
		t.Fatalf("delivering evt_earlier: got %d, want 200", got)
	}

	now := b.newQueue(t, r, riverqueue.Config{Retry: []time.Duration{}})
	start(t, now)
	eventually(t, "the failed attempt is scheduled for another", func() bool {
		var state string
		var attempt int
		if err := b.db.QueryRow(`SELECT state, attempt FROM river_job WHERE kind = ?`, riverqueue.Kind).Scan(&state, &attempt); err != nil {
			t.Fatal(err)
		}
		// retryable until its time comes, then available again: either
		// way NextRetry answered (before, the worker panicked).
		return attempt >= 1 && (state == "retryable" || state == "available" || state == "scheduled")
	})
}

// Replicas that start together all migrate at once, on a fresh database:
// every Migrate succeeds. Before, River's migrator failed on PostgreSQL for
// all but one ("duplicate key value violates unique constraint
// pg_type_typname_nsp_index").
func TestConcurrentMigrations(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			const replicas = 4
			queues := make([]queue, replicas)
			for i := range queues {
				queues[i] = b.newQueueUnmigrated(t, dispatch.NewRouter(), riverqueue.Config{})
			}
			errs := make(chan error, replicas)
			startLine := make(chan struct{})
			for _, q := range queues {
				go func() {
					<-startLine
					errs <- q.Migrate(ctx)
				}()
			}
			close(startLine)
			for range replicas {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			if err := queues[0].Migrate(ctx); err != nil {
				t.Fatalf("and again, with nothing left to do: %v", err)
			}
		})
	}
}

func TestDeadLettersConformance(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			deadlettertest.Run(t, func(t *testing.T, r *dispatch.Router) deadlettertest.Harness {
				b := sqliteBackend(t)
				if name == "postgres" {
					b = postgresBackend(t)
				}
				q := b.newQueue(t, r, riverqueue.Config{Retry: []time.Duration{5 * time.Millisecond}})
				start(t, q)
				var store dispatch.DeadLetterStore
				var stats func(context.Context) (dispatch.QueueStats, error)
				switch q := q.(type) {
				case *riverqueue.Queue[*riversqlite.Driver, *sql.Tx]:
					store, stats = q.DeadLetters(), q.Stats
				case *riverqueue.Queue[*riverpgxv5.Driver, pgx.Tx]:
					store, stats = q.DeadLetters(), q.Stats
				}
				return deadlettertest.Harness{Store: store, Options: []dispatch.Option{dispatch.WithAcceptor(q)}, Async: true, Stats: stats}
			})
		})
	}
}

// recordingArchive keeps every delivery's outcome, by event ID.
type recordingArchive struct {
	mu       sync.Mutex
	outcomes map[string][]dispatch.Outcome
}

func (a *recordingArchive) Archive(_ context.Context, d *dispatch.Delivery) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.outcomes[d.EventID] = append(a.outcomes[d.EventID], d.Outcome)
}

// Group commit on the real databases: concurrent deliveries (eight copies
// of each of five events, batched by a 20 ms wait) are one job per event,
// one of each event's deliveries answered queued and the others duplicate,
// and a second round is all duplicates, across batches.
func TestGroupCommitDuplicates(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			r := benchRouter(nil)
			q := b.newQueue(t, r, riverqueue.Config{BatchWait: 20 * time.Millisecond})
			arch := &recordingArchive{outcomes: map[string][]dispatch.Outcome{}}
			v, err := verify.NewStripe(secret)
			if err != nil {
				t.Fatal(err)
			}
			ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(q), dispatch.WithArchive(arch),
				dispatch.WithLogger(slog.New(slog.DiscardHandler)))
			t.Cleanup(func() { ep.Shutdown(context.Background()) })
			round := func() map[int]int {
				codes := map[int]int{}
				var mu sync.Mutex
				var wg sync.WaitGroup
				for i := range 5 {
					b := body(fmt.Sprintf("evt_group_%d", i))
					for range 8 {
						wg.Go(func() {
							code := deliver(ep, b)
							mu.Lock()
							codes[code]++
							mu.Unlock()
						})
					}
				}
				wg.Wait()
				return codes
			}
			if got, want := round(), (map[int]int{200: 40}); !reflect.DeepEqual(got, want) {
				t.Errorf("answers of the second round: got %v, want %v", got, want)
			}
			if got := b.jobs(t); got != 5 {
				t.Errorf("one job per event: got %d, want 5", got)
			}
			for i := range 5 {
				counts := map[dispatch.Outcome]int{}
				for _, o := range arch.outcomes[fmt.Sprintf("evt_group_%d", i)] {
					counts[o]++
				}
				if want := (map[dispatch.Outcome]int{dispatch.OutcomeQueued: 1, dispatch.OutcomeDuplicate: 7}); !reflect.DeepEqual(counts, want) {
					t.Errorf("counts: got %v, want %v", counts, want)
				}
			}
			if got, want := round(), (map[int]int{200: 40}); !reflect.DeepEqual(got, want) {
				t.Errorf("again, in other batches: got %v, want %v", got, want)
			}
			if got := b.jobs(t); got != 5 {
				t.Errorf("jobs: got %d, want 5", got)
			}
		})
	}
}

// A batch whose transaction fails is 503 for every delivery in it, none
// 200; the senders' retries succeed once the database is back.
func TestGroupCommitFailure(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "river.db"))
	r := benchRouter(nil)
	q, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, fast(riverqueue.Config{BatchWait: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ep := endpoint(t, q, r)
	_, err = db.Exec(`ALTER TABLE river_job RENAME TO river_job_away`)
	if err != nil {
		t.Fatal(err)
	}
	var codes sync.Map
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { codes.Store(i, deliver(ep, body(fmt.Sprintf("evt_fail_%d", i)))) })
	}
	wg.Wait()
	codes.Range(func(_, code any) bool {
		if code != 503 {
			t.Errorf("code: got %v, want %v", code, 503)
		}
		return true
	})
	_, err = db.Exec(`ALTER TABLE river_job_away RENAME TO river_job`)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if got := deliver(ep, body(fmt.Sprintf("evt_fail_%d", i))); got != 200 {
			t.Errorf("the retry: got %d, want 200", got)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Errorf("n: got %d, want 10", n)
	}
}

// A handler far slower than the sweep on a live worker, with another
// replica sweeping the same database (every 50 ms, a 200 ms grace, a 300 ms
// liveness timeout), is never taken from it: one effect, one attempt, no
// error recorded. On PostgreSQL the handler holds its job through ten
// sweeps of each replica, counted through their Transactors; on SQLite,
// whose one writer the handler's transaction is, the sweeps wait for it:
// the handler holds past the grace and the liveness timeout, and the
// sweeps that follow find the job done.
func TestSlowHandlerIsNeverRescued(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var runs atomic.Int32
			held := make(chan struct{}, 1)
			release := make(chan struct{})
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
				runs.Add(1)
				if err := b.effect(ctx, e.ID); err != nil {
					return err
				}
				select {
				case held <- struct{}{}:
				default:
				}
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			cfg := riverqueue.Config{SweepInterval: 50 * time.Millisecond, SweepGrace: 200 * time.Millisecond, LivenessTimeout: 300 * time.Millisecond}
			var qTxs, otherTxs txCounts
			q, other := b.newObservedQueue(t, r, cfg, &qTxs), b.newObservedQueue(t, r, cfg, &otherTxs)
			start(t, q)
			start(t, other) // a second replica, sweeping too (on SQLite, started before the handler holds the one writer)
			if got := deliver(endpoint(t, q, r), body("evt_slow")); got != 200 {
				t.Fatalf("delivering evt_slow: got %d, want 200", got)
			}
			select {
			case <-held:
			case <-time.After(20 * time.Second):
				t.Fatal("the handler never started")
			}
			heldAt, qFrom, otherFrom := time.Now(), qTxs.ends.Load(), otherTxs.ends.Load()
			if b.db == nil {
				// The transaction of the attempt that holds the job ends
				// only once released: every end counted meanwhile is a
				// sweep's.
				eventually(t, "ten sweeps of each replica while the handler holds its job", func() bool {
					return qTxs.ends.Load()-qFrom >= 10 && otherTxs.ends.Load()-otherFrom >= 10
				})
			} else {
				// The sweeps wait for the handler's transaction (before
				// their own begins): the handler is slow for longer than
				// any bound a sweep applies.
				eventually(t, "the handler held past the grace and the liveness timeout", func() bool {
					return time.Since(heldAt) > cfg.SweepGrace+cfg.LivenessTimeout+2*cfg.SweepInterval
				})
			}
			close(release)
			eventually(t, "the effect", func() bool { return b.effects(t, "evt_slow") == 1 })
			qDone, otherDone := qTxs.ends.Load(), otherTxs.ends.Load()
			eventually(t, "two more sweeps of each replica", func() bool {
				return qTxs.ends.Load()-qDone >= 2 && otherTxs.ends.Load()-otherDone >= 2
			})
			settle(t, q) // a job taken from its worker would have run again by now
			if got := runs.Load(); got != 1 {
				t.Errorf("attempts: got %d, want 1", got)
			}
			if got := b.effects(t, "evt_slow"); got != 1 {
				t.Errorf("effects: got %d, want 1", got)
			}
			if got := b.deadLetters(t, q); len(got) != 0 {
				t.Errorf("dead letters: got %v, want none", got)
			}
		})
	}
}

// A sweep's cost: one query per interval per process. On 100,000
// completed jobs (and none running), one sweep of an idle queue: ns/op is
// a sweep's transaction, begun to ended, timed through the queue's
// Transactor while its sweeper runs every 10 ms.
func BenchmarkSweepOnACompletedTable(b *testing.B) {
	pool, _ := benchPostgres(b)
	postgresQueue(b, pool, riverqueue.Config{}) // River's tables
	if _, err := pool.Exec(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state, attempt, attempted_at, finalized_at, unique_key)
SELECT jsonb_build_object('key', 'stripe:evt_' || i), 'hookkit.webhook', 8, 'hookkit_webhooks', 'completed', 1, now(), now(), decode(md5(i::text), 'hex')
FROM generate_series(1, 100000) i`); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE river_job`); err != nil {
		b.Fatal(err)
	}
	timed := &timedSweeps{Driver: pgxtx.NewTransactor(pool), b: b, done: make(chan struct{}, 1)}
	timed.left.Store(int64(b.N))
	q := benchQueue(b, riverpgxv5.New(pool), txstep.Driver[pgx.Tx](timed), benchRouter(nil), riverqueue.Config{SweepInterval: 10 * time.Millisecond})
	b.StopTimer()
	b.ResetTimer()
	if err := q.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { q.Stop(context.Background()) })
	for range b.N {
		<-timed.done
	}
}

// timedSweeps is a Transactor whose transactions, the next left of them,
// are timed: the benchmark's timer runs from Begin to End. With no
// delivery and no job to run, a queue's transactions are its sweeps, one
// after another on one goroutine.
type timedSweeps struct {
	txstep.Driver[pgx.Tx]
	b    *testing.B
	left atomic.Int64
	done chan struct{} // told of each timed transaction's end
}

func (s *timedSweeps) Begin(ctx context.Context) (pgx.Tx, error) {
	if s.left.Load() > 0 {
		s.b.StartTimer()
	}
	return s.Driver.Begin(ctx)
}

func (s *timedSweeps) End(ctx context.Context, tx pgx.Tx, commit bool) error {
	err := s.Driver.End(ctx, tx, commit)
	if s.left.Load() > 0 {
		s.b.StopTimer()
		s.left.Add(-1)
		s.done <- struct{}{}
	}
	return err
}

// attemptLog records the attempts an Observer is told of.
type attemptLog struct {
	mu       sync.Mutex
	attempts []dispatch.AttemptRecord
}

func (l *attemptLog) StartDelivery(ctx context.Context, _ *dispatch.Delivery) context.Context {
	return ctx
}
func (l *attemptLog) EndDelivery(context.Context, *dispatch.Delivery) {}
func (l *attemptLog) StartAttempt(ctx context.Context, _ *dispatch.AttemptRecord) context.Context {
	return ctx
}
func (l *attemptLog) EndAttempt(_ context.Context, a *dispatch.AttemptRecord) {
	l.mu.Lock()
	l.attempts = append(l.attempts, *a)
	l.mu.Unlock()
}

// records returns the attempts told so far.
func (l *attemptLog) records() []dispatch.AttemptRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.attempts)
}

// A job left running by a dead process (no lock on PostgreSQL, no live
// process on SQLite) is rescued by a sweep: retried at once, its failed
// attempt told to the router's observers (and in River's errors), once.
func TestSweepRescuesAnOrphanedJob(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			r := benchRouter(nil)
			log := &attemptLog{}
			r.Observe(log)
			q := b.newQueue(t, r, riverqueue.Config{SweepGrace: 100 * time.Millisecond, SweepInterval: 50 * time.Millisecond})
			if got := deliver(endpoint(t, q, r), body("evt_orphan")); got != 200 {
				t.Fatalf("delivering evt_orphan: got %d, want 200", got)
			}
			orphan := `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1, attempted_by = $2 WHERE kind = 'hookkit.webhook'`
			switch q := q.(type) {
			case *riverqueue.Queue[*riversqlite.Driver, *sql.Tx]:
				if _, err := b.db.Exec(orphan, time.Now().UTC().Add(-time.Minute).Format("2006-01-02 15:04:05.000"), `["a-dead-process"]`); err != nil {
					t.Fatal(err)
				}
			case *riverqueue.Queue[*riverpgxv5.Driver, pgx.Tx]:
				if err := q.Client().Driver().GetExecutor().Exec(ctx, strings.ReplaceAll(orphan, "$2", "ARRAY['a-dead-process']"), time.Now().Add(-time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			if args := b.args(t); len(args) != 1 {
				t.Fatalf("jobs' args: got %d, want 1", len(args))
			}
			start(t, q) // its sweep rescues the orphan; its worker runs the job again
			eventually(t, "retried and done", func() bool {
				var state string
				if b.db != nil {
					if err := b.db.QueryRow(`SELECT state FROM river_job`).Scan(&state); err != nil {
						t.Fatal(err)
					}
				} else {
					state = "completed"
					if len(b.deadLetters(t, q)) != 0 {
						state = "dead"
					}
				}
				return state == "completed"
			})
			settle(t, q)
			records := log.records()
			rescues := lostAttempts(records)
			if len(rescues) != 1 {
				t.Fatalf("the observers are told of the lost attempt once: got %d reports, want 1 (attempts %+v)", len(rescues), records)
			}
			if rescues[0].Kind != dispatch.AttemptAsync {
				t.Errorf("the lost attempt's kind: got %v, want %v", rescues[0].Kind, dispatch.AttemptAsync)
			}
			if len(records) != 2 || records[0].Number+records[1].Number != 3 {
				t.Errorf("attempts: got %+v, want the lost first and the retried second", records)
			}
		})
	}
}

// lostAttempts returns the attempts of records that a sweep reported: the
// first attempt, failed (its worker died).
func lostAttempts(records []dispatch.AttemptRecord) []dispatch.AttemptRecord {
	var lost []dispatch.AttemptRecord
	for _, a := range records {
		if a.Number == 1 && a.Outcome == dispatch.OutcomeFailed {
			lost = append(lost, a)
		}
	}
	return lost
}

// Re-running a dead letter gives it a full set of attempts on the retry
// schedule, not one more: with two attempts per schedule, a letter that
// keeps failing is dead again after four.
func TestRerunGivesAFullSchedule(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var runs atomic.Int32
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
				runs.Add(1)
				return errors.New("SMS gateway down")
			})
			q := b.newQueue(t, r, riverqueue.Config{Retry: []time.Duration{5 * time.Millisecond}})
			if got := deliver(endpoint(t, q, r), body("evt_schedule")); got != 200 {
				t.Fatalf("delivering evt_schedule: got %d, want 200", got)
			}
			start(t, q)
			eventually(t, "dead after two attempts", func() bool {
				dls := b.deadLetters(t, q)
				return len(dls) == 1 && dls[0].Attempts == 2
			})
			if err := b.retry(t, q, "stripe:evt_schedule"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "dead again after two more", func() bool {
				dls := b.deadLetters(t, q)
				return len(dls) == 1 && dls[0].Attempts == 4
			})
			if got := runs.Load(); got != 4 {
				t.Errorf("handler runs: got %d, want 4", got)
			}
		})
	}
}

// failingCommits is a Transactor whose commits fail while fail is set,
// counting them.
type failingCommits struct {
	sqltx.Transactor
	fail   *atomic.Bool
	failed *atomic.Int64
}

func (f failingCommits) End(ctx context.Context, tx *sql.Tx, commit bool) error {
	if commit && f.fail.Load() {
		f.Transactor.End(ctx, tx, false)
		f.failed.Add(1)
		return errors.New("the commit failed")
	}
	return f.Transactor.End(ctx, tx, commit)
}

// A sweep whose transaction fails rescues nothing and reports nothing: the
// observers hear of a lost attempt once, from the sweep that committed its
// rescue. (Reported before the commit, the failed sweep and its retry
// told them twice.)
func TestSweepReportsOnlyCommittedRescues(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "river.db"))
	var fail atomic.Bool
	var failed atomic.Int64
	r := benchRouter(nil)
	log := &attemptLog{}
	r.Observe(log)
	q, err := riverqueue.New(riversqlite.New(db), failingCommits{sqltx.NewTransactor(db), &fail, &failed}, r,
		fast(riverqueue.Config{SweepGrace: 100 * time.Millisecond, SweepInterval: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := deliver(endpoint(t, q, r), body("evt_orphan")); got != 200 {
		t.Fatalf("delivering evt_orphan: got %d, want 200", got)
	}
	_, err = db.Exec(`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1, attempted_by = '["a-dead-process"]'`,
		time.Now().UTC().Add(-time.Minute).Format("2006-01-02 15:04:05.000"))
	if err != nil {
		t.Fatal(err)
	}

	fail.Store(true)
	start(t, q)
	// The running orphan is no worker's: every commit now is a sweep's,
	// and when the second fails the first has ended, reports and all.
	eventually(t, "two sweeps whose commits failed", func() bool { return failed.Load() >= 2 })
	if got := log.records(); len(got) != 0 {
		t.Errorf("nothing reported for a rescue that did not commit: got %+v", got)
	}
	var state string
	if err := db.QueryRow(`SELECT state FROM river_job`).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != "running" {
		t.Errorf("the job after the failed sweeps: got %q, want %q", state, "running")
	}

	fail.Store(false)
	eventually(t, "rescued, retried and done", func() bool {
		if err := db.QueryRow(`SELECT state FROM river_job`).Scan(&state); err != nil {
			t.Fatal(err)
		}
		return state == "completed"
	})
	settle(t, q)
	if got := lostAttempts(log.records()); len(got) != 1 {
		t.Errorf("one report, from the sweep that committed: got %+v", got)
	}
}
