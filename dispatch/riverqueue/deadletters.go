package riverqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/riverqueue/internal/logtext"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
)

// deadLetters are a Queue's dead letters: its jobs that were discarded
// (every attempt failed) or cancelled (a permanent failure), which River
// keeps with their event, their errors and their attempts. They show in
// River's UI too.
type deadLetters[TTx any] struct {
	client   *river.Client[TTx]
	driver   riverdriver.Driver[TTx]
	txs      txstep.Driver[TTx]
	router   *dispatch.Router
	queue    string
	attempts int // a full set: len(Config.Retry)+1
}

// DeadLetters returns the queue's dead letters: its discarded and
// cancelled jobs, as a dispatch.DeadLetterStore (package dispatch/admin
// serves one over HTTP).
func (q *Queue[TDriver, TTx]) DeadLetters() dispatch.DeadLetterStore {
	return &deadLetters[TTx]{client: q.client, driver: q.driver, txs: q.txs, router: q.router, queue: q.cfg.Queue,
		attempts: len(q.cfg.Retry) + 1}
}

var _ dispatch.DeadLetterStore = (*deadLetters[any])(nil)

// deadStates are the job states of dead letters.
var deadStates = []rivertype.JobState{rivertype.JobStateDiscarded, rivertype.JobStateCancelled}

// params lists the queue's dead jobs, oldest first, with f's source and
// type filters (in SQL, on the job's arguments).
func (d *deadLetters[TTx]) params(f dispatch.DeadLetterFilter) *river.JobListParams {
	p := river.NewJobListParams().Kinds(Kind).Queues(d.queue).States(deadStates...).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderAsc)
	if f.Source != "" {
		p = p.Where("args->>'source' = @source", river.NamedArgs{"source": f.Source})
	}
	if f.Type != "" {
		p = p.Where("args->>'type' = @type", river.NamedArgs{"type": f.Type})
	}
	return p
}

// listed is one dead job as a listing reads it: what its row says of it,
// not its arguments' body and headers.
type listed struct {
	ID        int64   `json:"id"`
	State     string  `json:"state"`
	Attempt   int     `json:"attempt"`
	Finalized int64   `json:"finalized"` // Unix microseconds
	Key       string  `json:"key"`
	Source    string  `json:"source"`
	EventID   string  `json:"event_id"`
	Type      string  `json:"type"`
	Time      *string `json:"time"`
	Error     *string `json:"error"`
}

// listSQL selects, as one JSON array (River's executor reads one row), a
// page of the queue's dead jobs without their arguments' body and headers:
// the fields a listing shows, read from the row in the database. A job is
// a megabyte when its body is; a listing of a thousand must not be a
// gigabyte in the host.
func (d *deadLetters[TTx]) listSQL() string {
	job := d.table()
	if d.driver.DatabaseName() == "sqlite" {
		return `SELECT coalesce(json_group_array(json_object('id', id, 'state', state, 'attempt', attempt,
	'finalized', CAST(round(unixepoch(finalized_at, 'subsec') * 1000) AS INTEGER) * 1000,
	'key', args->>'key', 'source', args->>'source', 'event_id', args->>'id', 'type', args->>'type', 'time', args->>'time',
	'error', json_extract(errors, '$[#-1].error'))), '[]')
FROM (SELECT * FROM ` + job + ` WHERE kind = $1 AND queue = $2 AND state IN ('discarded', 'cancelled')
	AND ($3 = '' OR args->>'source' = $3) AND ($4 = '' OR args->>'type' = $4)
	AND finalized_at >= $5 AND finalized_at < $6 AND (finalized_at > $7 OR (finalized_at = $7 AND id > $8))
	ORDER BY finalized_at, id LIMIT $9)`
	}
	return `SELECT coalesce(json_agg(json_build_object('id', id, 'state', state, 'attempt', attempt,
	'finalized', (extract(epoch FROM finalized_at) * 1000000)::bigint,
	'key', args->>'key', 'source', args->>'source', 'event_id', args->>'id', 'type', args->>'type', 'time', args->>'time',
	'error', errors[array_length(errors, 1)]->>'error') ORDER BY finalized_at, id), '[]')::text
FROM (SELECT * FROM ` + job + ` WHERE kind = $1 AND queue = $2 AND state IN ('discarded', 'cancelled')
	AND ($3 = '' OR args->>'source' = $3) AND ($4 = '' OR args->>'type' = $4)
	AND finalized_at >= $5 AND finalized_at < $6 AND (finalized_at > $7 OR (finalized_at = $7 AND id > $8))
	ORDER BY finalized_at, id LIMIT $9) page`
}

