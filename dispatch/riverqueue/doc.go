// Package riverqueue is hookkit's durable queue as an accept step, on River
// (github.com/riverqueue/river), the transactional job queue that runs on
// the PostgreSQL (riverpgxv5) or SQLite (riversqlite) database the host
// already has. An Endpoint with a [Queue] as its accept step verifies and
// parses a delivery, inserts one River job for it, and answers 200 only
// once that insert has committed: what is acknowledged survives SIGTERM,
// SIGKILL and a lost machine, and nothing is built here that River does
// not already do (retries, a rescuer for jobs whose process died, leader
// election across replicas, a web UI).
//
//	q, err := riverqueue.New(riverpgxv5.New(pool), pgxtx.NewTransactor(pool), router, riverqueue.Config{})
//	if err != nil { ... }
//	if err := q.Migrate(ctx); err != nil { ... } // River's tables
//	if err := q.Start(ctx); err != nil { ... }   // workers, on every replica that should run handlers
//	defer q.Stop(shutdownCtx)
//	mux.Handle("/webhooks/twilio", dispatch.NewEndpoint(v, twilioevent.NewParser(), router,
//		dispatch.WithAcceptor(q)))
//
// # What a 200 means
//
// The job's insert is committed. The job is unique by the event's key in
// every state River keeps (queued, scheduled, running, retryable,
// completed, cancelled and discarded), and completed jobs are kept for
// [Config.Keep] (96 hours, longer than any sender retries): a duplicate of an
// event queued, running, done or dead-lettered within that window is
// answered 200 without a second job. River's unique index, not the
// idempotency table, makes this so: the acknowledgement is one insert. An
// insert that fails is answered 503 with Retry-After. A host that changes
// its own data and wants the event queued atomically with it enqueues in
// its own transaction (EnqueueTx).
//
// # Group commit
//
// Acknowledgements that arrive while one is being written share the next
// transaction: one multi-row insert, one commit, and each delivery of the
// batch is answered after it (200 queued, 200 duplicate, or 503 for all of
// them if the database could not answer). One delivery never fails
// another: each job's arguments are checked before it joins a
// batch (a time JSON cannot hold, a NUL PostgreSQL cannot store: 400 at
// once, and logged), and a batch the database still refuses for a row's
// data (PostgreSQL's data exceptions, SQLite's constraint and type errors,
// told by their codes) is split until that row is alone, answered 400,
// and every other delivery answered for itself. A delivery whose deadline
// (dispatch.WithTimeout) passes while it waits for a batch is withdrawn
// and answered 503, having done nothing; one whose batch is being written
// is answered with what it did. A duplicate of an event whose job is
// running never waits for that job's handler: the attempt holds its job's
// row with the weakest lock that keeps the sweep off it (see Shutdown and
// crashes), which River's unique insert does not wait for. A lone delivery is written at once; under
// load batches grow by themselves ([Config.BatchSize], BatchWait,
// BatchFlushers), and many acknowledgements share one commit (BENCHMARKS.md,
// at the repository's root, compares it with a hand-written River
// receiver). What a 200 promises does not change: the job is committed.
//
// # Workers
//
// Every replica that calls Start runs the router's handlers: the same On
// and HandleFunc handlers, the same Permanent semantics. Each attempt runs
// inside a transaction on the host's database, in which the job is also
// completed (River's JobCompleteTx): a handler that writes through that
// transaction (sqltx.Tx(ctx), pgxtx.Tx(ctx)) has its effect and its job's
// completion commit together, so the effect happens exactly once even if
// the worker is killed right after the commit. A failed attempt is retried
// on a schedule close to the senders' own ([Config.Retry]; by default the
// Standard Webhooks schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), with
// jitter. After the last attempt the job is discarded; a permanent failure
// (Permanent, a payload that does not decode, a type no handler takes any
// more) cancels it at once. Discarded and cancelled jobs are
// the durable dead letters: DeadLetters (a dispatch.DeadLetterStore, which
// package dispatch/admin serves over HTTP) lists them, Rerun puts one back
// in the queue with a full set of attempts once its cause is fixed, and
// Discard closes one,
// keeping a tombstone without its body so that the event stays a duplicate
// for the keep window (a Twilio callback, whose signature never expires,
// cannot be replayed into a new job). Rerun and Discard each lock the job
// in one transaction: racing each other, one wins and the other is told
// the letter is gone. River's web UI
// (riverqueue.com/riverui) shows them too.
//
// On SQLite, a transaction that writes holds the whole database's write
// lock until it ends, and the attempt's transaction begins with the
// handler: while a handler runs, every other write — acknowledgements
// included — waits for it (up to the connection's busy timeout, then 503).
// Keep handlers on SQLite short; put slow ones on PostgreSQL, whose row
// locks let acknowledgements and other handlers go on.
//
// # Ordered handlers
//
// Handlers guarded by dispatch.Ordered run with the object's position in
// the attempt's transaction (package dispatch/order's tables, which
// Migrate creates): the position commits with the handler's writes and the
// job's completion, and the position's row is the object's lock, so one
// object's jobs run one at a time across workers and replicas. A job
// older than its object's last is completed without running (logged as
// stale). A handler that returns dispatch.ErrNotYet has its job snoozed
// (River keeps it; no attempt is counted), with a row that points at it:
// the worker that advances the object makes it available in its own
// transaction. It sleeps a quarter of a second four times, then follows
// order.DefaultRetry (1 min to 24 h), and is cancelled, a dead letter,
// after the last.
//
// # Connections
//
// A process that runs the queue's workers holds, at once: one connection
// per worker (an attempt's transaction lasts as long as its handler), one
// per batch of acknowledgements being written ([Config.BatchFlushers]: 2
// on PostgreSQL, 1 on SQLite), one for River's notifier on PostgreSQL
// (LISTEN holds it), and one for what takes a connection briefly (River's
// fetches, completer, leader election and maintenance, hookkit's sweep).
// Its pool needs MaxWorkers + BatchFlushers + 2 connections on PostgreSQL,
// + 1 on SQLite: 14 and 12 with the defaults (pgxpool's own default is 4
// connections on 2 cores). A smaller pool makes acknowledgements wait for
// handlers to end, and the Endpoint's deadline then answers them 503. Start
// learns the pool's size from its txstep.Driver (sqltx.Transactor and
// pgxtx.Transactor report database/sql's SetMaxOpenConns and pgxpool's
// MaxConns) and logs a warning when it is smaller, or refuses to start
// with [Config.RefuseSmallPool]. Size pgxpool with pool_max_conns in its
// URL, or pgxpool.Config.MaxConns. A process that only acknowledges
// (no Start) needs BatchFlushers + 1. The host's own queries on the same
// pool come on top.
//
// # Shutdown and crashes
//
// Stop lets running handlers finish within its context's deadline; what is
// queued stays in the database for the next start. A process that dies
// (SIGKILL, a lost machine) leaves its running jobs for the others: each
// process that runs workers sweeps, every [Config.SweepInterval] (a second),
// for the queue's running jobs whose worker is gone, and retries them at
// once. On PostgreSQL a worker holds its job's row lock for the whole
// attempt, so a job whose lock can be taken has no live worker, however
// slow a live one's handler; on SQLite a process whose liveness row is
// older than [Config.LivenessTimeout] (5 s) is presumed dead. An attempt
// whose job was rescued while it ran (a paused process that wakes up)
// finds its job no longer its own and commits nothing. A rescue is an
// attempt like any other: counted, logged once (outcome "failed"), told to
// the router's observers as a failed asynchronous attempt, and recorded in
// the job's errors, which River's UI shows. The crash tests
// (internal/integration) hold every acknowledged effect to be there within
// 15 s of the last restart. River's own rescuer ([Config.RescueAfter]) stays as the backstop.
//
// Limits on SQLite, where several processes may share one file: a
// process paused for longer than LivenessTimeout while others run has its
// jobs retried by them (its own late attempt then commits nothing); and
// since a handler holds SQLite's one write lock for its whole attempt, a
// long handler delays every other process's writes, sweeps included.
//
// # Several replicas
//
// Every replica may call Migrate at start: one migrates at a time (an
// advisory lock on PostgreSQL, the write lock on SQLite), the others wait
// and find the tables current. A host that runs its own jobs on the same
// client passes its river.Config in [Config.River]; its settings stay its
// own (see [Config.River] for the zeros hookkit fills in).
//
// # Trace context
//
// The request's trace context (W3C traceparent and baggage, through
// OpenTelemetry's propagators) travels with the job in its metadata, and the
// worker's context carries it as the remote parent, so a worker's span links
// to the delivery's.
//
// # Troubleshooting
//
// Jobs wait in "available" and nothing runs them: only processes that call
// Start run handlers; an Endpoint alone only inserts. On SQLite, other
// processes find new jobs by polling (River's FetchPollInterval, 1 s by
// default); PostgreSQL notifies them at once.
//
// On SQLite, acknowledgements stall (then 503) while a handler runs: see
// Workers above; keep handlers on SQLite short, or use PostgreSQL.
//
// Acknowledgements are slow or answered 503 under load while handlers run:
// the pool is smaller than Connections above says; Start logged a warning.
//
// A job comes back after its process died: that is River's rescuer, which
// retries a job left running by a dead process after [Config.RescueAfter]
// (the attempt timeout plus a minute). Keep handlers under [Config.Timeout].
//
// River's UI shows nothing: it must read the same database as the queue,
// with the same schema (search_path on PostgreSQL).
package riverqueue
