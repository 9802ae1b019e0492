package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
)

// poisonParser parses as Stripe's parser does, and gives the events whose
// ID starts with "evt_poison" a time with a +24:00 offset: what
// time.Parse accepts in a Twilio callback's Timestamp and json.Marshal then
// refuses. The event is built here, past the parser, so that the queue's
// own defence is what is tested, whatever the parsers do.
type poisonParser struct{ events.Parser }

func (p poisonParser) Parse(r *http.Request, body []byte) (*events.Event, error) {
	ev, err := p.Parser.Parse(r, body)
	if err == nil && strings.HasPrefix(ev.ID, "evt_poison") {
		ev.Time = time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*60*60))
	}
	return ev, err
}

// H2: one signed delivery that cannot be stored, replayed at full speed
// while 24 senders deliver 1,200 ordinary events, fails none of them. It is
// refused alone, 400, every time; each innocent is answered 200 at its
// first try. Before, the poison failed the whole batch it joined: on SQLite
// 981 of 1,200 innocents were answered 503 (and the poison 503 forever).
func TestPoisonedDeliveryFailsNoNeighbour(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return nil })
			q := relRiverQueue(t, name, r, riverqueue.Config{})
			relStart(t, q)
			ep := relEndpoint(t, poisonParser{stripeevent.NewParser()}, r, dispatch.WithAcceptor(q))

			stop, stopped := make(chan struct{}), make(chan struct{})
			poisonCodes := map[int]int{}
			go func() { // the poison, replayed at full speed
				defer close(stopped)
				body := relBody("evt_poison_timestamp", 0)
				for {
					select {
					case <-stop:
						return
					default:
					}
					rec := httptest.NewRecorder()
					ep.ServeHTTP(rec, relRequest(body))
					poisonCodes[rec.Code]++
				}
			}()
			const senders, each = 24, 50
			var failed, failedAnswers atomic.Int64
			var wg sync.WaitGroup
			for s := range senders {
				wg.Go(func() {
					for i := range each {
						body := relBody(fmt.Sprintf("evt_innocent_%02d_%03d", s, i), 0)
						for try := range 20 { // a sender retries what is not acknowledged
							rec := httptest.NewRecorder()
							ep.ServeHTTP(rec, relRequest(body))
							if rec.Code == http.StatusOK {
								break
							}
							if try == 0 {
								failed.Add(1)
							}
							failedAnswers.Add(1)
						}
					}
				})
			}
			wg.Wait()
			close(stop)
			<-stopped
			t.Logf("%s: %d of %d innocent deliveries answered non-2xx (%d non-2xx answers with their retries); the poison's answers: %v",
				name, failed.Load(), senders*each, failedAnswers.Load(), poisonCodes)
			if failed.Load() != 0 {
				t.Errorf("%d innocent deliveries answered non-2xx because of a neighbour", failed.Load())
			}
			if len(poisonCodes) != 1 || poisonCodes[http.StatusBadRequest] == 0 {
				t.Errorf("the poisoned delivery's answers: %v; want 400, every time", poisonCodes)
			}
			if n := q.count(t, `SELECT COUNT(*) FROM river_job WHERE kind = $1`, riverqueue.Kind); n != senders*each {
				t.Errorf("%d jobs, want one per innocent event (%d)", n, senders*each)
			}
		})
	}
}

