package order

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/internal/headers"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/internal/logtext"
)

// KeepTx keeps e in tx: the transaction in which the accept step completes
// e's key after its handler said dispatch.ErrNotYet (the handler's own
// transaction is rolled back first). g is the guard of the attempt that
// said it: e is kept for the object g last saw, at e's position. The
// object's row counts it; if the object advanced since g saw it (an event
// applied meanwhile), e is due at once, and KeepTx reports due true: wake
// the Keeper for it once tx commits. An event whose handler said ErrNotYet
// without an ordered object is kept too, and runs on the retry schedule
// alone.
func (t *Tables[Tx]) KeepTx(ctx context.Context, tx Tx, e *events.Event, g *TxGuard[Tx], cause error) (due bool, err error) {
	return t.keepTx(ctx, tx, e, g, cause, nil)
}

// KeepJobTx keeps e as KeepTx does, for a queue's job that waits for its
// object (dispatch/riverqueue snoozes it): the Keeper does not run it; the
// queue's worker that advances the object takes the jobs kept for it
// (TakeJobsTx) and makes them run. A row kept earlier for the same event
// is replaced.
func (t *Tables[Tx]) KeepJobTx(ctx context.Context, tx Tx, e *events.Event, g *TxGuard[Tx], jobID int64, cause error) (due bool, err error) {
	if err := t.ForgetTx(ctx, tx, e.Key()); err != nil {
		return false, err
	}
	return t.keepTx(ctx, tx, e, g, cause, &jobID)
}

// ForgetTx deletes, in tx, what is kept for the event of key (a queue's
// job that runs again), if anything.
func (t *Tables[Tx]) ForgetTx(ctx context.Context, tx Tx, key string) error {
	var source, object string
	err := t.db.QueryRow(ctx, tx, t.q.forget, key).Scan(&source, &object)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("order: forget a kept event: %w", err)
	}
	if object != "" {
		if _, err := t.db.Exec(ctx, tx, t.q.unkeep, source, object); err != nil {
			return fmt.Errorf("order: forget a kept event: %w", err)
		}
	}
	return nil
}

// TakeJobsTx deletes, in tx, the rows of the jobs kept for obj, and returns
// the jobs: the worker that advanced obj makes them run, in tx.
func (t *Tables[Tx]) TakeJobsTx(ctx context.Context, tx Tx, obj Object) ([]int64, error) {
	var jobs []int64
	for {
		var id int64
		err := t.db.QueryRow(ctx, tx, t.q.takeJob, obj.Source, obj.ID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return jobs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("order: take kept jobs: %w", err)
		}
		if _, err := t.db.Exec(ctx, tx, t.q.unkeep, obj.Source, obj.ID); err != nil {
			return nil, fmt.Errorf("order: take kept jobs: %w", err)
		}
		jobs = append(jobs, id)
	}
}

func (t *Tables[Tx]) keepTx(ctx context.Context, tx Tx, e *events.Event, g *TxGuard[Tx], cause error, jobID *int64) (due bool, err error) {
	obj, pos := Object{Source: e.Source}, events.Position{}
	now := time.Now()
	next := now.Add(t.retry[0])
	if g != nil && g.called {
		obj, pos = g.seen, g.seenPos
		var at, rank sql.NullInt64
		if err := t.db.QueryRow(ctx, tx, t.q.keep, obj.Source, obj.ID).Scan(&at, &rank); err != nil {
			return false, fmt.Errorf("order: keep: %w", err)
		}
		current, found := events.Position{At: at.Int64, Rank: int(rank.Int64)}, at.Valid
		if found != g.seenFound || current != g.seenLast {
			due, next = true, now
		}
	}
	header, err := json.Marshal(headers.Kept(e.Header))
	if err != nil {
		return false, fmt.Errorf("order: keep: %w", err)
	}
	var eventTime int64
	if !e.Time.IsZero() {
		eventTime = e.Time.UnixNano()
	}
	start, end, data := 0, 0, []byte(nil)
	switch i := bytes.Index(e.Body, e.Data); {
	case len(e.Data) == 0:
	case i >= 0:
		start, end = i, i+len(e.Data)
	default:
		data = e.Data
	}
	body := e.Body
	if body == nil {
		body = []byte{}
	}
	if _, err := t.db.Exec(ctx, tx, t.q.insertKept, e.Key(), obj.Source, obj.ID, pos.At, int64(pos.Rank), e.ID, e.Type, eventTime,
		string(header), body, start, end, data, next.UnixMilli(), now.UnixMilli(), errorText(cause), jobID); err != nil {
		return false, fmt.Errorf("order: keep: %w", err)
	}
	return due, nil
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return logtext.Clip(err.Error(), 500)
}

