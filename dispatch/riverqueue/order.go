package riverqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/order"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
)

// Ordered handlers (dispatch.Ordered) on the queue's workers: the object's
// position is a row of the host's database (package dispatch/order),
// advanced in the attempt's transaction, with the job's completion. An
// event older than its object's last is completed without running (stale).
// A handler that says dispatch.ErrNotYet has its job snoozed (River keeps
// it, durably, without counting an attempt) and a row written that points
// at the job: the worker that advances the job's object makes it available
// again in its own transaction, so it runs within moments of the advance.
// Snoozes follow notYetSnooze; after the last, the job is cancelled, a
// dead letter.

// orderDriver is order.Driver on River's driver and the host's txstep.Driver.
type orderDriver[TDriver riverdriver.Driver[TTx], TTx any] struct {
	driver TDriver
	txs    txstep.Driver[TTx]
}

func (d orderDriver[TDriver, TTx]) Begin(ctx context.Context) (TTx, error) { return d.txs.Begin(ctx) }

func (d orderDriver[TDriver, TTx]) End(ctx context.Context, tx TTx, commit bool) error {
	return d.txs.End(ctx, tx, commit)
}

func (d orderDriver[TDriver, TTx]) Exec(ctx context.Context, tx TTx, query string, args ...any) (int64, error) {
	return 0, d.driver.UnwrapExecutor(tx).Exec(ctx, query, args...)
}

func (d orderDriver[TDriver, TTx]) QueryRow(ctx context.Context, tx TTx, query string, args ...any) order.Row {
	return d.driver.UnwrapExecutor(tx).QueryRow(ctx, query, args...)
}

// newOrderTables returns the ordering guard's tables on the queue's database.
func newOrderTables[TDriver riverdriver.Driver[TTx], TTx any](driver TDriver, txs txstep.Driver[TTx]) (*order.Tables[TTx], error) {
	dialect := order.Postgres
	if driver.DatabaseName() == "sqlite" {
		dialect = order.SQLite
	}
	return order.New[TTx](orderDriver[TDriver, TTx]{driver, txs}, dialect, order.Config{})
}

// notYetSnooze is how long a job whose handler said ErrNotYet sleeps, by
// how many times it has before: a quarter of a second, quickSnoozes times
// (the bound on a wake that found the job still running: River marks it
// snoozed only once Work has returned, so a creation committed in that
// moment cannot make it available), then order.DefaultRetry's delays,
// GoConverso's own schedule. Past the last it is a dead letter. A job made
// available by a wake, or at the end of a snooze, runs once the queue's
// workers fetch it: at once on PostgreSQL, which notifies them; on SQLite
// within River's FetchPollInterval (a second by default).
func notYetSnooze(snoozes int) (time.Duration, bool) {
	switch {
	case snoozes < quickSnoozes:
		return quickSnooze, true
	case snoozes-quickSnoozes >= len(order.DefaultRetry):
		return 0, false
	}
	return order.DefaultRetry[snoozes-quickSnoozes], true
}

const (
	quickSnoozes = 4
	quickSnooze  = 250 * time.Millisecond
)

// snoozes returns how many times River snoozed the job (its metadata's
// "snoozes").
func snoozes(metadata []byte) int {
	var md struct {
		Snoozes int `json:"snoozes"`
	}
	if len(metadata) == 0 || json.Unmarshal(metadata, &md) != nil {
		return 0
	}
	return md.Snoozes
}

// wakeKept makes the jobs kept for the objects g advanced available, in tx.
func (q *Queue[TDriver, TTx]) wakeKept(ctx context.Context, tx TTx, g *order.TxGuard[TTx]) error {
	for _, o := range g.Advanced() {
		ids, err := q.order.TakeJobsTx(ctx, tx, o)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := q.client.JobRetryTx(ctx, tx, id); err != nil && !errors.Is(err, river.ErrNotFound) {
				return fmt.Errorf("waking kept job %d: %w", id, err)
			}
		}
	}
	return nil
}

// keepJob keeps job, whose handler said ErrNotYet, and returns what
// snoozes it, or cancels it (a dead letter) past the last snooze.
func (q *Queue[TDriver, TTx]) keepJob(ctx context.Context, job *river.Job[jobArgs], e *events.Event, g *order.TxGuard[TTx], cause error) error {
	n := snoozes(job.Metadata)
	d, ok := notYetSnooze(n)
	if !ok {
		err := dispatch.Permanent(fmt.Errorf("kept %d times, its object never advanced: %w", n, cause))
		q.logAttempt(ctx, job, e, dispatch.OutcomeDeadLettered, err)
		return river.JobCancel(err)
	}
	tx, err := q.txs.Begin(ctx)
	if err == nil {
		var due bool
		due, err = q.order.KeepJobTx(ctx, tx, e, g, job.ID, cause)
		if err == nil {
			err = q.txs.End(ctx, tx, true)
		} else {
			q.txs.End(ctx, tx, false)
		}
		if due {
			d = 0 // its object advanced meanwhile
		}
	}
	if err != nil {
		// Not recorded: the job still snoozes, and runs at the end of it.
		q.logAttempt(ctx, job, e, dispatch.OutcomeKept, fmt.Errorf("%w (its kept row not written: %w)", cause, err))
	} else {
		q.logAttempt(ctx, job, e, dispatch.OutcomeKept, cause)
	}
	return river.JobSnooze(d)
}
