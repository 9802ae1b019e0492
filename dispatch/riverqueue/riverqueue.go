package riverqueue

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/propagation"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/order"
	"github.com/hookkit/hookkit/dispatch/riverqueue/internal/logtext"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/idempotency"
)

// StandardWebhooksSchedule is the Standard Webhooks specification's retry
// schedule: the delays after the first, second, ... failed attempt. Stripe
// retries for three days with a similar exponential back-off; Twilio retries
// a few times within minutes.
var StandardWebhooksSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Defaults of a Queue.
const (
	DefaultQueue         = "hookkit_webhooks"
	DefaultMaxWorkers    = 10
	DefaultTimeout       = time.Minute
	DefaultFetchCooldown = 5 * time.Millisecond
	// DefaultBatchSize bounds a batch of acknowledgements, so that
	// SQLite's write lock is never held long. Under 16 senders batches
	// stay far below it (about 7 deliveries on PostgreSQL), and a longer
	// BatchWait, which makes them bigger, made nothing faster: past a few
	// deliveries a commit costs little beside the inserts.
	DefaultBatchSize = 100
	// DefaultBatchFlushers is how many batches a Queue on PostgreSQL
	// writes at once, chosen by BenchmarkGroupCommit (BENCHMARKS.md): past
	// two, batches only get smaller.
	DefaultBatchFlushers = 2
	// Crash recovery defaults (Config.SweepInterval, SweepGrace,
	// LivenessTimeout): a dead worker's job runs again within about
	// SweepGrace plus SweepInterval (PostgreSQL) or LivenessTimeout plus
	// SweepInterval (SQLite) of a live worker being up.
	DefaultSweepInterval   = time.Second
	DefaultSweepGrace      = 2 * time.Second
	DefaultLivenessTimeout = 5 * time.Second
)

