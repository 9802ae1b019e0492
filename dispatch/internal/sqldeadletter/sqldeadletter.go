// Package sqldeadletter is the durable dead-letter store of the
// transactional accept step, written once for both of hookkit's ways to talk to a
// SQL database: dispatch/sqltx (database/sql, PostgreSQL and SQLite) and
// dispatch/pgxtx (pgx). Each gives it a Driver for its transaction type;
// the SQL, the row format and the operations live here.
package sqldeadletter

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/internal/headers"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/internal/logtext"
)

// DefaultTable is the dead letters' table unless configured otherwise.
const DefaultTable = "hookkit_dead_letters"

// Dialect is the SQL a database speaks.
type Dialect int

// The dialects.
const (
	Postgres Dialect = iota + 1
	SQLite
)

// ErrNoRows is what a Driver's row reports when a query found nothing, in
// place of its driver's own (sql.ErrNoRows, pgx.ErrNoRows).
var ErrNoRows = errors.New("sqldeadletter: no rows")

// Scanner is one row: *sql.Row, pgx.Row.
type Scanner interface{ Scan(dest ...any) error }

// Row is a row whose scan reports noRows, its driver's error for a query
// that found nothing (sql.ErrNoRows, pgx.ErrNoRows), as ErrNoRows.
func Row(scan func(dest ...any) error, noRows error) Scanner { return row{scan, noRows} }

type row struct {
	scan   func(dest ...any) error
	noRows error
}

func (r row) Scan(dest ...any) error {
	if err := r.scan(dest...); errors.Is(err, r.noRows) {
		return ErrNoRows
	} else if err != nil {
		return err
	}
	return nil
}

// Rows is a result set: *sql.Rows, pgx.Rows.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Driver runs statements inside transactions of type Tx.
type Driver[Tx any] interface {
	txstep.Driver[Tx]
	Exec(ctx context.Context, tx Tx, query string, args ...any) (rowsAffected int64, err error)
	QueryRow(ctx context.Context, tx Tx, query string, args ...any) Scanner
	Query(ctx context.Context, tx Tx, query string, args ...any) (Rows, error)
}

// Store keeps dead letters in a table.
type Store[Tx any] struct {
	d       Driver[Tx]
	dialect Dialect
	now     func() time.Time
	sql     statements
	// guard, when set, is the ordering guard of a rerun's transaction
	// (SetGuard): ordered handlers (dispatch.Ordered) need one to run.
	guard func(tx Tx) dispatch.Guard
}

// SetGuard has Rerun give ordered handlers (dispatch.Ordered) the guard
// guard(tx) of the rerun's transaction, as the accept step does: the
// event's position advances with its effect and the letter's resolution.
func (s *Store[Tx]) SetGuard(guard func(tx Tx) dispatch.Guard) { s.guard = guard }

type statements struct {
	schema                                      []string
	lock                                        string
	put, list, get, getForUpdate, resolve, fail string
	discard, count, prune                       string
}

// A closed letter (resolved by a re-run, or discarded) keeps no personal
// data: closing it empties its body, payload and headers, and leaves the
// key, source, type, error and times, so an operator can still see what
// happened to it. Closed letters are deleted ClosedRetention after they
// closed, a batch at a time, by the operations that close letters: no host
// has to schedule it.
const (
	ClosedRetention = 7 * 24 * time.Hour
	pruneBatch      = 100
)

const (
	scrubPostgres = `header = '{}', body = ''::bytea, data = ''::bytea`
	scrubSQLite   = `header = '{}', body = X'', data = X''`
)

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

const columns = `key, source, event_id, type, event_time, header, body, data, error, attempts, dead_at`

// listed are the columns a listing reads: not the body, the payload or the
// headers, which a listing never shows and which may be a megabyte a
// letter (Get reads them, one letter at a time).
const listed = `key, source, event_id, type, event_time, error, attempts, dead_at`