// A row the database itself refuses, past the queue's own checks (here a
// CHECK constraint on River's table, or a SQLite trigger that aborts the
// insert), fails only its own delivery: the batch it joined is split until
// it is alone, and answered 400; its neighbours are queued.
func TestBatchTheDatabaseRefusesIsSplit(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return nil })
			q := relRiverQueue(t, name, r, riverqueue.Config{})
			if name == "sqlite" {
				q.exec(t, `CREATE TRIGGER refuse_poison BEFORE INSERT ON river_job
WHEN json_extract(NEW.args, '$.id') LIKE 'evt_refused%' BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END`)
			} else {
				q.exec(t, `ALTER TABLE river_job ADD CONSTRAINT refuse_poison CHECK (args->>'id' NOT LIKE 'evt_refused%')`)
			}
			ep := relEndpoint(t, nil, r, dispatch.WithAcceptor(q))
			// Held until all are submitted, so that they share batches.
			var wg sync.WaitGroup
			start := make(chan struct{})
			codes := make([]int, 40)
			for i := range codes {
				wg.Go(func() {
					id := fmt.Sprintf("evt_neighbour_%02d", i)
					if i%13 == 0 {
						id = fmt.Sprintf("evt_refused_%02d", i)
					}
					req := relRequest(relBody(id, 0))
					<-start
					rec := httptest.NewRecorder()
					ep.ServeHTTP(rec, req)
					codes[i] = rec.Code
				})
			}
			close(start)
			wg.Wait()
			for i, code := range codes {
				want := http.StatusOK
				if i%13 == 0 {
					want = http.StatusBadRequest
				}
				if code != want {
					t.Errorf("delivery %d: %d, want %d", i, code, want)
				}
			}
		})
	}
}

// M2: a duplicate of a job whose handler is running (a 40 s-class handler,
// here blocked until the test ends it) holds no batch: two duplicates at
// once, one per flusher, and the innocent deliveries that arrive with them
// are all answered within a bound, the duplicates 200. Before, each
// duplicate's batch waited on the row lock the running attempt held, as
// long as the handler ran (up to the batch's 30 s): nothing was
// acknowledged meanwhile. The lock the attempt holds still keeps the sweep
// (FOR UPDATE SKIP LOCKED) off the live worker's job, before and after the
// duplicates' inserts.
func TestDuplicateOfARunningJobHoldsNoBatch(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	var runs atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
		if e.ID != "evt_forty_seconds" {
			return nil
		}
		runs.Add(1)
		started <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	q := relRiverQueue(t, "postgres", r, riverqueue.Config{})
	relStart(t, q)
	t.Cleanup(func() { close(release) }) // before the queue stops
	ep := relEndpoint(t, nil, r, dispatch.WithAcceptor(q))

	long := relBody("evt_forty_seconds", 0)
	rec := httptest.NewRecorder()
	ep.ServeHTTP(rec, relRequest(long))
	if rec.Code != http.StatusOK {
		t.Fatalf("the long event: %d", rec.Code)
	}
	<-started
	sweepable := func() int {
		query, end := q.begin(t)
		defer end()
		// The sweep's own lock, on the long job (other jobs may be running
		// for a moment without their lock yet: the sweep's grace).
		return query(`SELECT id FROM river_job WHERE state = 'running' AND args->>'id' = 'evt_forty_seconds' FOR UPDATE SKIP LOCKED`)
	}
	if n := sweepable(); n != 0 {
		t.Fatalf("the sweep's lock took the long job from its live worker (%d)", n)
	}

	const bound = 3 * time.Second
	var lat latencies
	var wg sync.WaitGroup
	var late, failed atomic.Int32
	send := func(body []byte) {
		start := time.Now()
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, relRequest(body))
		took := time.Since(start)
		lat.add(took)
		if took > bound {
			late.Add(1)
		}
		if rec.Code != http.StatusOK {
			failed.Add(1)
		}
	}
	for range 2 { // as many duplicates as PostgreSQL has flushers
		wg.Go(func() { send(long) })
	}
	for s := range 8 {
		wg.Go(func() {
			for i := range 10 {
				send(relBody(fmt.Sprintf("evt_innocent_%d_%02d", s, i), 0))
			}
		})
	}
	wg.Wait()
	p99, worst := lat.quantile(0.99)
	t.Logf("82 deliveries beside a running job's two duplicates: p99 %s, max %s", p99, worst)
	if late.Load() > 0 || failed.Load() > 0 {
		t.Errorf("%d answers slower than %s, %d not 200 (p99 %s, max %s)", late.Load(), bound, failed.Load(), p99, worst)
	}
	if n := sweepable(); n != 0 {
		t.Errorf("after the duplicates' inserts, the sweep's lock took the long job from its live worker (%d)", n)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the long handler ran %d times, want once", n)
	}
}
