package riverqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
)

// Group commit: acknowledgements that arrive while a batch is being
// written share the next one. A batch is one transaction with one
// multi-row insert (River's InsertManyTx, each job unique by its event's
// key as a single insert is) and one commit; each delivery of it is
// answered after that commit. Nothing waits on purpose by default: an idle
// queue writes a lone delivery at once, and under load the deliveries that
// arrive during one commit form the next batch, so batches grow with the
// load and a commit is shared by many acknowledgements.
//
// One delivery never fails another: each job's args are checked before
// the job joins a batch (jobArgs.insertable), and a batch the
// database refuses for the data of one of its rows (refused) is split in
// halves, each written on its own, until the row is alone and answered 400.

// ackRequest is one delivery waiting for its batch's commit.
type ackRequest struct {
	key      string
	params   river.InsertManyParams
	deadline time.Time            // zero: none
	done     chan dispatch.Result // buffered: the batch never blocks on a reader

	// Under batcher.mu: taken by a batch, or withdrawn by its delivery
	// before any batch took it.
	taken, withdrawn bool
}

// batcher writes pending acknowledgements in batches, up to flushers of
// them at once. Its flusher goroutines run only while there is something to
// write, so an idle queue holds no goroutine, and Stop waits for those
// running.
type batcher struct {
	insert   func(ctx context.Context, params []river.InsertManyParams) ([]bool, error) // reports, per job, whether it was inserted
	refused  func(error) bool                                                           // the database refuses a row's data: retrying cannot help
	size     int
	wait     time.Duration
	flushers int // batches written at once (at least 1)

	mu       sync.Mutex
	pending  []*ackRequest
	flushing int // flusher goroutines running
	closed   bool
	idle     sync.WaitGroup // the running flushers
}

var errQueueStopped = errors.New("riverqueue: the queue is stopping")

// maxBatchTime bounds a batch whose deliveries have no deadline of their
// own; commitTimeout bounds a commit, which no deadline interrupts.
const (
	maxBatchTime  = 30 * time.Second
	commitTimeout = 5 * time.Second
)

// submit queues r for the next batch; its answer arrives on r.done.
func (b *batcher) submit(r *ackRequest) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		r.done <- dispatch.Result{Outcome: dispatch.OutcomeUnavailable, Err: errQueueStopped}
		return
	}
	b.pending = append(b.pending, r)
	if b.flushing < max(b.flushers, 1) {
		b.flushing++
		b.idle.Add(1)
		go b.flushAll()
	}
}

// withdraw takes r back if no batch has taken it yet, and reports whether
// it did: then r has done nothing, and is never answered on r.done.
func (b *batcher) withdraw(r *ackRequest) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.taken || r.withdrawn {
		return false
	}
	r.withdrawn = true
	return true
}

