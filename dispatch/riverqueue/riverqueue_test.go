package riverqueue_test

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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/deadlettertest"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
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

			require.Equal(t, 200, deliver(ep, body("evt_queued")), "acknowledged before any worker runs")
			require.Equal(t, 200, deliver(ep, body("evt_queued")), "a duplicate of a queued event")
			assert.Equal(t, 1, b.jobs(t), "one job")
			assert.Zero(t, b.effects(t, "evt_queued"), "no worker yet")

			start(t, q)
			eventually(t, "the worker ran it", func() bool { return b.effects(t, "evt_queued") == 1 })
			require.Equal(t, 200, deliver(ep, body("evt_queued")), "a duplicate of a completed event")
			assert.Equal(t, 1, b.jobs(t))
			time.Sleep(200 * time.Millisecond)
			assert.Equal(t, 1, b.effects(t, "evt_queued"))
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
			require.Equal(t, 200, deliver(ep, body("evt_flaky")))
			eventually(t, "the third attempt", func() bool { return b.effects(t, "evt_flaky") == 1 })
			time.Sleep(200 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, []int{1, 2, 3}, attempts)
			assert.Equal(t, 1, b.effects(t, "evt_flaky"), "one effect: the failed attempts' writes were rolled back")
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
			require.Equal(t, 200, deliver(ep, body("evt_broken")))
			require.Equal(t, 200, deliver(ep, body("evt_permanent")))
			eventually(t, "both dead-lettered", func() bool { return len(b.deadLetters(t, q)) == 2 })

			letters := map[string]dispatch.DeadLetter{}
			for _, dl := range b.deadLetters(t, q) {
				letters[dl.Event.ID] = dl
			}
			assert.Contains(t, letters["evt_broken"].Ref, "(discarded)")
			assert.Equal(t, 3, letters["evt_broken"].Attempts, "every attempt of the schedule")
			assert.Contains(t, letters["evt_broken"].Err.Error(), "no reminder template")
			assert.Contains(t, letters["evt_permanent"].Ref, "(cancelled)")
			assert.Equal(t, 1, letters["evt_permanent"].Attempts, "a permanent failure is not retried")
			assert.Equal(t, "payment_intent.succeeded", letters["evt_broken"].Event.Type)
			assert.JSONEq(t, `{"id":"pi_1","amount":5000}`, string(letters["evt_broken"].Event.Data), "the payload a retry decodes")
			require.Equal(t, 200, deliver(ep, body("evt_broken")), "a duplicate of a dead letter")
			assert.Equal(t, 2, b.jobs(t), "no second job")

			fixed.Store(true)
			require.NoError(t, b.retry(t, q, "stripe:evt_broken"))
			eventually(t, "the retried dead letter ran", func() bool { return b.effects(t, "evt_broken") == 1 })
			eventually(t, "it is no longer a dead letter", func() bool { return len(b.deadLetters(t, q)) == 1 })
			require.ErrorIs(t, b.retry(t, q, "stripe:evt_unknown"), dispatch.ErrNotDeadLettered)
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
	assert.Equal(t, map[int]int{200: 3200}, counts)
	assert.Equal(t, 200, b.jobs(t), "one job per event")
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
				require.Equal(t, 200, deliver(ep, body(fmt.Sprintf("evt_shutdown_%d", i))))
			}
			// The host starts the workers with its signal context, and the
			// signal cancels it before Stop: that alone cancels no handler.
			signalCtx, signal := context.WithCancel(ctx)
			require.NoError(t, q.Start(signalCtx))
			<-started // one running, two queued
			signal()
			stopped := make(chan error, 1)
			go func() {
				stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				stopped <- q.Stop(stopCtx)
			}()
			time.Sleep(100 * time.Millisecond)
			close(release) // the running handler finishes within Stop's deadline
			require.NoError(t, <-stopped)
			done := 0
			for i := range 3 {
				done += b.effects(t, fmt.Sprintf("evt_shutdown_%d", i))
			}
			assert.Equal(t, 1, done, "the running one finished; the queued ones wait in the database")
			assert.Equal(t, 3, b.jobs(t))

			// Not require.Eventually: it counts its own goroutine.
			for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before+2; time.Sleep(20 * time.Millisecond) {
				require.True(t, time.Now().Before(deadline), "goroutines left behind: %d, before %d", runtime.NumGoroutine(), before)
			}

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
			require.Equal(t, 200, rec.Code)
			select {
			case got := <-seen:
				assert.True(t, got.IsRemote(), "the worker's parent is the delivery's span, across the queue")
				assert.Equal(t, delivery.TraceID(), got.TraceID())
				assert.Equal(t, delivery.SpanID(), got.SpanID())
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
			assert.True(t, b.insertInTx(t, q, e, false), "inserted, then rolled back")
			assert.Zero(t, b.jobs(t))
			assert.True(t, b.insertInTx(t, q, e, true))
			assert.Equal(t, 1, b.jobs(t))
			assert.False(t, b.insertInTx(t, q, e, true), "a duplicate")
			assert.Equal(t, 1, b.jobs(t))
		})
	}
}

