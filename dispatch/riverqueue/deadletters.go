package riverqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/internal/logtext"
)

// DeadLetters are a Queue's dead letters: its jobs that were discarded
// (every attempt failed) or cancelled (a permanent failure), which River
// keeps with their event, their errors and their attempts. They show in
// River's UI too.
type DeadLetters[TTx any] struct {
	client *river.Client[TTx]
	driver riverdriver.Driver[TTx]
	txs    Transactor[TTx]
	queue  string
}

// DeadLetters returns the queue's dead letters.
func (q *Queue[TDriver, TTx]) DeadLetters() *DeadLetters[TTx] {
	return &DeadLetters[TTx]{client: q.client, driver: q.driver, txs: q.txs, queue: q.cfg.Queue}
}

// DeadLetter is a dead letter and the job that holds it.
type DeadLetter struct {
	dispatch.DeadLetter
	// JobID is the River job's ID.
	JobID int64
	// State is "discarded" or "cancelled".
	State string
}

// deadStates are the job states of dead letters.
var deadStates = []rivertype.JobState{rivertype.JobStateDiscarded, rivertype.JobStateCancelled}

// List returns the dead letters f selects (by source, type, when they died
// and how many), oldest first.
func (d *DeadLetters[TTx]) List(ctx context.Context, f dispatch.DeadLetterFilter) ([]DeadLetter, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = dispatch.DefaultDeadLetterLimit
	}
	var out []DeadLetter
	err := d.each(ctx, func(job *rivertype.JobRow, dl DeadLetter) bool {
		e := dl.Event
		switch {
		case f.Source != "" && e.Source != f.Source, f.Type != "" && e.Type != f.Type,
			!f.Since.IsZero() && dl.At.Before(f.Since), !f.Until.IsZero() && !dl.At.Before(f.Until):
			return true
		}
		out = append(out, dl)
		return len(out) < limit
	})
	return out, err
}

// Retry puts the dead letter of the event with key (Event.Key()) back in
// the queue (River's JobRetry): the workers run it again. It returns an
// error wrapping dispatch.ErrNotDeadLettered if there is none. It is one
// transaction that locks the job: a Retry racing a Discard of the same
// letter, or another Retry, finds it no longer dead and says so.
func (d *DeadLetters[TTx]) Retry(ctx context.Context, key string) error {
	return d.locked(ctx, "retry", key, func(tx TTx, job *rivertype.JobRow) error {
		_, err := d.client.JobRetryTx(ctx, tx, job.ID)
		return err
	})
}

// discardedKey marks, in a job's metadata, a dead letter an operator
// discarded.
const discardedKey = "hookkit_discarded_at"

// Discard closes the dead letter of key without running it. The job stays
// as a tombstone for the keep window (Config.Keep): it is marked completed
// (River's UI shows it so, with "hookkit_discarded_at" in its metadata),
// its arguments lose the body and headers, and a later delivery of the same
// event, such as a replayed Twilio callback, whose signature never expires,
// is still a duplicate. It is one transaction that locks the job.
func (d *DeadLetters[TTx]) Discard(ctx context.Context, key string) error {
	return d.locked(ctx, "discard", key, func(tx TTx, job *rivertype.JobRow) error {
		var args jobArgs
		if err := json.Unmarshal(job.EncodedArgs, &args); err != nil {
			return err
		}
		stripped, err := json.Marshal(jobArgs{Key: args.Key, Source: args.Source, ID: args.ID, Type: args.Type, Time: args.Time, Body: []byte{}})
		if err != nil {
			return err
		}
		md := map[string]any{}
		_ = json.Unmarshal(job.Metadata, &md) // River's own keys, kept when readable
		md[discardedKey] = time.Now().UTC().Format(time.RFC3339Nano)
		metadata, err := json.Marshal(md)
		if err != nil {
			return err
		}
		now := "now()"
		if d.driver.DatabaseName() == "sqlite" {
			now = "datetime('now', 'subsec')"
		}
		return d.driver.UnwrapExecutor(tx).Exec(ctx, `UPDATE `+d.table()+` SET state = 'completed', finalized_at = `+now+
			`, args = $1, metadata = $2 WHERE id = $3`, string(stripped), string(metadata), job.ID)
	})
}