// timeArg is t as the database compares finalized_at: River's SQLite text,
// or a timestamptz.
func (d *deadLetters[TTx]) timeArg(t time.Time) any {
	if d.driver.DatabaseName() == "sqlite" {
		return sqliteTime(t)
	}
	return t
}

// List implements dispatch.DeadLetterStore: a page of the dead letters f
// selects (by source, type, when they died), oldest first, without their
// bodies, payloads and headers (Get has them). The cursor is the last
// letter's time, in Unix microseconds, and its job's ID. A filter or
// cursor the database could not compare (invalid UTF-8, a control
// character such as NUL) is an error wrapping dispatch.ErrInvalidFilter.
func (d *deadLetters[TTx]) List(ctx context.Context, f dispatch.DeadLetterFilter) (dispatch.DeadLetterPage, error) {
	for _, text := range []struct{ name, value string }{{"source", f.Source}, {"type", f.Type}} {
		if err := filterText(text.name, text.value); err != nil {
			return dispatch.DeadLetterPage{}, err
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = dispatch.DefaultDeadLetterLimit
	}
	since, until := f.Since, f.Until
	if since.IsZero() {
		since = time.Unix(0, 0)
	}
	if until.IsZero() {
		until = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	after, afterID := since.Add(-time.Microsecond), int64(0)
	if f.After != "" {
		micros, id, ok := strings.Cut(f.After, ":")
		n, err1 := strconv.ParseInt(micros, 10, 64)
		m, err2 := strconv.ParseInt(id, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return dispatch.DeadLetterPage{}, fmt.Errorf("riverqueue: dead letters cursor %q: %w", logtext.Clip(f.After, 40), dispatch.ErrInvalidFilter)
		}
		after, afterID = time.UnixMicro(n), m
	}
	var text string
	err := d.driver.GetExecutor().QueryRow(ctx, d.listSQL(), Kind, d.queue, f.Source, f.Type,
		d.timeArg(since), d.timeArg(until), d.timeArg(after), afterID, limit+1).Scan(&text)
	if err != nil {
		return dispatch.DeadLetterPage{}, fmt.Errorf("riverqueue: list dead letters: %w", err)
	}
	var rows []listed
	if err := json.Unmarshal([]byte(text), &rows); err != nil {
		return dispatch.DeadLetterPage{}, fmt.Errorf("riverqueue: list dead letters: %w", err)
	}
	var page dispatch.DeadLetterPage
	for i, row := range rows {
		if i == limit {
			last := rows[limit-1]
			page.Next = strconv.FormatInt(last.Finalized, 10) + ":" + strconv.FormatInt(last.ID, 10)
			break
		}
		page.Letters = append(page.Letters, row.deadLetter())
	}
	return page, nil
}

func (l listed) deadLetter() dispatch.DeadLetter {
	e := &events.Event{Source: l.Source, ID: l.EventID, Type: l.Type}
	if l.Time != nil {
		e.Time, _ = time.Parse(time.RFC3339Nano, *l.Time)
	}
	dl := dispatch.DeadLetter{Event: e, Attempts: l.Attempt, At: time.UnixMicro(l.Finalized),
		Ref: fmt.Sprintf("river job %d (%s)", l.ID, l.State), Err: errors.New(l.State)}
	if l.Error != nil {
		dl.Err = errors.New(*l.Error)
	}
	return dl
}

// filterText checks a listing's filter text as events.Event.Validate
// checks IDs: valid UTF-8 without control characters (PostgreSQL refuses a
// NUL outright), and short, since it is compared with an event's source or
// type. The error wraps dispatch.ErrInvalidFilter: a bad request, not a
// store that could not answer.
func filterText(name, text string) error {
	const limit = 1024
	switch {
	case len(text) > limit:
		return fmt.Errorf("riverqueue: dead letters %s filter is %d bytes, limit %d: %w", name, len(text), limit, dispatch.ErrInvalidFilter)
	case !utf8.ValidString(text):
		return fmt.Errorf("riverqueue: dead letters %s filter is not valid UTF-8: %w", name, dispatch.ErrInvalidFilter)
	case strings.ContainsFunc(text, unicode.IsControl):
		return fmt.Errorf("riverqueue: dead letters %s filter holds a control character: %w", name, dispatch.ErrInvalidFilter)
	}
	return nil
}

// Get implements dispatch.DeadLetterStore.
func (d *deadLetters[TTx]) Get(ctx context.Context, key string) (dispatch.DeadLetter, error) {
	job, err := d.find(ctx, key)
	if err != nil {
		return dispatch.DeadLetter{}, err
	}
	dl, _, err := deadLetterOf(job)
	return dl, err
}

// Rerun implements dispatch.DeadLetterStore: the dead letter of the event
// with key (Event.Key()) goes back in the queue (River's JobRetry) with a
// full set of attempts on the queue's retry schedule, counted from now,
// and the workers run it, through the queue's router: r must be that
// router, or nil. It returns an error wrapping dispatch.ErrNotDeadLettered
// if there is none. It is one transaction that locks the job: a Rerun
// racing a Discard of the same letter, or another Rerun, finds it no
// longer dead and says so.
func (d *deadLetters[TTx]) Rerun(ctx context.Context, r *dispatch.Router, key string) error {
	if r != nil && r != d.router {
		return fmt.Errorf("riverqueue: Rerun with a router other than the queue's: its workers run the queue's handlers: %w",
			dispatch.ErrInvalidConfig)
	}
	return d.locked(ctx, "rerun", key, func(tx TTx, job *rivertype.JobRow) error {
		if _, err := d.client.JobRetryTx(ctx, tx, job.ID); err != nil {
			return err
		}
		md := map[string]any{}
		_ = json.Unmarshal(job.Metadata, &md)
		md[rerunBaseKey] = job.Attempt
		metadata, err := json.Marshal(md)
		if err != nil {
			return err
		}
		return d.driver.UnwrapExecutor(tx).Exec(ctx, `UPDATE `+d.table()+` SET max_attempts = $1, metadata = $2 WHERE id = $3`,
			job.Attempt+d.attempts, string(metadata), job.ID)
	})
}

// rerunBaseKey is where a re-run job's metadata keeps the attempt it was
// re-run after, so that its retries follow the schedule from the start.
const rerunBaseKey = "hookkit_rerun_after_attempt"

// discardedKey marks, in a job's metadata, a dead letter an operator
// discarded.
const discardedKey = "hookkit_discarded_at"

// Discard closes the dead letter of key without running it. The job stays
// as a tombstone for the keep window (Config.Keep): it is marked completed
// (River's UI shows it so, with "hookkit_discarded_at" in its metadata),
// its arguments lose the body and headers, and a later delivery of the same
// event, such as a replayed Twilio callback, whose signature never expires,
// is still a duplicate. It is one transaction that locks the job.
func (d *deadLetters[TTx]) Discard(ctx context.Context, key string) error {
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
func (d *deadLetters[TTx]) locked(ctx context.Context, op, key string, fn func(tx TTx, job *rivertype.JobRow) error) error {
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
func (d *deadLetters[TTx]) table() string {
	if schema := d.client.Schema(); schema != "" {
		return `"` + schema + `".river_job`
	}
	return "river_job"
}

func (d *deadLetters[TTx]) find(ctx context.Context, key string) (*rivertype.JobRow, error) {
	if filterText("key", key) != nil {
		// No event with such a key is ever queued (events.Event.Validate),
		// and PostgreSQL would refuse to compare it.
		return nil, fmt.Errorf("%s: %w", logtext.Clip(key, 200), dispatch.ErrNotDeadLettered)
	}
	res, err := d.client.JobList(ctx, d.params(dispatch.DeadLetterFilter{}).
		Where("args->>'key' = @key", river.NamedArgs{"key": key}).First(1))
	if err != nil {
		return nil, fmt.Errorf("riverqueue: find dead letter: %w", err)
	}
	if len(res.Jobs) == 0 {
		return nil, fmt.Errorf("%s: %w", logtext.Clip(key, 200), dispatch.ErrNotDeadLettered)
	}
	return res.Jobs[0], nil
}

func deadLetterOf(job *rivertype.JobRow) (dl dispatch.DeadLetter, tombstone bool, err error) {
	var args jobArgs
	if err := json.Unmarshal(job.EncodedArgs, &args); err != nil {
		return dl, false, fmt.Errorf("riverqueue: job %d: %w", job.ID, err)
	}
	dl = dispatch.DeadLetter{Event: args.event(), Attempts: job.Attempt, Ref: fmt.Sprintf("river job %d (%s)", job.ID, job.State)}
	if job.FinalizedAt != nil {
		dl.At = *job.FinalizedAt
	}
	if n := len(job.Errors); n > 0 {
		dl.Err = errors.New(job.Errors[n-1].Error)
	} else {
		dl.Err = errors.New(string(job.State))
	}
	var md map[string]json.RawMessage
	if json.Unmarshal(job.Metadata, &md) == nil {
		_, tombstone = md[discardedKey]
	}
	return dl, tombstone, nil
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
