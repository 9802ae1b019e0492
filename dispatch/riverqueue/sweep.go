package riverqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/hookkit/hookkit/dispatch"
)

// Crash recovery in seconds. River's rescuer retries a job left running by
// a dead process only after RescueStuckJobsAfter (an hour by default),
// because from a timestamp it cannot tell a dead worker from a slow one.
// hookkit's workers tell the database instead:
//
//   - On PostgreSQL, each attempt's transaction (the one the handler writes
//     in and the job completes in) first locks the job's row, FOR KEY
//     SHARE. A sweeper on every replica that runs workers, every
//     SweepInterval, takes the row lock of the queue's running jobs it can
//     (FOR UPDATE SKIP LOCKED, which conflicts with every row lock): a live
//     worker's lock cannot be taken, however slow its handler, and the
//     database released a dead process's with its connection. What it
//     takes, older than SweepGrace (the moment between River marking a job
//     running and its worker locking it), is retried at once. FOR KEY SHARE
//     is the weakest lock that does this, and the only one that does not
//     stop a duplicate delivery's insert: River's unique insert meets the
//     running job's row with ON CONFLICT DO UPDATE, a no-key update, which
//     FOR UPDATE would make wait for the whole attempt, holding its batch,
//     and every acknowledgement behind it, for as long as the handler runs.
//   - On SQLite, whose one writer makes row locks moot, each process
//     records that it is alive in a liveness row, every SweepInterval and
//     at the start of every attempt. A running job is rescued when the
//     process that last attempted it is not this one and its row is older
//     than LivenessTimeout.
//
// A rescue is an attempt like any other: counted against the job's
// attempts, logged once (outcome "failed", "the worker running it died"),
// recorded in the job's errors (River's UI shows it). An attempt that was
// rescued while it ran (a paused process that wakes up) finds, in its own
// transaction, that the job is no longer its own, and commits nothing.

// livenessTable is where processes on SQLite say they are alive.
const livenessTable = "hookkit_river_liveness"

var (
	// errWorkerDied is how a rescued attempt ended, for observers.
	errWorkerDied = errors.New("riverqueue: the worker running the job died")
	// errRescued is the end of an attempt whose job was rescued while it
	// ran.
	errRescued = errors.New("riverqueue: the job was rescued while this attempt ran (its process was presumed dead): nothing of this attempt is committed")
)

// sweeper runs the sweep loop while the queue's workers run.
type sweeper struct {
	stop chan struct{}
	done sync.WaitGroup
}

// startSweeping starts the sweep loop; stopSweeping ends it.
func (q *Queue[TDriver, TTx]) startSweeping(ctx context.Context) {
	q.sweepMu.Lock()
	defer q.sweepMu.Unlock()
	if q.sweep != nil {
		return
	}
	s := &sweeper{stop: make(chan struct{})}
	q.sweep = s
	s.done.Go(func() {
		t := time.NewTicker(q.cfg.SweepInterval)
		defer t.Stop()
		for {
			if _, err := q.sweepOnce(ctx); err != nil {
				q.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "riverqueue: sweep for jobs of dead workers failed; retrying", slog.String("error", err.Error()))
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	})
}

// stopSweeping tells the sweep loop to end and returns a function that
// waits until it has (a sweep under way on SQLite may wait for a handler's
// transaction: the caller stops the workers meanwhile).
func (q *Queue[TDriver, TTx]) stopSweeping() (wait func()) {
	q.sweepMu.Lock()
	s := q.sweep
	q.sweep = nil
	q.sweepMu.Unlock()
	if s == nil {
		return func() {}
	}
	close(s.stop)
	return s.done.Wait
}

func (q *Queue[TDriver, TTx]) sqlite() bool { return q.driver.DatabaseName() == "sqlite" }

func (q *Queue[TDriver, TTx]) table(name string) string {
	if schema := q.client.Schema(); schema != "" {
		return `"` + schema + `".` + name
	}
	return name
}

// sqliteTime is how River writes times on SQLite.
func sqliteTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

// alive records, on SQLite, that this process is alive (in tx, or on its
// own when exec is the pool's).
func (q *Queue[TDriver, TTx]) alive(ctx context.Context, exec riverdriver.Executor) error {
	return exec.Exec(ctx, `INSERT INTO `+q.table(livenessTable)+` (client_id, seen_at) VALUES ($1, $2)
ON CONFLICT (client_id) DO UPDATE SET seen_at = excluded.seen_at`, q.client.ID(), time.Now().UnixMilli())
}

// holdJob starts an attempt's transaction: it locks the job's row
// (PostgreSQL, FOR KEY SHARE: see the top of this file) or records this
// process alive (SQLite), and checks that the job is still this attempt's:
// running, at this attempt. false means it was rescued meanwhile.
func (q *Queue[TDriver, TTx]) holdJob(ctx context.Context, tx TTx, id int64, attempt int) (bool, error) {
	exec := q.driver.UnwrapExecutor(tx)
	var query string
	if q.sqlite() {
		if err := q.alive(ctx, exec); err != nil {
			return false, err
		}
		query = `SELECT count(*) FROM ` + q.table("river_job") + ` WHERE id = $1 AND attempt = $2 AND state = 'running'`
	} else {
		query = `SELECT count(*) FROM (SELECT 1 FROM ` + q.table("river_job") + ` WHERE id = $1 AND attempt = $2 AND state = 'running' FOR KEY SHARE) held`
	}
	var n int
	if err := exec.QueryRow(ctx, query, id, attempt).Scan(&n); err != nil {
		return false, err
	}
	return n == 1, nil
}

// sweepOnce rescues the queue's jobs of dead workers, in one transaction,
// and returns how many. Each rescue is logged and told to the router's
// observers once that transaction has committed, so a sweep that fails
// and is tried again reports nothing twice.
func (q *Queue[TDriver, TTx]) sweepOnce(ctx context.Context) (int, error) {
	if q.sqlite() {
		if err := q.alive(ctx, q.driver.GetExecutor()); err != nil {
			return 0, fmt.Errorf("liveness: %w", err)
		}
	}
	tx, err := q.txs.Begin(ctx)
	if err != nil {
		return 0, err
	}
	rescued, err := q.rescueDead(ctx, q.driver.UnwrapExecutor(tx))
	if err != nil {
		q.txs.End(ctx, tx, false)
		return 0, err
	}
	if err := q.txs.End(ctx, tx, true); err != nil {
		return 0, err
	}
	for _, r := range rescued {
		q.reportRescue(ctx, r)
	}
	return len(rescued), nil
}

// rescue is a job the sweep made available again (or discarded: final).
type rescue struct {
	job   *rivertype.JobRow
	final bool
}

// reportRescue logs a rescued attempt and tells the router's observers of
// it: one async attempt that failed, or was the last.
func (q *Queue[TDriver, TTx]) reportRescue(ctx context.Context, r rescue) {
	outcome := dispatch.OutcomeFailed
	if r.final {
		outcome = dispatch.OutcomeDeadLettered
	}
	attrs := []slog.Attr{slog.String("outcome", outcome.String())}
	var a jobArgs
	if err := json.Unmarshal(r.job.EncodedArgs, &a); err == nil {
		q.router.ReportLost(ctx, a.event(), r.job.Attempt, errWorkerDied, r.final)
		attrs = append(attrs, slog.String("source", a.Source), slog.String("type", a.Type), slog.String("id", a.ID))
	}
	attrs = append(attrs, slog.Int("attempt", r.job.Attempt), slog.Int("max_attempts", r.job.MaxAttempts), slog.Int64("job", r.job.ID),
		slog.String("error", "the worker running it died; rescued"))
	q.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "webhook attempt", attrs...)
}