// flushAll writes batches until nothing is pending.
func (b *batcher) flushAll() {
	defer b.idle.Done()
	for {
		b.mu.Lock()
		if len(b.pending) < b.size && b.wait > 0 && len(b.pending) > 0 {
			// Linger for more, as configured (Config.BatchWait).
			b.mu.Unlock()
			time.Sleep(b.wait)
			b.mu.Lock()
		}
		batch := make([]*ackRequest, 0, min(len(b.pending), b.size))
		n := 0
		for ; n < len(b.pending) && len(batch) < b.size; n++ {
			if r := b.pending[n]; !r.withdrawn {
				r.taken = true
				batch = append(batch, r)
			}
		}
		b.pending = append(b.pending[:0], b.pending[n:]...)
		if len(batch) == 0 && len(b.pending) == 0 {
			b.flushing--
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		if len(batch) > 0 {
			b.flush(batch)
		}
	}
}

// job is one job of a batch: the first delivery of its key, and the
// deliveries of the same event that share it.
type job struct {
	params     river.InsertManyParams
	deliveries []*ackRequest
}

// storedAsText reports whether j's body is stored as text, and could be
// stored base64-encoded instead.
func (j job) storedAsText() bool {
	a, ok := j.params.Args.(storedArgs)
	return ok && a.BodyEncoding == bodyText
}

// flush writes one batch and answers each of its deliveries: 200 for a new
// job, 200 duplicate for an event whose job exists (or that the batch holds
// twice), 400 for one whose data the database refuses, 503 for all of them
// if the transaction fails otherwise.
func (b *batcher) flush(batch []*ackRequest) {
	// Two deliveries of one event in one batch are one job: a multi-row
	// insert cannot touch the same unique key twice.
	// The jobs go in in the order of their keys: concurrent batches (of
	// this process's flushers, or of another replica) that share events
	// then wait for each other's rows in one order, and never deadlock.
	sorted := slices.SortedFunc(slices.Values(batch), func(a, b *ackRequest) int { return strings.Compare(a.key, b.key) })
	jobs := make([]job, 0, len(batch))
	deadline := time.Now().Add(maxBatchTime)
	for _, r := range sorted {
		if n := len(jobs); n > 0 && jobs[n-1].deliveries[0].key == r.key {
			jobs[n-1].deliveries = append(jobs[n-1].deliveries, r)
		} else {
			jobs = append(jobs, job{params: r.params, deliveries: []*ackRequest{r}})
		}
		if !r.deadline.IsZero() && r.deadline.Before(deadline) {
			deadline = r.deadline
		}
	}
	// The batch outlives any one sender that hangs up, but not the first
	// deadline among its deliveries: one that could not start its commit by
	// then has done nothing, and is answered 503 at its deadline.
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	b.write(ctx, jobs)
}

// write inserts jobs in one transaction and answers their deliveries. A
// transaction the database refuses for a row's data is split in halves
// written apart, so that the row's delivery alone is refused.
func (b *batcher) write(ctx context.Context, jobs []job) {
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		params[i] = j.params
	}
	inserted, err := b.insert(ctx, params)
	switch {
	case err == nil:
		for i, j := range jobs {
			outcome := dispatch.OutcomeDuplicate
			if inserted[i] {
				outcome = dispatch.OutcomeQueued
			}
			for _, r := range j.deliveries {
				r.done <- dispatch.Result{Outcome: outcome}
				outcome = dispatch.OutcomeDuplicate // the same event, twice in one batch
			}
		}
	case b.refused != nil && b.refused(err) && len(jobs) > 1:
		b.write(ctx, jobs[:len(jobs)/2])
		b.write(ctx, jobs[len(jobs)/2:])
	case b.refused != nil && b.refused(err) && jobs[0].storedAsText():
		// A body stored as text that this database refuses (a character
		// its encoding cannot hold): base64 holds any body.
		j := jobs[0]
		args, _ := j.params.Args.(storedArgs).asBase64()
		j.params.Args = args
		b.write(ctx, []job{j})
	case b.refused != nil && b.refused(err):
		err = fmt.Errorf("riverqueue: the database refuses to store the event: %w: %w", err, events.ErrMalformedEvent)
		for _, r := range jobs[0].deliveries {
			r.done <- dispatch.Result{Outcome: dispatch.OutcomeMalformed, Err: err}
		}
	default:
		err = fmt.Errorf("riverqueue: insert (a batch of %d): %w", len(jobs), err)
		for _, j := range jobs {
			for _, r := range j.deliveries {
				r.done <- dispatch.Result{Outcome: dispatch.OutcomeUnavailable, Err: err}
			}
		}
	}
}

// stop refuses new deliveries (503) and waits until every pending one has
// been written and answered.
func (b *batcher) stop() {
	b.close()
	b.idle.Wait()
}

// close refuses new deliveries (503); the pending ones are still written.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}