// locked runs fn in a transaction holding the dead job of key: a no-op
// update of its row takes the row's lock on PostgreSQL (the write lock on
// SQLite), then the job is read again, and is refused if it has left the
// dead states meanwhile (retried, discarded, deleted).
func (d *DeadLetters[TTx]) locked(ctx context.Context, op, key string, fn func(tx TTx, job *rivertype.JobRow) error) error {
	found, err := d.find(ctx, key)
	if err != nil {
		return err
	}
	tx, err := d.txs.Begin(ctx)
	if err != nil {
		return fmt.Errorf("riverqueue: %s job %d: begin: %w", op, found.ID, err)
	}
	err = d.driver.UnwrapExecutor(tx).Exec(ctx, `UPDATE `+d.table()+` SET state = state
WHERE id = $1 AND state IN ('discarded', 'cancelled')`, found.ID)
	var job *rivertype.JobRow
	if err == nil {
		job, err = d.client.JobGetTx(ctx, tx, found.ID)
	}
	if errors.Is(err, river.ErrNotFound) || (err == nil && !slices.Contains(deadStates, job.State)) {
		d.txs.End(ctx, tx, false)
		return fmt.Errorf("%s: %w", logtext.Clip(key, 200), dispatch.ErrNotDeadLettered)
	}
	if err == nil {
		err = fn(tx, job)
	}
	if err != nil {
		d.txs.End(ctx, tx, false)
		return fmt.Errorf("riverqueue: %s job %d: %w", op, found.ID, err)
	}
	if err := d.txs.End(ctx, tx, true); err != nil {
		return fmt.Errorf("riverqueue: %s job %d: commit: %w", op, found.ID, err)
	}
	return nil
}

// table is River's job table, schema-qualified when the client has one.
func (d *DeadLetters[TTx]) table() string {
	if schema := d.client.Schema(); schema != "" {
		return `"` + schema + `".river_job`
	}
	return "river_job"
}

func (d *DeadLetters[TTx]) find(ctx context.Context, key string) (*rivertype.JobRow, error) {
	var found *rivertype.JobRow
	err := d.each(ctx, func(job *rivertype.JobRow, dl DeadLetter) bool {
		if dl.Event.Key() == key {
			found = job
			return false
		}
		return true
	})
	if err == nil && found == nil {
		err = fmt.Errorf("%s: %w", logtext.Clip(key, 200), dispatch.ErrNotDeadLettered)
	}
	return found, err
}

// each calls fn for every dead letter, oldest first, until it returns
// false.
func (d *DeadLetters[TTx]) each(ctx context.Context, fn func(*rivertype.JobRow, DeadLetter) bool) error {
	params := river.NewJobListParams().Kinds(Kind).Queues(d.queue).States(deadStates...).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderAsc).First(100)
	for {
		res, err := d.client.JobList(ctx, params)
		if err != nil {
			return fmt.Errorf("riverqueue: list dead letters: %w", err)
		}
		for _, job := range res.Jobs {
			dl, err := deadLetterOf(job)
			if err != nil {
				return err
			}
			if !fn(job, dl) {
				return nil
			}
		}
		if res.LastCursor == nil || len(res.Jobs) == 0 {
			return nil
		}
		params = params.After(res.LastCursor)
	}
}

func deadLetterOf(job *rivertype.JobRow) (DeadLetter, error) {
	var args jobArgs
	if err := json.Unmarshal(job.EncodedArgs, &args); err != nil {
		return DeadLetter{}, fmt.Errorf("riverqueue: job %d: %w", job.ID, err)
	}
	dl := DeadLetter{DeadLetter: dispatch.DeadLetter{Event: args.event(), Attempts: job.Attempt}, JobID: job.ID, State: string(job.State)}
	if job.FinalizedAt != nil {
		dl.At = *job.FinalizedAt
	}
	if n := len(job.Errors); n > 0 {
		dl.Err = errors.New(job.Errors[n-1].Error)
	} else {
		dl.Err = errors.New(string(job.State))
	}
	return dl, nil
}

// Stats counts the queue's jobs — waiting (available, scheduled, pending),
// waiting for a retry (retryable), running — and its dead letters
// (discarded, cancelled), for gauges (dispatch/otelobserver). Completed
// jobs, kept for deduplication, are neither counted nor read.
func (q *Queue[TDriver, TTx]) Stats(ctx context.Context) (dispatch.QueueStats, error) {
	table := "river_job"
	if schema := q.client.Schema(); schema != "" {
		table = `"` + schema + `".river_job`
	}
	s := dispatch.QueueStats{Queue: true}
	err := q.driver.GetExecutor().QueryRow(ctx, `SELECT
	COUNT(CASE WHEN state IN ('available', 'scheduled', 'pending') THEN 1 END),
	COUNT(CASE WHEN state = 'retryable' THEN 1 END),
	COUNT(CASE WHEN state = 'running' THEN 1 END),
	COUNT(CASE WHEN state IN ('discarded', 'cancelled') THEN 1 END)
FROM `+table+` WHERE queue = $1 AND state IN ('available', 'scheduled', 'pending', 'retryable', 'running', 'discarded', 'cancelled')`,
		q.cfg.Queue).Scan(&s.Queued, &s.Retrying, &s.Running, &s.DeadLetters)
	if err != nil {
		return s, fmt.Errorf("riverqueue: stats: %w", err)
	}
	return s, nil
}
