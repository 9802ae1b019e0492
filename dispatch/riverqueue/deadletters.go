package riverqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
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
	queue  string
}

// DeadLetters returns the queue's dead letters.
func (q *Queue[TDriver, TTx]) DeadLetters() *DeadLetters[TTx] {
	return &DeadLetters[TTx]{client: q.client, queue: q.cfg.Queue}
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
// the queue (River's JobRetry): the workers run it again, with a full set
// of attempts. It returns an error wrapping dispatch.ErrNotDeadLettered if
// there is none.
func (d *DeadLetters[TTx]) Retry(ctx context.Context, key string) error {
	job, err := d.find(ctx, key)
	if err != nil {
		return err
	}
	if _, err := d.client.JobRetry(ctx, job.ID); err != nil {
		return fmt.Errorf("riverqueue: retry job %d: %w", job.ID, err)
	}
	return nil
}

// Discard deletes the dead letter of key for good.
func (d *DeadLetters[TTx]) Discard(ctx context.Context, key string) error {
	job, err := d.find(ctx, key)
	if err != nil {
		return err
	}
	if _, err := d.client.JobDelete(ctx, job.ID); err != nil {
		return fmt.Errorf("riverqueue: delete job %d: %w", job.ID, err)
	}
	return nil
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
	} else {
		dl.At = time.Time{}
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