// insertBatch inserts params in one transaction of txs and commits it,
// reporting per job whether it was inserted (false: a duplicate of a job
// River keeps).
func (q *Queue[TDriver, TTx]) insertBatch(ctx context.Context, params []river.InsertManyParams) ([]bool, error) {
	tx, err := q.txs.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	results, err := q.client.InsertManyTx(ctx, tx, params)
	if err != nil {
		q.txs.End(context.WithoutCancel(ctx), tx, false)
		return nil, err
	}
	// A commit that has started is seen through, past the deliveries'
	// deadline: they are answered with what it did.
	commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := q.txs.End(commitCtx, tx, true); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	// River does not promise results in the order of params: match them
	// by the event's key.
	index := make(map[string]int, len(params))
	for i, p := range params {
		index[p.Args.(storedArgs).Key] = i
	}
	inserted := make([]bool, len(params))
	for _, res := range results {
		key, err := argsKey(res.Job.EncodedArgs)
		if err != nil {
			return nil, fmt.Errorf("reading an inserted job: %w", err)
		}
		if i, ok := index[key]; ok {
			inserted[i] = !res.UniqueSkippedAsDuplicate
		}
	}
	return inserted, nil
}

// refused reports whether err is the database refusing the data of a row
// it was given — no retry of the same row can succeed — as opposed to a
// database that could not answer (a lost connection, a timeout, a lock),
// which may succeed later. It reads the error's code, never its text:
// PostgreSQL's SQLSTATE (pgx's and lib/pq's errors have a SQLState method)
// in class 22 (data exception: a character the encoding cannot hold, a
// value out of range), 23502 and 23514 (a NOT NULL or CHECK constraint) and
// class 54 (a program limit, such as a value too large); SQLite's
// (modernc.org/sqlite's Code) SQLITE_TOOBIG, SQLITE_MISMATCH, and
// SQLITE_CONSTRAINT's CHECK, NOT NULL and trigger cases. A unique
// violation is not among them: it depends on other rows.
func (q *Queue[TDriver, TTx]) refused(err error) bool { return refusedRow(err, q.sqlite()) }

// refusedRow is refused, for a database that is SQLite or PostgreSQL.
func refusedRow(err error, sqlite bool) bool {
	var pg interface{ SQLState() string }
	if !sqlite && errors.As(err, &pg) {
		switch state := pg.SQLState(); {
		case strings.HasPrefix(state, "22"), strings.HasPrefix(state, "54"), state == "23502", state == "23514":
			return true
		}
		return false
	}
	var lite interface{ Code() int }
	if sqlite && errors.As(err, &lite) {
		const (
			tooBig            = 18
			mismatch          = 20
			constraintCheck   = 19 | 1<<8
			constraintNotNull = 19 | 5<<8
			constraintTrigger = 19 | 7<<8
		)
		switch lite.Code() {
		case tooBig, mismatch, constraintCheck, constraintNotNull, constraintTrigger:
			return true
		}
	}
	return false
}

// argsKey returns the "key" member of a job's encoded args without
// decoding the rest, which holds the whole body: encoding/json writes
// "key" first, and PostgreSQL's jsonb second, after "id" (jsonb orders
// keys by length). It reads the leading members while their values are
// strings, and decodes the args whole only if "key" is not among the first
// two.
func argsKey(encoded []byte) (string, error) {
	if rest, ok := bytes.CutPrefix(trimSpace(encoded), []byte("{")); ok {
		for range 2 {
			name, after, ok := cutJSONString(rest)
			if !ok {
				break
			}
			after, ok = bytes.CutPrefix(trimSpace(after), []byte(":"))
			if !ok {
				break
			}
			value, after, ok := cutJSONString(after)
			if !ok {
				break
			}
			if string(name) == `"key"` {
				var key string
				if err := json.Unmarshal(value, &key); err != nil {
					return "", err
				}
				return key, nil
			}
			if rest, ok = bytes.CutPrefix(trimSpace(after), []byte(",")); !ok {
				break
			}
		}
	}
	var args struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(encoded, &args); err != nil {
		return "", err
	}
	if args.Key == "" {
		return "", errors.New("job args have no key")
	}
	return args.Key, nil
}

// cutJSONString splits the JSON string that b starts with (after white
// space), quotes included, from what follows it.
func cutJSONString(b []byte) (str, rest []byte, ok bool) {
	b = trimSpace(b)
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, false
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return b[:i+1], b[i+1:], true
		}
	}
	return nil, nil, false
}

func trimSpace(b []byte) []byte { return bytes.TrimLeft(b, " \t\r\n") }