// kept is a kept event as its row holds it.
type kept struct {
	id     int64
	key    string
	object Object
	pos    events.Position
	event  *events.Event
	runs   int
}

// take deletes, in tx, the object's oldest kept event (obj non-nil) or the
// first one due, and returns it; ok is false when there is none.
func (t *Tables[Tx]) take(ctx context.Context, tx Tx, obj *Object, now time.Time) (k kept, ok bool, err error) {
	var row Row
	if obj != nil {
		row = t.db.QueryRow(ctx, tx, t.q.takeObject, obj.Source, obj.ID)
	} else {
		row = t.db.QueryRow(ctx, tx, t.q.takeDue, now.UnixMilli())
	}
	var (
		header           string
		eventTime        int64
		start, end, runs int64
		rank             int64
		data             []byte
		e                events.Event
	)
	err = row.Scan(&k.id, &k.key, &k.object.Source, &k.object.ID, &k.pos.At, &rank, &e.ID, &e.Type, &eventTime, &header, &e.Body, &start, &end, &data, &runs)
	if errors.Is(err, sql.ErrNoRows) {
		return kept{}, false, nil
	}
	if err != nil {
		return kept{}, false, fmt.Errorf("order: take a kept event: %w", err)
	}
	k.pos.Rank, k.runs = int(rank), int(runs)
	e.Source = k.object.Source
	if eventTime != 0 {
		e.Time = time.Unix(0, eventTime).UTC()
	}
	var h http.Header
	if err := json.Unmarshal([]byte(header), &h); err == nil && len(h) > 0 {
		e.Header = h
	}
	e.Data = data
	if data == nil && end > start && end <= int64(len(e.Body)) {
		e.Data = e.Body[start:end]
	}
	k.event = &e
	if k.object.ID != "" {
		if _, err := t.db.Exec(ctx, tx, t.q.unkeep, k.object.Source, k.object.ID); err != nil {
			return kept{}, false, fmt.Errorf("order: take a kept event: %w", err)
		}
	}
	return k, true, nil
}

// retry records, in tx, that kept event k ran again without applying:
// it runs again after the next delay of the schedule. It reports false,
// recording nothing, when k has been kept as often as the schedule allows:
// it is a dead letter then.
func (t *Tables[Tx]) again(ctx context.Context, tx Tx, k kept, cause error, now time.Time) (bool, error) {
	if k.runs >= len(t.retry) {
		return false, nil
	}
	next := now.Add(t.retry[k.runs])
	if _, err := t.db.Exec(ctx, tx, t.q.retryKept, k.id, next.UnixMilli(), errorText(cause)); err != nil {
		return false, fmt.Errorf("order: reschedule a kept event: %w", err)
	}
	return true, nil
}

// deadLetter is a kept event given up on: kept as often as the schedule
// allows, its object never advanced, or its handler failed permanently.
func deadLetter(k kept, cause error, now time.Time) dispatch.DeadLetter {
	return dispatch.DeadLetter{Event: k.event, Err: cause, Attempts: k.runs + 1, At: now}
}