func TestConfigIsValidated(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "x.db"))
	require.NoError(t, err)
	defer db.Close()
	_, err = riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), dispatch.NewRouter(), riverqueue.Config{})
	require.NoError(t, err, "the zero Config is valid")
	for name, cfg := range map[string]riverqueue.Config{
		"bad queue name":          {Queue: "Has Spaces"},
		"negative workers":        {MaxWorkers: -1},
		"rescue before timeout":   {Timeout: time.Minute, RescueAfter: time.Second},
		"a delay that is not one": {Retry: []time.Duration{time.Second, 0}},
		"jitter over 1":           {Jitter: 2},
		"cooldown under 1ms":      {FetchCooldown: time.Microsecond},
	} {
		_, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), dispatch.NewRouter(), cfg)
		require.ErrorIs(t, err, dispatch.ErrInvalidConfig, name)
	}
	_, err = riverqueue.New(riversqlite.New(db), nil, dispatch.NewRouter(), riverqueue.Config{})
	require.ErrorIs(t, err, dispatch.ErrInvalidConfig, "no transactor")
}

// An insert that fails is answered 503 with Retry-After: the sender keeps
// the event and retries it, and once the database is back the retry is
// queued.
func TestInsertFailureIsUnavailable(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "river.db"))
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return nil })
	q, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, fast(riverqueue.Config{}))
	require.NoError(t, err)
	require.NoError(t, q.Migrate(ctx))
	ep := endpoint(t, q, r)

	_, err = db.Exec(`ALTER TABLE river_job RENAME TO river_job_away`) // the job table is unreachable
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	ep.ServeHTTP(rec, request(body("evt_insert_fails")))
	assert.Equal(t, 503, rec.Code)
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
	assert.JSONEq(t, `{"error":"temporarily unavailable"}`, rec.Body.String(), "no internal error reaches the sender")

	_, err = db.Exec(`ALTER TABLE river_job_away RENAME TO river_job`)
	require.NoError(t, err)
	require.Equal(t, 200, deliver(ep, body("evt_insert_fails")), "the sender's retry is queued")
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM river_job`).Scan(&n))
	assert.Equal(t, 1, n)
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
				require.Equal(t, 200, deliver(ep, body(id)))
			}
			s, err := stats.Stats(ctx)
			require.NoError(t, err)
			assert.Equal(t, dispatch.QueueStats{Queue: true, Queued: 3}, s, "no worker yet")

			start(t, q)
			eventually(t, "all ran", func() bool {
				s, err = stats.Stats(ctx)
				return err == nil && s.Queued == 0 && s.Running == 0
			})
			assert.Equal(t, dispatch.QueueStats{Queue: true, DeadLetters: 1}, s, "the completed two are not counted; the cancelled one is a dead letter")
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
			require.Equal(t, 200, deliverWith(ep, body("evt_headers"), header))
			args := b.args(t)
			require.Len(t, args, 1)
			for _, secret := range []string{"c2lnbmF0dXJl", "ab12", "secret-token", "CERTIFICATE", "Stripe-Signature", "X-Flood"} {
				assert.NotContains(t, args[0], secret)
			}
			var stored struct{ Header http.Header }
			require.NoError(t, json.Unmarshal([]byte(args[0]), &stored))
			assert.Equal(t, http.Header{"Content-Type": {"application/json"}}, stored.Header)
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
			require.Equal(t, 200, deliver(ep, body("evt_discarded")))
			eventually(t, "dead-lettered", func() bool { return len(b.deadLetters(t, q)) == 1 })
			require.NoError(t, b.discard(t, q, "stripe:evt_discarded"))
			assert.Empty(t, b.deadLetters(t, q), "no longer listed")
			require.ErrorIs(t, b.discard(t, q, "stripe:evt_discarded"), dispatch.ErrNotDeadLettered)
			require.ErrorIs(t, b.retry(t, q, "stripe:evt_discarded"), dispatch.ErrNotDeadLettered, "a tombstone is not retried")

			require.Equal(t, 200, deliver(ep, body("evt_discarded")), "delivered again")
			assert.Equal(t, 1, b.jobs(t), "a duplicate: no second job")
			args := b.args(t)
			require.Len(t, args, 1)
			var stored struct {
				Key    string
				Body   []byte
				Header http.Header
			}
			require.NoError(t, json.Unmarshal([]byte(args[0]), &stored))
			assert.Equal(t, "stripe:evt_discarded", stored.Key)
			assert.Empty(t, stored.Body, "the tombstone keeps no body")
			assert.Empty(t, stored.Header)
			time.Sleep(100 * time.Millisecond) // a job queued by mistake would run by now
			assert.EqualValues(t, 1, runs.Load())
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
				require.Equal(t, 200, deliver(ep, body(fmt.Sprintf("evt_race_%02d", i))))
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
			time.Sleep(100 * time.Millisecond)
			for i := range letters {
				id := fmt.Sprintf("evt_race_%02d", i)
				want := 0
				if retried[id] {
					want = 1
				}
				assert.Equal(t, want, b.effects(t, id), id)
			}
			assert.Empty(t, b.deadLetters(t, q))
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
	require.Equal(t, 200, deliver(endpoint(t, before, r), body("evt_earlier")))

	now := b.newQueue(t, r, riverqueue.Config{Retry: []time.Duration{}})
	start(t, now)
	eventually(t, "the failed attempt is scheduled for another", func() bool {
		var state string
		var attempt int
		require.NoError(t, b.db.QueryRow(`SELECT state, attempt FROM river_job WHERE kind = ?`, riverqueue.Kind).Scan(&state, &attempt))
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
				assert.NoError(t, <-errs)
			}
			require.NoError(t, queues[0].Migrate(ctx), "and again, with nothing left to do")
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
			require.NoError(t, err)
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
			assert.Equal(t, map[int]int{200: 40}, round())
			assert.Equal(t, 5, b.jobs(t), "one job per event")
			for i := range 5 {
				counts := map[dispatch.Outcome]int{}
				for _, o := range arch.outcomes[fmt.Sprintf("evt_group_%d", i)] {
					counts[o]++
				}
				assert.Equal(t, map[dispatch.Outcome]int{dispatch.OutcomeQueued: 1, dispatch.OutcomeDuplicate: 7}, counts)
			}
			assert.Equal(t, map[int]int{200: 40}, round(), "again, in other batches")
			assert.Equal(t, 5, b.jobs(t))
		})
	}
}

// A batch whose transaction fails is 503 for every delivery in it, none
// 200; the senders' retries succeed once the database is back.
func TestGroupCommitFailure(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "river.db"))
	r := benchRouter(nil)
	q, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, fast(riverqueue.Config{BatchWait: 20 * time.Millisecond}))
	require.NoError(t, err)
	require.NoError(t, q.Migrate(ctx))
	ep := endpoint(t, q, r)
	_, err = db.Exec(`ALTER TABLE river_job RENAME TO river_job_away`)
	require.NoError(t, err)
	var codes sync.Map
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { codes.Store(i, deliver(ep, body(fmt.Sprintf("evt_fail_%d", i)))) })
	}
	wg.Wait()
	codes.Range(func(_, code any) bool { assert.Equal(t, 503, code); return true })
	_, err = db.Exec(`ALTER TABLE river_job_away RENAME TO river_job`)
	require.NoError(t, err)
	for i := range 10 {
		assert.Equal(t, 200, deliver(ep, body(fmt.Sprintf("evt_fail_%d", i))), "the retry")
	}
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM river_job`).Scan(&n))
	assert.Equal(t, 10, n)
}