// New returns a Store on table (DefaultTable when empty) in dialect.
func New[Tx any](d Driver[Tx], dialect Dialect, table string) (*Store[Tx], error) {
	if table == "" {
		table = DefaultTable
	}
	if !identifier.MatchString(table) || (dialect == SQLite && strings.Contains(table, ".")) {
		return nil, fmt.Errorf("dead-letter table name %q: want [schema.]name of letters, digits and underscores (SQLite: no schema): %w",
			table, dispatch.ErrInvalidConfig)
	}
	parts := strings.Split(table, ".")
	for i, p := range parts {
		parts[i] = `"` + p + `"`
	}
	t, index := strings.Join(parts, "."), `"`+strings.ReplaceAll(table, ".", "_")+`_open"`
	s := &Store[Tx]{d: d, dialect: dialect, now: time.Now}
	switch dialect {
	case Postgres:
		s.sql = statements{
			schema: []string{`CREATE TABLE IF NOT EXISTS ` + t + ` (
	key        text PRIMARY KEY,   -- the event's key, source:id
	source     text NOT NULL,
	event_id   text NOT NULL,
	type       text NOT NULL,
	event_time timestamptz,        -- when the sender says it happened, if it says
	header     text NOT NULL,      -- JSON of the headers a re-run needs: never credentials or signatures
	body       bytea NOT NULL,     -- the raw body as verified
	data       bytea NOT NULL,     -- the payload the handler decodes
	error      text NOT NULL,      -- why, clipped
	attempts   integer NOT NULL,
	dead_at    timestamptz NOT NULL,
	state      text NOT NULL DEFAULT 'open', -- open, resolved (a re-run succeeded), discarded
	closed_at  timestamptz
)`, `CREATE INDEX IF NOT EXISTS ` + index + ` ON ` + t + ` (dead_at) WHERE state = 'open'`},
			lock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", lockKey(t)),
			put: `INSERT INTO ` + t + ` (` + columns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (key) DO UPDATE SET error = excluded.error, attempts = excluded.attempts, dead_at = excluded.dead_at,
	header = excluded.header, body = excluded.body, data = excluded.data, state = 'open', closed_at = NULL`,
			list: `SELECT ` + listed + ` FROM ` + t + ` WHERE state = 'open' AND ($1 = '' OR source = $1) AND ($2 = '' OR type = $2)
	AND (dead_at > $3 OR (dead_at = $3 AND key > $6)) AND dead_at < $4 ORDER BY dead_at, key LIMIT $5`,
			get:          `SELECT ` + columns + ` FROM ` + t + ` WHERE key = $1 AND state = 'open'`,
			getForUpdate: `SELECT ` + columns + ` FROM ` + t + ` WHERE key = $1 AND state = 'open' FOR UPDATE`,
			resolve:      `UPDATE ` + t + ` SET state = 'resolved', closed_at = $2, ` + scrubPostgres + ` WHERE key = $1 AND state = 'open'`,
			fail:         `UPDATE ` + t + ` SET attempts = attempts + 1, error = $2 WHERE key = $1 AND state = 'open'`,
			discard:      `UPDATE ` + t + ` SET state = 'discarded', closed_at = $2, ` + scrubPostgres + ` WHERE key = $1 AND state = 'open'`,
			count:        `SELECT COUNT(*) FROM ` + t + ` WHERE state = 'open'`,
			prune: `DELETE FROM ` + t + ` WHERE key IN (SELECT key FROM ` + t + ` WHERE state <> 'open' AND closed_at < $1 LIMIT ` +
				fmt.Sprint(pruneBatch) + ` FOR UPDATE SKIP LOCKED)`,
		}
	case SQLite:
		// Times are Unix microseconds.
		s.sql = statements{
			schema: []string{`CREATE TABLE IF NOT EXISTS ` + t + ` (
	key        TEXT PRIMARY KEY,
	source     TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	type       TEXT NOT NULL,
	event_time INTEGER,
	header     TEXT NOT NULL,
	body       BLOB NOT NULL,
	data       BLOB NOT NULL,
	error      TEXT NOT NULL,
	attempts   INTEGER NOT NULL,
	dead_at    INTEGER NOT NULL,
	state      TEXT NOT NULL DEFAULT 'open',
	closed_at  INTEGER
)`, `CREATE INDEX IF NOT EXISTS ` + index + ` ON ` + t + ` (dead_at) WHERE state = 'open'`},
			put: `INSERT INTO ` + t + ` (` + columns + `) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
ON CONFLICT (key) DO UPDATE SET error = excluded.error, attempts = excluded.attempts, dead_at = excluded.dead_at,
	header = excluded.header, body = excluded.body, data = excluded.data, state = 'open', closed_at = NULL`,
			list: `SELECT ` + listed + ` FROM ` + t + ` WHERE state = 'open' AND (?1 = '' OR source = ?1) AND (?2 = '' OR type = ?2)
	AND (dead_at > ?3 OR (dead_at = ?3 AND key > ?6)) AND dead_at < ?4 ORDER BY dead_at, key LIMIT ?5`,
			get: `SELECT ` + columns + ` FROM ` + t + ` WHERE key = ?1 AND state = 'open'`,
			// SQLite's writer holds the database from BEGIN: no row lock.
			getForUpdate: `SELECT ` + columns + ` FROM ` + t + ` WHERE key = ?1 AND state = 'open'`,
			resolve:      `UPDATE ` + t + ` SET state = 'resolved', closed_at = ?2, ` + scrubSQLite + ` WHERE key = ?1 AND state = 'open'`,
			fail:         `UPDATE ` + t + ` SET attempts = attempts + 1, error = ?2 WHERE key = ?1 AND state = 'open'`,
			discard:      `UPDATE ` + t + ` SET state = 'discarded', closed_at = ?2, ` + scrubSQLite + ` WHERE key = ?1 AND state = 'open'`,
			count:        `SELECT COUNT(*) FROM ` + t + ` WHERE state = 'open'`,
			prune: `DELETE FROM ` + t + ` WHERE key IN (SELECT key FROM ` + t + ` WHERE state <> 'open' AND closed_at < ?1 LIMIT ` +
				fmt.Sprint(pruneBatch) + `)`,
		}
	default:
		return nil, fmt.Errorf("unknown SQL dialect %d: %w", dialect, dispatch.ErrInvalidConfig)
	}
	return s, nil
}

// lockKey is the advisory lock key of the table's migration.
func lockKey(quotedTable string) int64 {
	var h uint64 = 14695981039346656037 // FNV-1a
	for _, c := range []byte("hookkit/dead-letters " + quotedTable) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return int64(h)
}

// Schema returns the statements that create the table.
func (s *Store[Tx]) Schema() []string { return s.sql.schema }

// Migrate creates the table if it does not exist, in one transaction, behind
// an advisory lock on PostgreSQL (replicas may start together).
func (s *Store[Tx]) Migrate(ctx context.Context) error {
	return s.inTx(ctx, "migrate", func(tx Tx) error {
		if s.sql.lock != "" {
			if _, err := s.d.Exec(ctx, tx, s.sql.lock); err != nil {
				return err
			}
		}
		for _, stmt := range s.sql.schema {
			if _, err := s.d.Exec(ctx, tx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
}

// inTx runs fn in a transaction, committed when fn returns nil.
func (s *Store[Tx]) inTx(ctx context.Context, op string, fn func(tx Tx) error) error {
	tx, err := s.d.Begin(ctx)
	if err != nil {
		return fmt.Errorf("dead letters %s: %w", op, err)
	}
	if err := fn(tx); err != nil {
		s.d.End(ctx, tx, false)
		return fmt.Errorf("dead letters %s: %w", op, err)
	}
	if err := s.d.End(ctx, tx, true); err != nil {
		return fmt.Errorf("dead letters %s: commit: %w", op, err)
	}
	return nil
}

// maxError bounds the error text kept with a letter.
const maxError = 2000

// PutTx stores dl in tx (a letter of the same key is replaced, and open).
func (s *Store[Tx]) PutTx(ctx context.Context, tx Tx, dl dispatch.DeadLetter) error {
	e := dl.Event
	if e == nil {
		return fmt.Errorf("dead letter without its event: %w", events.ErrMalformedEvent)
	}
	header, err := json.Marshal(headers.Kept(e.Header))
	if err != nil {
		return err
	}
	var eventTime any
	if !e.Time.IsZero() {
		eventTime = s.timeArg(e.Time)
	}
	at := dl.At
	if at.IsZero() {
		at = s.now()
	}
	data := e.Data
	if data == nil {
		data = []byte{}
	}
	body := e.Body
	if body == nil {
		body = []byte{}
	}
	cause := "unknown"
	if dl.Err != nil {
		cause = logtext.Clip(dl.Err.Error(), maxError)
	}
	_, err = s.d.Exec(ctx, tx, s.sql.put, e.Key(), e.Source, e.ID, e.Type, eventTime, string(header), body, data,
		cause, dl.Attempts, s.timeArg(at))
	return err
}

// Put stores dl in a transaction of its own.
func (s *Store[Tx]) Put(ctx context.Context, dl dispatch.DeadLetter) error {
	return s.inTx(ctx, "store", func(tx Tx) error { return s.PutTx(ctx, tx, dl) })
}

func (s *Store[Tx]) timeArg(t time.Time) any {
	if s.dialect == SQLite {
		return t.UnixMicro()
	}
	return t
}

// List returns a page of the open dead letters f selects, oldest first
// (by dead_at, then key: the index on open letters serves it), without
// their bodies, payloads and headers (Get has them). The cursor is the
// last letter's time, in microseconds, and key. A source, type or cursor
// the database could not compare (invalid UTF-8, a control character such
// as NUL, which PostgreSQL refuses) is an error wrapping
// dispatch.ErrInvalidFilter.
func (s *Store[Tx]) List(ctx context.Context, f dispatch.DeadLetterFilter) (dispatch.DeadLetterPage, error) {
	if err := filterText("source", f.Source); err != nil {
		return dispatch.DeadLetterPage{}, err
	}
	if err := filterText("type", f.Type); err != nil {
		return dispatch.DeadLetterPage{}, err
	}
	until := f.Until
	if until.IsZero() {
		until = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	// Strictly after (afterAt, afterKey): for a first page, just before
	// Since.
	afterAt, afterKey := f.Since.Add(-time.Microsecond), ""
	if f.Since.IsZero() {
		afterAt = time.Unix(0, 0)
	}
	if f.After != "" {
		micros, key, ok := strings.Cut(f.After, ":")
		n, err := strconv.ParseInt(micros, 10, 64)
		if !ok || err != nil {
			return dispatch.DeadLetterPage{}, fmt.Errorf("dead letters: cursor %q: %w", logtext.Clip(f.After, 40), dispatch.ErrInvalidFilter)
		}
		if err := filterText("cursor", key); err != nil {
			return dispatch.DeadLetterPage{}, err
		}
		afterAt, afterKey = time.UnixMicro(n), key
	}
	limit := f.Limit
	if limit <= 0 {
		limit = dispatch.DefaultDeadLetterLimit
	}
	var page dispatch.DeadLetterPage
	err := s.inTx(ctx, "list", func(tx Tx) error {
		rows, err := s.d.Query(ctx, tx, s.sql.list, f.Source, f.Type, s.timeArg(afterAt), s.timeArg(until), limit+1, afterKey)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			dl, err := s.scan(rows, false)
			if err != nil {
				return err
			}
			if len(page.Letters) == limit {
				last := page.Letters[limit-1]
				page.Next = strconv.FormatInt(last.At.UnixMicro(), 10) + ":" + last.Event.Key()
				break
			}
			page.Letters = append(page.Letters, dl)
		}
		return rows.Err()
	})
	return page, err
}

// Stats counts the open dead letters (the partial index on open letters
// answers it), for gauges.
func (s *Store[Tx]) Stats(ctx context.Context) (dispatch.QueueStats, error) {
	var n int64
	err := s.inTx(ctx, "count", func(tx Tx) error { return s.d.QueryRow(ctx, tx, s.sql.count).Scan(&n) })
	return dispatch.QueueStats{DeadLetters: n}, err
}

// Get returns the open dead letter of key, or an error wrapping
// dispatch.ErrNotDeadLettered.
func (s *Store[Tx]) Get(ctx context.Context, key string) (dispatch.DeadLetter, error) {
	var dl dispatch.DeadLetter
	err := s.inTx(ctx, "get", func(tx Tx) (err error) {
		dl, err = s.one(ctx, tx, s.sql.get, key)
		return err
	})
	return dl, err
}

func (s *Store[Tx]) one(ctx context.Context, tx Tx, query, key string) (dispatch.DeadLetter, error) {
	if filterText("key", key) != nil {
		// No event with such a key is ever stored (events.Event.Validate),
		// and PostgreSQL would refuse to compare it.
		return dispatch.DeadLetter{}, fmt.Errorf("%s: %w", logtext.Clip(key, 200), dispatch.ErrNotDeadLettered)
	}
	dl, err := s.scan(s.d.QueryRow(ctx, tx, query, key), true)
	if errors.Is(err, ErrNoRows) {
		return dl, fmt.Errorf("%s: %w", logtext.Clip(key, 200), dispatch.ErrNotDeadLettered)
	}
	return dl, err
}

// Rerun runs the open dead letter of key through r (Router.Rerun) inside a
// transaction that also marks it resolved: a handler that writes through
// the transaction (sqltx.Tx, pgxtx.Tx) commits its effect and the
// resolution together. A handler that fails leaves the letter open, one
// attempt more, with the new error.
func (s *Store[Tx]) Rerun(ctx context.Context, r *dispatch.Router, key string) error {
	tx, err := s.d.Begin(ctx)
	if err != nil {
		return fmt.Errorf("dead letters rerun: %w", err)
	}
	dl, err := s.one(ctx, tx, s.sql.getForUpdate, key)
	if err != nil {
		s.d.End(ctx, tx, false)
		return err
	}
	hctx := txstep.WithTx(ctx, tx)
	if s.guard != nil {
		hctx = dispatch.WithGuard(hctx, s.guard(tx))
	}
	runErr := r.Rerun(hctx, dl)
	if runErr == nil {
		if _, err := s.d.Exec(ctx, tx, s.sql.resolve, key, s.timeArg(s.now())); err != nil {
			s.d.End(ctx, tx, false)
			return fmt.Errorf("dead letters rerun: resolve: %w", err)
		}
		if err := s.prune(ctx, tx); err != nil {
			s.d.End(ctx, tx, false)
			return fmt.Errorf("dead letters rerun: prune: %w", err)
		}
		if err := s.d.End(ctx, tx, true); err != nil {
			return fmt.Errorf("dead letters rerun: commit: %w", err)
		}
		return nil
	}
	s.d.End(ctx, tx, false)
	if err := s.inTx(ctx, "rerun", func(tx Tx) error {
		_, err := s.d.Exec(ctx, tx, s.sql.fail, key, logtext.Clip(runErr.Error(), maxError))
		return err
	}); err != nil {
		return errors.Join(fmt.Errorf("%w: %w", dispatch.ErrRerunFailed, runErr), err)
	}
	return fmt.Errorf("%w: %w", dispatch.ErrRerunFailed, runErr)
}

// Discard closes the open dead letter of key without running it.
func (s *Store[Tx]) Discard(ctx context.Context, key string) error {
	if filterText("key", key) != nil {
		return fmt.Errorf("%s: %w", logtext.Clip(key, 200), dispatch.ErrNotDeadLettered)
	}
	return s.inTx(ctx, "discard", func(tx Tx) error {
		n, err := s.d.Exec(ctx, tx, s.sql.discard, key, s.timeArg(s.now()))
		if err == nil && n == 0 {
			err = fmt.Errorf("%s: %w", logtext.Clip(key, 200), dispatch.ErrNotDeadLettered)
		}
		if err != nil {
			return err
		}
		return s.prune(ctx, tx)
	})
}

// prune deletes up to pruneBatch letters closed more than ClosedRetention
// ago (on PostgreSQL, only rows no other transaction holds).
func (s *Store[Tx]) prune(ctx context.Context, tx Tx) error {
	_, err := s.d.Exec(ctx, tx, s.sql.prune, s.timeArg(s.now().Add(-ClosedRetention)))
	return err
}

// maxFilterText bounds a filter's text: an event's key (source, ":", ID)
// is at most a few hundred bytes.
const maxFilterText = 1024

// filterText checks a listing's filter text as events.Event.Validate checks
// IDs: valid UTF-8 without control characters, within maxFilterText. Text
// that fails could match no letter, and PostgreSQL refuses a NUL outright;
// the error wraps dispatch.ErrInvalidFilter (a bad request, not a store
// that could not answer).
func filterText(name, text string) error {
	switch {
	case len(text) > maxFilterText:
		return fmt.Errorf("dead letters: %s filter is %d bytes, limit %d: %w", name, len(text), maxFilterText, dispatch.ErrInvalidFilter)
	case !utf8.ValidString(text):
		return fmt.Errorf("dead letters: %s filter is not valid UTF-8: %w", name, dispatch.ErrInvalidFilter)
	case strings.ContainsFunc(text, unicode.IsControl):
		return fmt.Errorf("dead letters: %s filter holds a control character: %w", name, dispatch.ErrInvalidFilter)
	}
	return nil
}

// scan reads one row of columns, or of listed (whole false): a letter
// without its body, payload and headers.
func (s *Store[Tx]) scan(row Scanner, whole bool) (dispatch.DeadLetter, error) {
	var (
		key, header, cause string
		e                  events.Event
		attempts           int
		eventTime          sql.NullTime
		at                 time.Time
		eventMicros        sql.NullInt64
		atMicros           int64
	)
	sqlite := s.dialect == SQLite
	dest := []any{&key, &e.Source, &e.ID, &e.Type, &eventTime}
	if sqlite {
		dest[4] = &eventMicros
	}
	if whole {
		dest = append(dest, &header, &e.Body, &e.Data)
	}
	dest = append(dest, &cause, &attempts, &at)
	if sqlite {
		dest[len(dest)-1] = &atMicros
	}
	if err := row.Scan(dest...); err != nil {
		return dispatch.DeadLetter{}, err
	}
	if sqlite {
		if eventMicros.Valid {
			eventTime = sql.NullTime{Time: time.UnixMicro(eventMicros.Int64), Valid: true}
		}
		at = time.UnixMicro(atMicros)
	}
	if eventTime.Valid {
		e.Time = eventTime.Time
	}
	if whole {
		if err := json.Unmarshal([]byte(header), &e.Header); err != nil {
			return dispatch.DeadLetter{}, fmt.Errorf("dead letter %s: header: %w", logtext.Clip(key, 200), err)
		}
	}
	return dispatch.DeadLetter{Event: &e, Err: errors.New(cause), Attempts: attempts, At: at}, nil
}