const sweepBatch = 100

// rescueDead rescues, in exec's transaction, up to sweepBatch of the
// queue's running jobs whose workers are dead, and returns them.
func (q *Queue[TDriver, TTx]) rescueDead(ctx context.Context, exec riverdriver.ExecutorTx) ([]rescue, error) {
	job := q.table("river_job")
	var query string
	var args []any
	if q.sqlite() {
		query = `SELECT coalesce(json_group_array(id), '[]') FROM (SELECT id FROM ` + job + `
WHERE state = 'running' AND queue = $1 AND kind = $2 AND attempted_at < $3
	AND coalesce(json_extract(attempted_by, '$[#-1]'), '') <> $4
	AND NOT EXISTS (SELECT 1 FROM ` + q.table(livenessTable) + ` l
		WHERE l.client_id = json_extract(` + job + `.attempted_by, '$[#-1]') AND l.seen_at > $5)
ORDER BY id LIMIT ` + fmt.Sprint(sweepBatch) + `)`
		now := time.Now()
		args = []any{q.cfg.Queue, Kind, sqliteTime(now.Add(-q.cfg.SweepGrace)), q.client.ID(), now.Add(-q.cfg.LivenessTimeout).UnixMilli()}
	} else {
		query = `SELECT coalesce(json_agg(id), '[]')::text FROM (SELECT id FROM ` + job + `
WHERE state = 'running' AND queue = $1 AND kind = $2 AND attempted_at < now() - $3::bigint * interval '1 millisecond'
ORDER BY id LIMIT ` + fmt.Sprint(sweepBatch) + ` FOR UPDATE SKIP LOCKED) dead`
		args = []any{q.cfg.Queue, Kind, q.cfg.SweepGrace.Milliseconds()}
	}
	var text string
	if err := exec.QueryRow(ctx, query, args...).Scan(&text); err != nil {
		return nil, err
	}
	var ids []int64
	if err := json.Unmarshal([]byte(text), &ids); err != nil || len(ids) == 0 {
		return nil, err
	}
	jobs, err := exec.JobGetByIDMany(ctx, &riverdriver.JobGetByIDManyParams{ID: ids, Schema: q.client.Schema()})
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	params := &riverdriver.JobRescueManyParams{Schema: q.client.Schema(), StuckHorizon: now.Add(time.Hour)}
	var rescued []rescue
	for _, j := range jobs {
		if j.State != rivertype.JobStateRunning {
			continue
		}
		errorData, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: j.Attempt, Error: "the worker running it died (hookkit's sweep found its job unheld)"})
		if err != nil {
			return nil, err
		}
		r := rescue{job: j, final: j.Attempt >= j.MaxAttempts}
		state, finalized := rivertype.JobStateAvailable, (*time.Time)(nil)
		if r.final {
			state, finalized = rivertype.JobStateDiscarded, &now
		}
		params.ID = append(params.ID, j.ID)
		params.Error = append(params.Error, errorData)
		params.FinalizedAt = append(params.FinalizedAt, finalized)
		params.ScheduledAt = append(params.ScheduledAt, now)
		params.State = append(params.State, string(state))
		rescued = append(rescued, r)
	}
	if len(rescued) == 0 {
		return nil, nil
	}
	if _, err := exec.JobRescueMany(ctx, params); err != nil {
		return nil, err
	}
	return rescued, nil
}