// A handler far slower than the sweep (3 s, against a 50 ms sweep, a 200 ms
// grace and a 300 ms liveness timeout) on a live worker, with another
// replica sweeping the same database, is never taken from it: one effect,
// one attempt, no error recorded.
func TestSlowHandlerIsNeverRescued(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var runs atomic.Int32
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
				runs.Add(1)
				if err := b.effect(ctx, e.ID); err != nil {
					return err
				}
				time.Sleep(3 * time.Second)
				return nil
			})
			cfg := riverqueue.Config{SweepInterval: 50 * time.Millisecond, SweepGrace: 200 * time.Millisecond, LivenessTimeout: 300 * time.Millisecond}
			q, other := b.newQueue(t, r, cfg), b.newQueue(t, r, cfg)
			require.Equal(t, 200, deliver(endpoint(t, q, r), body("evt_slow")))
			start(t, q)
			eventually(t, "the handler started", func() bool { return runs.Load() == 1 })
			start(t, other) // a second replica, sweeping too
			eventually(t, "the effect", func() bool { return b.effects(t, "evt_slow") == 1 })
			time.Sleep(500 * time.Millisecond) // ten more sweeps
			assert.EqualValues(t, 1, runs.Load(), "one attempt")
			assert.Equal(t, 1, b.effects(t, "evt_slow"))
			assert.Empty(t, b.deadLetters(t, q))
		})
	}
}