// Config configures a Queue. The zero value is ready to use.
type Config struct {
	// Queue is the River queue the jobs go to (default DefaultQueue).
	Queue string
	// MaxWorkers bounds the handlers this process runs at once (default
	// DefaultMaxWorkers).
	MaxWorkers int
	// FetchCooldown is the least time between two fetches of jobs by this
	// process's workers (default DefaultFetchCooldown, 5 ms; River's own
	// default is 100 ms), and between two notifications of new jobs unless
	// Config.River sets its own. A process starts at most MaxWorkers jobs
	// per FetchCooldown, and a job may wait a whole FetchCooldown from its
	// 200 to its handler's start even when the queue is idle: at River's
	// 100 ms, 20 workers could never start more than 200 jobs a second.
	FetchCooldown time.Duration
	// Retry holds the delays after each failed attempt (default
	// StandardWebhooksSchedule): a job makes len(Retry)+1 attempts, then is
	// discarded (a dead letter). An empty, non-nil Retry means one attempt
	// and no retry; a job queued earlier with attempts left is then
	// retried on StandardWebhooksSchedule's delays.
	Retry []time.Duration
	// Jitter spreads each delay by up to this fraction either way (default
	// 0.1; negative for none), so failures do not retry in step.
	Jitter float64
	// Timeout bounds one attempt of a worker (default DefaultTimeout). It
	// is not the Endpoint's dispatch.WithTimeout, the deadline of a
	// delivery, which bounds the wait for its acknowledgement before the
	// sender is answered: an attempt runs after the 200, when no sender
	// waits, and may take as long as the handler's work needs.
	Timeout time.Duration
	// RescueAfter is how long a job whose process died stays running
	// before River's rescuer retries it (default Timeout plus a minute; it
	// must exceed Timeout).
	RescueAfter time.Duration
	// Keep is how long completed jobs are kept, and so how long a
	// duplicate delivery of a processed event is recognised (default
	// idempotency.DefaultKeep, 96 hours). Dead letters (discarded and
	// cancelled jobs) are kept at least as long.
	Keep time.Duration
	// Logger receives one line per failed attempt (default slog.Default).
	Logger *slog.Logger
	// Propagator carries the request's trace context to the job (default
	// W3C trace context and baggage).
	Propagator propagation.TextMapPropagator
	// SweepInterval is how often each process that runs workers looks for
	// the queue's jobs whose worker died, and retries them at once
	// (default DefaultSweepInterval, a second; see the package doc). One
	// query per interval per process.
	SweepInterval time.Duration
	// SweepGrace is how long a job must have been running before a sweep
	// may take it (default DefaultSweepGrace): the moment between River
	// marking a job running and its worker's transaction holding it.
	SweepGrace time.Duration
	// LivenessTimeout is, on SQLite, how long a process may go without
	// saying it is alive before its running jobs are presumed orphaned
	// (default DefaultLivenessTimeout). A process paused longer (SIGSTOP,
	// a VM frozen) has its jobs retried by another; its own late attempt
	// then commits nothing.
	LivenessTimeout time.Duration
	// BatchSize bounds how many acknowledgements share one transaction
	// (default DefaultBatchSize). Deliveries that arrive while a batch is
	// being written join the next one, which is written with one
	// multi-row insert and one commit; each is answered after that
	// commit. 1 writes every delivery in a transaction of its own.
	BatchSize int
	// BatchWait is how long a batch that is not full waits for more
	// deliveries before it is written (default 0: at once, so a lone
	// delivery on an idle queue waits for nothing; under load batches grow
	// by themselves, from the deliveries that arrive during a commit).
	// At most a second.
	BatchWait time.Duration
	// BatchFlushers is how many batches are written at once (default
	// DefaultBatchFlushers on PostgreSQL, 1 on SQLite, whose one writer
	// would only queue them).
	BatchFlushers int
	// RefuseSmallPool makes Start refuse to start (an error wrapping
	// dispatch.ErrInvalidConfig) when the Transactor's pool has fewer
	// connections than the queue needs (see "Connections" in the package
	// doc), instead of logging a warning and starting.
	RefuseSmallPool bool
	// River is the host's own River configuration (its workers, queues,
	// logger...), if the host runs its own jobs on the same client. It is
	// copied, and its settings stay the host's: hookkit adds its worker
	// (whose Timeout method bounds hookkit's jobs alone) and its queue, and
	// fills in only what the host left at zero. The retention periods left
	// at zero become Keep (completed jobs) and at least a week (cancelled
	// and discarded ones, the dead letters), since a job is how a duplicate
	// is recognised; -1 (never delete) and positive values stay as set
	// (one shorter than Keep shortens the window in which a duplicate is
	// recognised, and New logs a warning). RescueStuckJobsAfter applies to
	// every job of the client, so hookkit never changes a host's: left at
	// zero, River's default (an hour) applies to hookkit's jobs too,
	// unless Config.RescueAfter is set, which then also sets a JobTimeout
	// left at zero to Config.Timeout (River requires the rescue to exceed
	// it). A JobTimeout the host set is left alone.
	River *river.Config
}

