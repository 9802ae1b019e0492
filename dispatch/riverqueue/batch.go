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
)

// Group commit: acknowledgements that arrive while a batch is being
// written share the next one. A batch is one transaction with one
// multi-row insert (River's InsertManyTx, each job unique by its event's
// key as a single insert is) and one commit; each delivery of it is
// answered after that commit. Nothing waits on purpose by default: an idle
// queue writes a lone delivery at once, and under load the deliveries that
// arrive during one commit form the next batch, so batches grow with the
// load and a commit is shared by many acknowledgements.

// ackRequest is one delivery waiting for its batch's commit.
type ackRequest struct {
	key    string
	params river.InsertManyParams
	done   chan dispatch.Result // buffered: the batch never blocks on a reader
}

// batcher writes pending acknowledgements in batches, up to flushers of
// them at once. Its flusher goroutines run only while there is something to
// write, so an idle queue holds no goroutine, and Stop waits for those
// running.
type batcher struct {
	insert   func(ctx context.Context, params []river.InsertManyParams) ([]bool, error) // reports, per job, whether it was inserted
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
		n := min(len(b.pending), b.size)
		if n == 0 {
			b.flushing--
			b.mu.Unlock()
			return
		}
		batch := append([]*ackRequest(nil), b.pending[:n]...)
		b.pending = append(b.pending[:0], b.pending[n:]...)
		b.mu.Unlock()
		b.flush(batch)
	}
}

// flush writes one batch and answers each of its deliveries: 200 for a new
// job, 200 duplicate for an event whose job exists (or that the batch holds
// twice), 503 for all of them if the transaction fails.
func (b *batcher) flush(batch []*ackRequest) {
	// Two deliveries of one event in one batch are one job: a multi-row
	// insert cannot touch the same unique key twice.
	// The jobs go in in the order of their keys: concurrent batches (of
	// this process's flushers, or of another replica) that share events
	// then wait for each other's rows in one order, and never deadlock.
	sorted := slices.SortedFunc(slices.Values(batch), func(a, b *ackRequest) int { return strings.Compare(a.key, b.key) })
	first := make(map[string]int, len(batch))
	params := make([]river.InsertManyParams, 0, len(batch))
	for _, r := range sorted {
		if _, dup := first[r.key]; !dup {
			first[r.key] = len(params)
			params = append(params, r.params)
		}
	}
	// The batch outlives any one sender that hangs up; a stuck database
	// is bounded by its own timeouts (SQLite's busy timeout, PostgreSQL's
	// statement and lock timeouts) and by this one.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inserted, err := b.insert(ctx, params)
	answered := make(map[string]bool, len(batch))
	for _, r := range batch {
		switch {
		case err != nil:
			r.done <- dispatch.Result{Outcome: dispatch.OutcomeUnavailable, Err: fmt.Errorf("riverqueue: insert (a batch of %d): %w", len(params), err)}
		case inserted[first[r.key]] && !answered[r.key]:
			r.done <- dispatch.Result{Outcome: dispatch.OutcomeQueued}
		default:
			r.done <- dispatch.Result{Outcome: dispatch.OutcomeDuplicate}
		}
		answered[r.key] = true
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
		q.txs.End(ctx, tx, false)
		return nil, err
	}
	if err := q.txs.End(ctx, tx, true); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	// River does not promise results in the order of params: match them
	// by the event's key.
	index := make(map[string]int, len(params))
	for i, p := range params {
		index[p.Args.(jobArgs).Key] = i
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