// A sweep's cost: one query per interval per process. On 100,000
// completed jobs (and none running), one sweep of an idle queue.
func BenchmarkSweepOnACompletedTable(b *testing.B) {
	pool, _ := benchPostgres(b)
	q := postgresQueue(b, pool, riverqueue.Config{})
	if _, err := pool.Exec(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state, attempt, attempted_at, finalized_at, unique_key)
SELECT jsonb_build_object('key', 'stripe:evt_' || i), 'hookkit.webhook', 8, 'hookkit_webhooks', 'completed', 1, now(), now(), decode(md5(i::text), 'hex')
FROM generate_series(1, 100000) i`); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE river_job`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := riverqueue.SweepOnce(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
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
// attempt in River's errors and told to the router's observers.
func TestSweepRescuesAnOrphanedJob(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			r := benchRouter(nil)
			log := &attemptLog{}
			r.Observe(log)
			q := b.newQueue(t, r, riverqueue.Config{SweepGrace: 100 * time.Millisecond})
			require.Equal(t, 200, deliver(endpoint(t, q, r), body("evt_orphan")))
			orphan := `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1, attempted_by = $2 WHERE kind = 'hookkit.webhook'`
			var n int
			switch q := q.(type) {
			case *riverqueue.Queue[*riversqlite.Driver, *sql.Tx]:
				_, err := b.db.Exec(orphan, time.Now().UTC().Add(-time.Minute).Format("2006-01-02 15:04:05.000"), `["a-dead-process"]`)
				require.NoError(t, err)
				n, err = riverqueue.SweepOnce(ctx, q)
				require.NoError(t, err)
			case *riverqueue.Queue[*riverpgxv5.Driver, pgx.Tx]:
				err := q.Client().Driver().GetExecutor().Exec(ctx, strings.ReplaceAll(orphan, "$2", "ARRAY['a-dead-process']"), time.Now().Add(-time.Minute))
				require.NoError(t, err)
				n, err = riverqueue.SweepOnce(ctx, q)
				require.NoError(t, err)
			}
			assert.Equal(t, 1, n, "one job rescued")
			require.Len(t, log.attempts, 1, "the observers are told of the lost attempt")
			assert.Equal(t, dispatch.OutcomeFailed, log.attempts[0].Outcome)
			assert.Equal(t, dispatch.AttemptAsync, log.attempts[0].Kind)
			assert.Equal(t, 1, log.attempts[0].Number)
			args := b.args(t)
			require.Len(t, args, 1)
			start(t, q)
			eventually(t, "retried and done", func() bool {
				var state string
				if b.db != nil {
					require.NoError(t, b.db.QueryRow(`SELECT state FROM river_job`).Scan(&state))
				} else {
					state = "completed"
					if len(b.deadLetters(t, q)) != 0 {
						state = "dead"
					}
				}
				return state == "completed"
			})
		})
	}
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
			require.Equal(t, 200, deliver(endpoint(t, q, r), body("evt_schedule")))
			start(t, q)
			eventually(t, "dead after two attempts", func() bool {
				dls := b.deadLetters(t, q)
				return len(dls) == 1 && dls[0].Attempts == 2
			})
			require.NoError(t, b.retry(t, q, "stripe:evt_schedule"))
			eventually(t, "dead again after two more", func() bool {
				dls := b.deadLetters(t, q)
				return len(dls) == 1 && dls[0].Attempts == 4
			})
			assert.EqualValues(t, 4, runs.Load())
		})
	}
}

// failingCommits is a Transactor whose commits fail while fail is set.
type failingCommits struct {
	sqltx.Transactor
	fail *atomic.Bool
}

func (f failingCommits) End(ctx context.Context, tx *sql.Tx, commit bool) error {
	if commit && f.fail.Load() {
		f.Transactor.End(ctx, tx, false)
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
	r := benchRouter(nil)
	log := &attemptLog{}
	r.Observe(log)
	q, err := riverqueue.New(riversqlite.New(db), failingCommits{sqltx.NewTransactor(db), &fail}, r, fast(riverqueue.Config{SweepGrace: 100 * time.Millisecond}))
	require.NoError(t, err)
	require.NoError(t, q.Migrate(ctx))
	require.Equal(t, 200, deliver(endpoint(t, q, r), body("evt_orphan")))
	_, err = db.Exec(`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1, attempted_by = '["a-dead-process"]'`,
		time.Now().UTC().Add(-time.Minute).Format("2006-01-02 15:04:05.000"))
	require.NoError(t, err)

	fail.Store(true)
	_, err = riverqueue.SweepOnce(ctx, q)
	require.Error(t, err)
	assert.Empty(t, log.records(), "nothing reported for a rescue that did not commit")
	var state string
	require.NoError(t, db.QueryRow(`SELECT state FROM river_job`).Scan(&state))
	assert.Equal(t, "running", state)

	fail.Store(false)
	n, err := riverqueue.SweepOnce(ctx, q)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Len(t, log.records(), 1, "one report, from the sweep that committed")
}
