package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hookkit/hookkit/events"
)

// Job is an event accepted in async mode: verified, parsed, claimed, and
// waiting for a worker.
type Job struct {
	Event *events.Event
	// Key and Token are the idempotency claim the worker completes or
	// releases.
	Key, Token string
	Enqueued   time.Time
}

// Queue holds accepted jobs between the Endpoint, which enqueues, and its
// workers, which dequeue.
//
// Only a durable Queue makes async mode safe against a crash: the Endpoint
// answers 200 once Enqueue returns, so a job that exists only in memory is
// lost with the process. MemoryQueue is that kind.
type Queue interface {
	// Enqueue adds j without blocking; a full queue returns an error
	// wrapping ErrQueueFull (answered 503 with Retry-After), a closed one
	// ErrQueueClosed.
	Enqueue(ctx context.Context, j *Job) error
	// Dequeue blocks until a job is available and returns it; once the
	// queue is closed and empty it returns ErrQueueClosed.
	Dequeue(ctx context.Context) (*Job, error)
	// Close stops Enqueue; Dequeue still returns the jobs held.
	Close() error
}

var (
	// ErrQueueFull means a queue cannot take another job now.
	ErrQueueFull = errors.New("dispatch: queue full")
	// ErrQueueClosed means a queue was closed.
	ErrQueueClosed = errors.New("dispatch: queue closed")
)

// MemoryQueue is a bounded in-memory Queue: when it holds its capacity,
// Enqueue fails fast instead of growing. Jobs in it are lost if the process
// dies — the sender was already told 200 and will not retry — so use it
// where losing an event on a crash is acceptable, or put a durable Queue
// (a database table, a broker) behind the same interface.
type MemoryQueue struct {
	mu     sync.RWMutex
	closed bool
	jobs   chan *Job
}

// NewMemoryQueue returns a queue holding at most capacity jobs (at least 1).
func NewMemoryQueue(capacity int) *MemoryQueue {
	return &MemoryQueue{jobs: make(chan *Job, max(capacity, 1))}
}

// Enqueue implements Queue.
func (q *MemoryQueue) Enqueue(_ context.Context, j *Job) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrQueueClosed
	}
	select {
	case q.jobs <- j:
		return nil
	default:
		return ErrQueueFull
	}
}

// Dequeue implements Queue.
func (q *MemoryQueue) Dequeue(ctx context.Context) (*Job, error) {
	select {
	case j, ok := <-q.jobs:
		if !ok {
			return nil, ErrQueueClosed
		}
		return j, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close implements Queue.
func (q *MemoryQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
	return nil
}

// Len returns the number of jobs waiting.
func (q *MemoryQueue) Len() int { return len(q.jobs) }

// RetryPolicy is how async workers retry a failing handler: exponential
// backoff with jitter, then a dead letter. The zero value means 5 attempts,
// 1s after the first failure, doubling up to 1m, with ±20% jitter.
type RetryPolicy struct {
	// Attempts is the number of runs in all (default 5).
	Attempts int
	// Initial is the delay after the first failure (default 1s).
	Initial time.Duration
	// Max caps every delay (default 1m).
	Max time.Duration
	// Multiplier grows the delay after each failure (default 2).
	Multiplier float64
	// Jitter spreads each delay by up to this fraction either way
	// (default 0.2; negative for none), so failures do not retry in step.
	Jitter float64
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 5
	}
	if p.Initial <= 0 {
		p.Initial = time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Minute
	}
	if p.Multiplier < 1 {
		p.Multiplier = 2
	}
	if p.Jitter == 0 {
		p.Jitter = 0.2
	}
	return p
}

// Delay returns how long to wait after failed attempt n (1-based).
func (p RetryPolicy) Delay(n int) time.Duration {
	p = p.withDefaults()
	d := float64(p.Initial)
	for i := 1; i < n && d < float64(p.Max); i++ {
		d *= p.Multiplier
	}
	d = min(d, float64(p.Max))
	if p.Jitter > 0 {
		d *= 1 + p.Jitter*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}

// AsyncConfig turns an Endpoint asynchronous: it answers 200 once an event
// is claimed and enqueued, and workers run the handlers. The zero value is
// usable: 4 workers, a MemoryQueue of 1,024, the default RetryPolicy.
type AsyncConfig struct {
	// Workers is how many handlers run at once (default 4).
	Workers int
	// Queue holds accepted jobs (default NewMemoryQueue(1024); not
	// durable, see MemoryQueue).
	Queue Queue
	// Retry is the retry policy for failing handlers.
	Retry RetryPolicy
}

// worker runs jobs until the queue is closed and empty.
func (e *Endpoint) worker() {
	defer e.workers.Done()
	for {
		job, err := e.queue.Dequeue(context.Background())
		if err != nil {
			return // closed and drained
		}
		e.work(job)
	}
}

// work runs one job to completion, retrying with backoff, and completes,
// dead-letters or releases its claim. Once Shutdown's deadline passes
// (e.stop is closed) it releases instead of running or waiting.
func (e *Endpoint) work(job *Job) {
	ev := job.Event
	h, _ := e.router.Lookup(ev.Type) // nil under DeadLetterUnknown: run dead-letters it
	for attempt := 1; ; attempt++ {
		select {
		case <-e.stop:
			e.release(job.Key, job.Token, ev, "shutting down before processing finished")
			return
		default:
		}
		err := e.run(e.stopCtx, h, ev, attempt)
		switch {
		case err != nil && e.stopCtx.Err() != nil:
			e.release(job.Key, job.Token, ev, "shutting down before processing finished")
			return
		case err == nil:
			e.complete(job.Key, job.Token, ev)
			return
		case IsPermanent(err):
			e.logAttempt(ev, attempt, "dead-lettered", err)
			if e.deadLetter(ev, err, attempt) {
				e.complete(job.Key, job.Token, ev)
			} else {
				e.release(job.Key, job.Token, ev, "dead letter not stored")
			}
			return
		case attempt >= e.retry.Attempts:
			e.logAttempt(ev, attempt, "dead-lettered", err)
			e.deadLetter(ev, err, attempt)
			e.release(job.Key, job.Token, ev, "failed every attempt")
			return
		}
		e.logAttempt(ev, attempt, "failed", err)
		t := time.NewTimer(e.retry.Delay(attempt))
		select {
		case <-t.C:
		case <-e.stop:
			t.Stop()
		}
	}
}

// logAttempt writes one line for a failed asynchronous attempt: after the
// 200, the delivery's own line no longer covers it.
func (e *Endpoint) logAttempt(ev *events.Event, attempt int, outcome string, err error) {
	level := slog.LevelWarn
	attrs := []slog.Attr{slog.String("outcome", outcome), slog.String("source", ev.Source), slog.String("type", ev.Type),
		slog.String("id", ev.ID), slog.Int("attempt", attempt), errAttr(err)}
	var panicked *PanicError
	if errors.As(err, &panicked) {
		attrs = append(attrs, slog.String("stack", string(panicked.Stack)))
	}
	if outcome == "dead-lettered" || panicked != nil {
		level = slog.LevelError
	}
	e.logger.LogAttrs(context.Background(), level, "webhook attempt", attrs...)
}