var queueName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,127}$`)

func (c *Config) withDefaults() error {
	if c.Queue == "" {
		c.Queue = DefaultQueue
	}
	if !queueName.MatchString(c.Queue) {
		return fmt.Errorf("riverqueue: Config.Queue %q: want lowercase letters, digits, '_' and '-': %w", c.Queue, dispatch.ErrInvalidConfig)
	}
	if c.FetchCooldown == 0 {
		c.FetchCooldown = DefaultFetchCooldown
	}
	if c.MaxWorkers == 0 {
		c.MaxWorkers = DefaultMaxWorkers
	}
	if c.Retry == nil {
		c.Retry = StandardWebhooksSchedule
	}
	if c.Jitter == 0 {
		c.Jitter = 0.1
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RescueAfter == 0 {
		c.RescueAfter = c.Timeout + time.Minute
	}
	if c.Keep == 0 {
		c.Keep = idempotency.DefaultKeep
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.SweepGrace == 0 {
		c.SweepGrace = DefaultSweepGrace
	}
	if c.LivenessTimeout == 0 {
		c.LivenessTimeout = DefaultLivenessTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Propagator == nil {
		c.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	switch {
	case c.MaxWorkers < 0:
		return fmt.Errorf("riverqueue: Config.MaxWorkers %d is negative: %w", c.MaxWorkers, dispatch.ErrInvalidConfig)
	case c.FetchCooldown < time.Millisecond:
		return fmt.Errorf("riverqueue: Config.FetchCooldown %s is less than River's least, 1ms: %w", c.FetchCooldown, dispatch.ErrInvalidConfig)
	case c.Timeout < 0 || c.Keep < 0:
		return fmt.Errorf("riverqueue: Config.Timeout %s and Keep %s must be positive: %w", c.Timeout, c.Keep, dispatch.ErrInvalidConfig)
	case c.RescueAfter <= c.Timeout:
		return fmt.Errorf("riverqueue: Config.RescueAfter %s must exceed Timeout %s, or a slow job is retried beside itself: %w",
			c.RescueAfter, c.Timeout, dispatch.ErrInvalidConfig)
	case c.Jitter > 1:
		return fmt.Errorf("riverqueue: Config.Jitter %g is more than 1: %w", c.Jitter, dispatch.ErrInvalidConfig)
	case c.BatchSize < 1 || c.BatchSize > 10_000:
		return fmt.Errorf("riverqueue: Config.BatchSize %d: want 1 to 10,000: %w", c.BatchSize, dispatch.ErrInvalidConfig)
	case c.SweepInterval < 10*time.Millisecond || c.SweepInterval > time.Minute:
		return fmt.Errorf("riverqueue: Config.SweepInterval %s: want 10ms to 1m: %w", c.SweepInterval, dispatch.ErrInvalidConfig)
	case c.SweepGrace < 100*time.Millisecond:
		return fmt.Errorf("riverqueue: Config.SweepGrace %s: want at least 100ms, or a just-fetched job is taken from its worker: %w",
			c.SweepGrace, dispatch.ErrInvalidConfig)
	case c.LivenessTimeout < 2*c.SweepInterval:
		return fmt.Errorf("riverqueue: Config.LivenessTimeout %s must be at least twice SweepInterval %s, or a live process looks dead between two heartbeats: %w",
			c.LivenessTimeout, c.SweepInterval, dispatch.ErrInvalidConfig)
	case c.BatchFlushers < 0 || c.BatchFlushers > 64:
		return fmt.Errorf("riverqueue: Config.BatchFlushers %d: want 1 to 64 (0 for the default): %w", c.BatchFlushers, dispatch.ErrInvalidConfig)
	case c.BatchWait < 0 || c.BatchWait > time.Second:
		return fmt.Errorf("riverqueue: Config.BatchWait %s: want 0 to 1s: %w", c.BatchWait, dispatch.ErrInvalidConfig)
	}
	for i, d := range c.Retry {
		if d <= 0 {
			return fmt.Errorf("riverqueue: Config.Retry[%d] %s must be positive: %w", i, d, dispatch.ErrInvalidConfig)
		}
	}
	return nil
}

// uniqueStates are every state a job can be in: a duplicate delivery finds
// its event's job whatever became of it, until the job is deleted after
// Keep.
var uniqueStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateCancelled, rivertype.JobStateCompleted, rivertype.JobStateDiscarded,
	rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// Handle is a Queue whatever its database, for a host to name and keep
// without spelling River's driver and transaction types: the accept step
// to mount, and what starts, stops and migrates it. EnqueueTx and Client,
// typed by the transaction, are on the Queue itself.
type Handle interface {
	dispatch.Acceptor
	Migrate(ctx context.Context) error
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Stats(ctx context.Context) (dispatch.QueueStats, error)
	DeadLetters() dispatch.DeadLetterStore
}

var _ Handle = (*Queue[riverdriver.Driver[any], any])(nil)

// Queue is hookkit's accept step and workers on River: a dispatch.Acceptor
// that enqueues each event as a job, and the worker that runs the router's
// handler for it. TDriver is River's driver type (*riverpgxv5.Driver,
// *riversqlite.Driver) and TTx its transaction type.
type Queue[TDriver riverdriver.Driver[TTx], TTx any] struct {
	client *river.Client[TTx]
	driver TDriver
	txs    txstep.Driver[TTx]
	router *dispatch.Router
	cfg    Config
	batch  *batcher
	order  *order.Tables[TTx] // positions and kept jobs (dispatch.Ordered)

	sweepMu sync.Mutex
	sweep   *sweeper
}

// New returns a Queue on River's driver for the host's database, with txs
// opening the transactions handlers run in, running r's handlers. It
// builds the River client; call Migrate once, Start on every process that
// should run handlers, and Stop at shutdown.
func New[TDriver riverdriver.Driver[TTx], TTx any](driver TDriver, txs txstep.Driver[TTx], r *dispatch.Router, cfg Config) (*Queue[TDriver, TTx], error) {
	if txs == nil || r == nil {
		return nil, fmt.Errorf("riverqueue: a Transactor and a Router are required: %w", dispatch.ErrInvalidConfig)
	}
	explicitRescue := cfg.RescueAfter != 0
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	q := &Queue[TDriver, TTx]{driver: driver, txs: txs, router: r, cfg: cfg}
	ord, err := newOrderTables(driver, txs)
	if err != nil {
		return nil, fmt.Errorf("riverqueue: %w", err)
	}
	q.order = ord
	q.batch = &batcher{insert: q.insertBatch, refused: q.refused, size: cfg.BatchSize, wait: cfg.BatchWait, flushers: cfg.BatchFlushers}
	if q.batch.flushers == 0 {
		// SQLite writes one transaction at a time: batches written at
		// once would only queue for its lock. PostgreSQL commits several
		// at once (and groups their WAL flushes).
		q.batch.flushers = DefaultBatchFlushers
		if driver.DatabaseName() == "sqlite" {
			q.batch.flushers = 1
		}
	}
	rc := &river.Config{}
	if cfg.River != nil {
		copied := *cfg.River
		rc = &copied
	}
	if rc.Workers == nil {
		rc.Workers = river.NewWorkers()
	}
	if err := river.AddWorkerSafely(rc.Workers, &worker[TDriver, TTx]{q: q}); err != nil {
		return nil, fmt.Errorf("riverqueue: %w", err)
	}
	queues := map[string]river.QueueConfig{}
	for name, qc := range rc.Queues {
		queues[name] = qc
	}
	// The queue's fetch cooldown, at most the poll interval as River
	// requires. River also spaces its insert notifications (PostgreSQL's
	// NOTIFY, which wakes the workers of every replica) by the client's
	// cooldown: unless the host chose one, it is the queue's.
	cooldown := min(cfg.FetchCooldown, cmp.Or(rc.FetchPollInterval, river.FetchPollIntervalDefault))
	if rc.FetchCooldown == 0 {
		rc.FetchCooldown = cooldown
	}
	queues[cfg.Queue] = river.QueueConfig{MaxWorkers: cfg.MaxWorkers, FetchCooldown: cooldown}
	rc.Queues = queues
	if err := mergeRiverConfig(rc, cfg, cfg.River == nil || explicitRescue); err != nil {
		return nil, err
	}
	client, err := river.NewClient[TTx](driver, rc)
	if err != nil {
		return nil, fmt.Errorf("riverqueue: %w", err)
	}
	q.client = client
	return q, nil
}

// mergeRiverConfig fills in what hookkit needs of rc that the host left at
// zero (see Config.River), and sets rescue when hookkit owns the client or
// was asked for it.
func mergeRiverConfig(rc *river.Config, cfg Config, setRescue bool) error {
	week := 7 * 24 * time.Hour
	orDefault := func(host, least time.Duration) time.Duration {
		if host != 0 {
			return host // -1 (never delete) or the host's period
		}
		return least
	}
	rc.CompletedJobRetentionPeriod = orDefault(rc.CompletedJobRetentionPeriod, cfg.Keep)
	rc.CancelledJobRetentionPeriod = orDefault(rc.CancelledJobRetentionPeriod, max(cfg.Keep, week))
	rc.DiscardedJobRetentionPeriod = orDefault(rc.DiscardedJobRetentionPeriod, max(cfg.Keep, week))
	if rc.Logger == nil {
		rc.Logger = cfg.Logger
	}
	if p := rc.CompletedJobRetentionPeriod; p > 0 && p < cfg.Keep {
		rc.Logger.Warn("River keeps completed jobs for less than the queue's Keep: a duplicate delivery is recognised only that long",
			"completed_job_retention", p.String(), "keep", cfg.Keep.String())
	}
	switch {
	case rc.RescueStuckJobsAfter != 0:
		if rc.RescueStuckJobsAfter <= cfg.Timeout {
			return fmt.Errorf("riverqueue: River's RescueStuckJobsAfter %s must exceed Config.Timeout %s, or a slow job is run beside itself: %w",
				rc.RescueStuckJobsAfter, cfg.Timeout, dispatch.ErrInvalidConfig)
		}
	case setRescue:
		rc.RescueStuckJobsAfter = cfg.RescueAfter
		if rc.JobTimeout == 0 {
			// River requires the rescue to exceed the default job
			// timeout (a minute when unset): jobs without a timeout of
			// their own get hookkit's.
			rc.JobTimeout = cfg.Timeout
		}
	}
	return nil
}

// Client returns the River client, for the host's own jobs, its UI and its
// tests.
func (q *Queue[TDriver, TTx]) Client() *river.Client[TTx] { return q.client }

// Migrate brings River's tables up to date. Replicas that start together
// may all call it: one migrates at a time, behind a lock (on PostgreSQL an
// advisory lock, held by a transaction of its own for the migration's
// length, so the pool needs two connections; on SQLite the database's write
// lock, the migration running in the transaction that holds it), and the
// others wait, then find the tables current.
// River's own migrator, called concurrently, fails on PostgreSQL with a
// duplicate-key error on its types. An error names the schema migrated.
func (q *Queue[TDriver, TTx]) Migrate(ctx context.Context) error {
	schema := q.client.Schema()
	where := "River's tables"
	if schema != "" {
		where += " in schema " + schema
	}
	m, err := rivermigrate.New[TTx](q.driver, &rivermigrate.Config{Logger: q.cfg.Logger, Schema: schema})
	if err != nil {
		return fmt.Errorf("riverqueue: migrate %s: %w", where, err)
	}
	tx, err := q.txs.Begin(ctx)
	if err != nil {
		return fmt.Errorf("riverqueue: migrate %s: begin: %w", where, err)
	}
	exec := q.driver.UnwrapExecutor(tx)
	if q.driver.DatabaseName() == "sqlite" {
		// The whole migration in the transaction that holds the write
		// lock (any other connection would wait for it).
		err = exec.Exec(ctx, `CREATE TABLE IF NOT EXISTS hookkit_river_migration (id INTEGER PRIMARY KEY)`)
		if err == nil {
			err = exec.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+livenessTable+` (client_id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL)`)
		}
		if err == nil {
			err = exec.Exec(ctx, `DELETE FROM hookkit_river_migration`) // a write: the lock, from here to the commit
		}
		if err == nil {
			// Deprecated for PostgreSQL, where one migration adds an enum
			// value a later one uses; SQLite's migrations have no enums
			// and run in one transaction, the one holding the lock.
			//lint:ignore SA1019 the PostgreSQL caveat does not apply to SQLite
			_, err = m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil)
		}
	} else {
		// River's PostgreSQL migrations cannot share one transaction (one
		// adds an enum value another then uses): this transaction only
		// holds the lock, on its connection, while the migrator runs on
		// others.
		err = exec.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey(schema))
		if err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	}
	if err != nil {
		q.txs.End(ctx, tx, false)
		return fmt.Errorf("riverqueue: migrate %s: %w", where, err)
	}
	if err := q.txs.End(ctx, tx, true); err != nil {
		return fmt.Errorf("riverqueue: migrate %s: commit: %w", where, err)
	}
	return q.order.Migrate(ctx) // the ordering guard's tables
}

// migrationLockKey is the advisory lock of River's migration in schema:
// replicas migrating different schemas do not wait for each other.
func migrationLockKey(schema string) int64 {
	var h uint64 = 14695981039346656037 // FNV-1a
	for _, c := range []byte("hookkit/river-migration " + schema) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return int64(h)
}

// Start starts the workers: this process runs handlers for the queue. The
// workers outlive ctx's cancellation (they keep its values): a host that
// starts them with its signal context stops them with Stop, which lets
// running handlers finish, rather than have River cancel them the moment the
// signal arrives.
func (q *Queue[TDriver, TTx]) Start(ctx context.Context) error {
	if err := q.checkPool(ctx); err != nil {
		return err
	}
	q.batch.mu.Lock()
	q.batch.closed = false // a queue stopped and started again acknowledges again
	q.batch.mu.Unlock()
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	q.startSweeping(context.WithoutCancel(ctx))
	return nil
}

// poolNeeded is how many connections a process that runs the queue's
// workers needs so that no acknowledgement waits for a handler to end (see
// "Connections" in the package doc): one per worker (an attempt holds its
// transaction for the handler's whole run), one per batch written at once,
// one for what holds no connection for long (River's fetches, completer,
// leader election and maintenance, the sweep, SQLite's notification
// polling) and, on PostgreSQL, the connection River's notifier holds for
// LISTEN.
func (q *Queue[TDriver, TTx]) poolNeeded() int {
	n := q.cfg.MaxWorkers + q.batch.flushers + 1
	if !q.sqlite() {
		n++
	}
	return n
}

// checkPool warns, or refuses with Config.RefuseSmallPool, when the
// Transactor says its pool is smaller than poolNeeded.
func (q *Queue[TDriver, TTx]) checkPool(ctx context.Context) error {
	sized, ok := any(q.txs).(interface{ MaxConns() int })
	if !ok {
		return nil
	}
	have, need := sized.MaxConns(), q.poolNeeded()
	if have <= 0 || have >= need {
		return nil // no limit, or enough
	}
	if q.cfg.RefuseSmallPool {
		return fmt.Errorf("riverqueue: the pool has %d connections, the queue needs %d (%d workers, %d batch flushers, River's own): "+
			"raise the pool's size or lower Config.MaxWorkers: %w", have, need, q.cfg.MaxWorkers, q.batch.flushers, dispatch.ErrInvalidConfig)
	}
	q.cfg.Logger.LogAttrs(ctx, slog.LevelWarn,
		"riverqueue: the pool has fewer connections than the queue needs: acknowledgements will wait for handlers to end; raise the pool's size or lower Config.MaxWorkers",
		slog.Int("pool", have), slog.Int("needed", need), slog.Int("workers", q.cfg.MaxWorkers), slog.Int("batch_flushers", q.batch.flushers))
	return nil
}

// Stop answers every acknowledgement still waiting for its batch (and 503
// to any that arrives from then on, until Start), then stops the workers:
// no new job starts, and running handlers finish
// until ctx ends; then their contexts are canceled (what they did not
// commit is retried later). Everything queued stays in the database for
// the next start. Stop returns when the workers are done.
func (q *Queue[TDriver, TTx]) Stop(ctx context.Context) error {
	// New acknowledgements are refused and the sweep told to end at once;
	// waiting for the batches in flight and the sweep under way comes
	// after the workers stop fetching, since on SQLite either may wait for
	// a running handler's transaction.
	q.batch.close()
	waitSweep := q.stopSweeping()
	defer waitSweep()
	defer q.batch.idle.Wait() // every acknowledgement waiting for a batch is answered
	err := q.client.Stop(ctx)
	if err == nil || ctx.Err() == nil {
		return err
	}
	// Past the deadline: cancel the running handlers' contexts and wait
	// a moment for them to return.
	cancelCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(err, q.client.StopAndCancel(cancelCtx))
}

// Accept implements dispatch.Acceptor: the event's job is inserted, in a
// batch with the acknowledgements that arrive meanwhile (Config.BatchSize),
// and committed before it returns. A duplicate of an event whose job River
// still keeps is OutcomeDuplicate, without a second job. An event that
// cannot be stored (a time JSON cannot hold, a string the database
// refuses) is OutcomeMalformed (400), alone: it is checked before it joins
// a batch, and a batch the database still refuses is split until each of
// its deliveries is answered for itself. A batch that fails for any other
// reason is OutcomeUnavailable (503) for every delivery in it. A delivery
// whose context ends (its deadline, the Endpoint's Shutdown) before its
// batch is written is withdrawn from it and answered OutcomeUnavailable,
// having done nothing; one whose batch is being written waits for it.
func (q *Queue[TDriver, TTx]) Accept(ctx context.Context, a dispatch.Acceptance) dispatch.Result {
	params, err := q.insertParams(ctx, a.Event)
	if err != nil {
		return dispatch.Result{Outcome: dispatch.OutcomeMalformed, Err: err}
	}
	r := &ackRequest{key: a.Event.Key(), params: params, done: make(chan dispatch.Result, 1)}
	if deadline, ok := ctx.Deadline(); ok {
		r.deadline = deadline
	}
	q.batch.submit(r)
	select {
	case res := <-r.done:
		return res
	case <-ctx.Done():
		if q.batch.withdraw(r) {
			return dispatch.Result{Outcome: dispatch.OutcomeUnavailable,
				Err: fmt.Errorf("riverqueue: no batch could take the event before its deadline: %w", context.Cause(ctx))}
		}
		return <-r.done // its batch is being written: what it did is the answer
	}
}

// insertParams is e's job as a batch inserts it, encoded and checked.
func (q *Queue[TDriver, TTx]) insertParams(ctx context.Context, e *events.Event) (river.InsertManyParams, error) {
	args, err := argsOf(e).insertable()
	if err != nil {
		return river.InsertManyParams{}, err
	}
	return river.InsertManyParams{Args: args, InsertOpts: q.insertOpts(ctx)}, nil
}

// EnqueueTx inserts e's job in the host's transaction tx: it is queued if
// and only if tx commits. It reports whether a job was inserted (false for
// a duplicate of an event River still keeps). An event that cannot be
// stored is an error wrapping events.ErrMalformedEvent, before tx is used.
func (q *Queue[TDriver, TTx]) EnqueueTx(ctx context.Context, tx TTx, e *events.Event) (bool, error) {
	if err := e.Validate(); err != nil {
		return false, err
	}
	params, err := q.insertParams(ctx, e)
	if err != nil {
		return false, err
	}
	res, err := q.client.InsertTx(ctx, tx, params.Args, params.InsertOpts)
	if err != nil {
		return false, fmt.Errorf("riverqueue: enqueue %s: %w", e.Type, err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// metadataKey is where a job's metadata keeps the request's trace context.
const metadataKey = "hookkit_trace"

func (q *Queue[TDriver, TTx]) insertOpts(ctx context.Context) *river.InsertOpts {
	opts := &river.InsertOpts{
		Queue:       q.cfg.Queue,
		MaxAttempts: len(q.cfg.Retry) + 1,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: uniqueStates},
	}
	carrier := propagation.MapCarrier{}
	q.cfg.Propagator.Inject(ctx, carrier)
	for k, v := range carrier {
		if strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 {
			// A host's own propagator let a NUL through, which jsonb
			// refuses: the job goes without the (unsigned) trace context
			// rather than not at all.
			return opts
		}
	}
	if len(carrier) > 0 {
		opts.Metadata, _ = json.Marshal(map[string]propagation.MapCarrier{metadataKey: carrier})
	}
	return opts
}

// rerunAfter is the attempt a re-run dead letter was re-run after (0 for
// a job never re-run).
func rerunAfter(metadata []byte) int {
	var md struct {
		After int `json:"hookkit_rerun_after_attempt"`
	}
	if len(metadata) == 0 || json.Unmarshal(metadata, &md) != nil {
		return 0
	}
	return md.After
}

// traceContext returns ctx carrying the trace context a job's metadata
// holds, as the remote parent of what the worker does.
func (q *Queue[TDriver, TTx]) traceContext(ctx context.Context, metadata []byte) context.Context {
	// River keeps keys of its own beside hookkit's (river:unique_nonce).
	var md map[string]json.RawMessage
	var carrier propagation.MapCarrier
	if len(metadata) == 0 || json.Unmarshal(metadata, &md) != nil || json.Unmarshal(md[metadataKey], &carrier) != nil {
		return ctx
	}
	return q.cfg.Propagator.Extract(ctx, carrier)
}

// worker runs a job's event through the router, in a transaction that also
// completes the job.
type worker[TDriver riverdriver.Driver[TTx], TTx any] struct {
	river.WorkerDefaults[jobArgs]
	q *Queue[TDriver, TTx]
}

// Timeout implements river.Worker.
func (w *worker[TDriver, TTx]) Timeout(*river.Job[jobArgs]) time.Duration { return w.q.cfg.Timeout }

// NextRetry implements river.Worker: the schedule's delay after the
// attempt that failed, with jitter.
func (w *worker[TDriver, TTx]) NextRetry(job *river.Job[jobArgs]) time.Time {
	schedule := w.q.cfg.Retry
	if len(schedule) == 0 {
		// No retries configured now, but a job inserted under an earlier
		// configuration still has attempts left: its first delay.
		schedule = StandardWebhooksSchedule
	}
	attempt := job.Attempt - rerunAfter(job.Metadata) // a re-run starts the schedule over
	d := schedule[min(max(attempt, 1), len(schedule))-1]
	if j := w.q.cfg.Jitter; j > 0 {
		d = time.Duration(float64(d) * (1 + j*(2*rand.Float64()-1)))
	}
	return time.Now().Add(d)
}

// Work implements river.Worker.
func (w *worker[TDriver, TTx]) Work(ctx context.Context, job *river.Job[jobArgs]) error {
	q := w.q
	e := job.Args.event()
	ctx = q.traceContext(ctx, job.Metadata)
	tx, err := q.txs.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if held, err := q.holdJob(ctx, tx, job.ID, job.Attempt); err != nil || !held {
		q.txs.End(ctx, tx, false)
		if err == nil {
			err = errRescued // a paused process that woke up: another attempt owns the job
		}
		q.logAttempt(ctx, job, e, dispatch.OutcomeFailed, err)
		return err
	}
	if snoozes(job.Metadata) > 0 { // kept before: its row goes with this attempt's commit
		if err := q.order.ForgetTx(ctx, tx, e.Key()); err != nil {
			q.txs.End(ctx, tx, false)
			return err
		}
	}
	g := q.order.Guard(tx)
	err = q.router.Dispatch(dispatch.WithGuard(txstep.WithTx(dispatch.WithAttempt(ctx, job.Attempt), tx), g), e)
	if errors.Is(err, dispatch.ErrNoHandler) {
		err = dispatch.Permanent(err) // routes changed since the insert: no retry will add one
	}
	if errors.Is(err, dispatch.ErrStale) {
		q.logAttempt(ctx, job, e, dispatch.OutcomeStale, err)
		err = nil // completed, not run: a newer event of its object was applied
	}
	if err == nil {
		err = q.wakeKept(ctx, tx, g)
	}
	if err == nil {
		if _, err = river.JobCompleteTx[TDriver](ctx, tx, job); err == nil {
			err = q.txs.End(ctx, tx, true)
		} else {
			q.txs.End(ctx, tx, false)
		}
		if err != nil {
			err = fmt.Errorf("completing the job with the handler's writes: %w", err)
			q.logAttempt(ctx, job, e, dispatch.OutcomeFailed, err)
		}
		return err
	}
	q.txs.End(ctx, tx, false)
	if errors.Is(err, dispatch.ErrNotYet) {
		return q.keepJob(ctx, job, e, g, err)
	}
	if dispatch.IsPermanent(err) {
		q.logAttempt(ctx, job, e, dispatch.OutcomeDeadLettered, err)
		return river.JobCancel(err)
	}
	outcome := dispatch.OutcomeFailed
	if job.Attempt >= job.MaxAttempts {
		outcome = dispatch.OutcomeDeadLettered // discarded: River's dead letter
	}
	q.logAttempt(ctx, job, e, outcome, err)
	return err
}

// logAttempt writes one line for an attempt that failed, was kept or was
// stale, in the Endpoint's vocabulary.
func (q *Queue[TDriver, TTx]) logAttempt(ctx context.Context, job *river.Job[jobArgs], e *events.Event, outcome dispatch.Outcome, err error) {
	level := slog.LevelWarn
	var panicked *dispatch.PanicError
	attrs := []slog.Attr{slog.String("outcome", outcome.String()), slog.String("source", e.Source), slog.String("type", e.Type),
		slog.String("id", e.ID), slog.Int("attempt", job.Attempt), slog.Int("max_attempts", job.MaxAttempts),
		slog.Int64("job", job.ID), slog.String("error", logtext.Clip(err.Error(), 500))}
	if errors.As(err, &panicked) {
		attrs = append(attrs, slog.String("stack", string(panicked.Stack)))
		level = slog.LevelError
	}
	switch outcome {
	case dispatch.OutcomeDeadLettered:
		level = slog.LevelError
	case dispatch.OutcomeKept, dispatch.OutcomeStale:
		level = slog.LevelInfo
	}
	q.cfg.Logger.LogAttrs(ctx, level, "webhook attempt", attrs...)
}
