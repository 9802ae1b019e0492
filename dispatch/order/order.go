package order

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hookkit/hookkit/dispatch"
)

// Dialect is the SQL a database speaks.
type Dialect int

// The dialects.
const (
	Postgres Dialect = iota + 1
	SQLite
)

// Row is one row of a query's result: *sql.Row, pgx.Row. A query that
// found no row reports an error for which errors.Is(err, sql.ErrNoRows)
// holds (pgx.ErrNoRows does).
type Row interface{ Scan(dest ...any) error }

// Driver opens and ends transactions of type Tx, and runs statements in
// them.
type Driver[Tx any] interface {
	// Begin opens a transaction.
	Begin(ctx context.Context) (Tx, error)
	// End commits tx when commit is true, and rolls it back otherwise; a
	// rollback of a transaction already ended is not an error.
	End(ctx context.Context, tx Tx, commit bool) error
	// Exec runs a statement in tx and returns the rows it affected.
	Exec(ctx context.Context, tx Tx, query string, args ...any) (int64, error)
	// QueryRow runs a query in tx that returns at most one row.
	QueryRow(ctx context.Context, tx Tx, query string, args ...any) Row
}

// Defaults of the Tables.
const (
	DefaultPositionTable = "hookkit_positions"
	DefaultKeptTable     = "hookkit_kept"
)

// DefaultRetry is when a kept event whose object has not advanced runs
// again: after 1 min, 5 min, 30 min, 2 h and 24 h, GoConverso's own retry
// schedule, so that a creation its sender is still retrying finds its
// confirmation kept; after the last, the event is a dead letter.
var DefaultRetry = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 24 * time.Hour}

// Config configures the Tables. The zero value is ready to use.
type Config struct {
	// PositionTable holds the last position applied per object (default
	// DefaultPositionTable).
	PositionTable string
	// KeptTable holds the kept events (default DefaultKeptTable).
	KeptTable string
	// Retry holds the delays after which a kept event whose object has not
	// advanced runs again (default DefaultRetry): it is kept at most
	// len(Retry) times, then dead-lettered.
	Retry []time.Duration
}

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Tables is the positions' and the kept events' tables on one database.
type Tables[Tx any] struct {
	db      Driver[Tx]
	dialect Dialect
	retry   []time.Duration
	q       statements
	fused   atomic.Pointer[fusedClaim] // ClaimAdvance's statement
}

// New returns the Tables on db, or an error wrapping
// dispatch.ErrInvalidConfig naming the field that cannot work.
func New[Tx any](db Driver[Tx], dialect Dialect, cfg Config) (*Tables[Tx], error) {
	if db == nil {
		return nil, fmt.Errorf("order: nil Driver: %w", dispatch.ErrInvalidConfig)
	}
	if dialect != Postgres && dialect != SQLite {
		return nil, fmt.Errorf("order: dialect %d is neither Postgres nor SQLite: %w", dialect, dispatch.ErrInvalidConfig)
	}
	if cfg.PositionTable == "" {
		cfg.PositionTable = DefaultPositionTable
	}
	if cfg.KeptTable == "" {
		cfg.KeptTable = DefaultKeptTable
	}
	for _, name := range []string{cfg.PositionTable, cfg.KeptTable} {
		if !tableName.MatchString(name) {
			return nil, fmt.Errorf("order: table name %q: want letters, digits and '_': %w", name, dispatch.ErrInvalidConfig)
		}
	}
	if cfg.Retry == nil {
		cfg.Retry = DefaultRetry
	}
	for i, d := range cfg.Retry {
		if d <= 0 {
			return nil, fmt.Errorf("order: Config.Retry[%d] %s must be positive: %w", i, d, dispatch.ErrInvalidConfig)
		}
	}
	return &Tables[Tx]{db: db, dialect: dialect, retry: cfg.Retry, q: newStatements(dialect, cfg.PositionTable, cfg.KeptTable)}, nil
}

// Migrate creates the tables if they do not exist, in a transaction of
// its own (on PostgreSQL under an advisory lock: replicas may all call it).
func (t *Tables[Tx]) Migrate(ctx context.Context) error {
	tx, err := t.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("order: migrate: begin: %w", err)
	}
	for _, stmt := range t.q.schema {
		if _, err := t.db.Exec(ctx, tx, stmt); err != nil {
			t.db.End(ctx, tx, false)
			return fmt.Errorf("order: migrate: %w", err)
		}
	}
	if err := t.db.End(ctx, tx, true); err != nil {
		return fmt.Errorf("order: migrate: commit: %w", err)
	}
	return nil
}

// statements are the Tables' SQL in one dialect.
type statements struct {
	schema                      []string
	advance, due, keep, unkeep  string
	insertPosition, upsert      string // advance's parts, for ClaimAdvance
	insertKept                  string
	takeObject, takeDue         string
	retryKept                   string
	deleteKept, forget, takeJob string
}

// The kept events' columns, in the order keptEvent's fields scan.
const keptColumns = `id, key, source, object, pos_at, pos_rank, event_id, type, event_time, header, body, data_start, data_end, data, runs`

func newStatements(d Dialect, positions, kept string) statements {
	// The placeholders: PostgreSQL's $n, SQLite's ?n (both numbered, so one
	// text serves with the arguments in one order).
	p := func(n int) string {
		if d == Postgres {
			return "$" + strconv.Itoa(n)
		}
		return "?" + strconv.Itoa(n)
	}
	bind := func(s string) string {
		for n := 9; n >= 1; n-- {
			s = strings.ReplaceAll(s, "@"+strconv.Itoa(n), p(n))
		}
		return s
	}
	id, bytes, skipLocked, lockAdvisory, clustered := `bigserial PRIMARY KEY`, `bytea`, ` FOR UPDATE SKIP LOCKED`, true, ``
	if d == SQLite {
		id, bytes, skipLocked, lockAdvisory = `INTEGER PRIMARY KEY AUTOINCREMENT`, `BLOB`, ``, false
		// The rows in their key's B-tree: an advance writes one page, not
		// a table's and its key index's.
		clustered = ` WITHOUT ROWID`
	}
	s := statements{}
	if lockAdvisory {
		s.schema = append(s.schema, `SELECT pg_advisory_xact_lock(`+strconv.FormatInt(lockKey(positions+" "+kept), 10)+`)`)
	}
	s.schema = append(s.schema, `CREATE TABLE IF NOT EXISTS `+positions+` (
	source    text NOT NULL,
	object    text NOT NULL,
	pos_at    bigint,           -- NULL: no event applied yet (only kept ones)
	pos_rank  bigint,
	prev_at   bigint,           -- the position before the last upsert, for its RETURNING
	prev_rank bigint,
	kept      bigint NOT NULL DEFAULT 0, -- events kept for this object
	PRIMARY KEY (source, object)
)`+clustered, `CREATE TABLE IF NOT EXISTS `+kept+` (
	id         `+id+`,
	key        text NOT NULL UNIQUE,
	source     text NOT NULL,
	object     text NOT NULL,
	pos_at     bigint NOT NULL,
	pos_rank   bigint NOT NULL,
	event_id   text NOT NULL,
	type       text NOT NULL,
	event_time bigint NOT NULL,  -- Unix nanoseconds, 0 for none
	header     text NOT NULL,    -- JSON of the headers a re-run needs: never credentials or signatures
	body       `+bytes+` NOT NULL,
	data_start bigint NOT NULL,  -- the payload is body[data_start:data_end], or data
	data_end   bigint NOT NULL,
	data       `+bytes+`,
	runs       bigint NOT NULL,  -- how many times it was kept
	next_at    bigint NOT NULL,  -- Unix milliseconds: when it runs again
	kept_at    bigint NOT NULL,
	error      text NOT NULL,
	job_id     bigint            -- a queue's job that waits (dispatch/riverqueue), or NULL: the Keeper runs the event
)`, `CREATE INDEX IF NOT EXISTS `+kept+`_object ON `+kept+` (source, object, pos_at, pos_rank, id)`,
		`CREATE INDEX IF NOT EXISTS `+kept+`_next ON `+kept+` (next_at)`)

	// Advance: one upsert records the position unless it is older than the
	// row's, takes the row's lock, and returns the position before it and
	// how many events are kept for the object.
	newer := `(` + positions + `.pos_at IS NULL OR (` + positions + `.pos_at, ` + positions + `.pos_rank) <= (excluded.pos_at, excluded.pos_rank))`
	s.upsert = `
ON CONFLICT (source, object) DO UPDATE SET
	prev_at = ` + positions + `.pos_at, prev_rank = ` + positions + `.pos_rank,
	pos_at = CASE WHEN ` + newer + ` THEN excluded.pos_at ELSE ` + positions + `.pos_at END,
	pos_rank = CASE WHEN ` + newer + ` THEN excluded.pos_rank ELSE ` + positions + `.pos_rank END
RETURNING pos_at, pos_rank, prev_at, prev_rank, kept`
	s.insertPosition = `INSERT INTO ` + positions + ` (source, object, pos_at, pos_rank) `
	s.advance = bind(s.insertPosition + `VALUES (@1, @2, @3, @4)` + s.upsert)
	// due: the object advanced; its kept events run at once.
	s.due = bind(`UPDATE ` + kept + ` SET next_at = @3 WHERE source = @1 AND object = @2 AND next_at > @3`)
	// keep: one more event kept for the object, whose row is created
	// without a position if it has none; returns its position.
	s.keep = bind(`INSERT INTO ` + positions + ` (source, object, kept) VALUES (@1, @2, 1)
ON CONFLICT (source, object) DO UPDATE SET kept = ` + positions + `.kept + 1
RETURNING pos_at, pos_rank`)
	s.unkeep = bind(`UPDATE ` + positions + ` SET kept = kept - 1 WHERE source = @1 AND object = @2 AND kept > 0`)
	s.insertKept = bind(`INSERT INTO ` + kept + ` (key, source, object, pos_at, pos_rank, event_id, type, event_time, header, body, data_start, data_end, data, runs, next_at, kept_at, error, job_id)
VALUES (@1, @2, @3, @4, @5, @6, @7, @8, @9, ` + p(10) + `, ` + p(11) + `, ` + p(12) + `, ` + p(13) + `, 1, ` + p(14) + `, ` + p(15) + `, ` + p(16) + `, ` + p(17) + `)`)
	s.forget = bind(`DELETE FROM ` + kept + ` WHERE key = @1 RETURNING source, object`)
	s.takeJob = bind(`DELETE FROM ` + kept + ` WHERE id = (SELECT id FROM ` + kept + ` WHERE source = @1 AND object = @2 AND job_id IS NOT NULL
	ORDER BY pos_at, pos_rank, id LIMIT 1) RETURNING job_id`)
	// take: the object's oldest kept event, or the first due one, deleted
	// in the transaction its handler runs in.
	s.takeObject = bind(`DELETE FROM ` + kept + ` WHERE id = (SELECT id FROM ` + kept + ` WHERE source = @1 AND object = @2 AND job_id IS NULL
	ORDER BY pos_at, pos_rank, id LIMIT 1` + skipLocked + `) RETURNING ` + keptColumns)
	s.takeDue = bind(`DELETE FROM ` + kept + ` WHERE id = (SELECT id FROM ` + kept + ` WHERE next_at <= @1 AND job_id IS NULL
	ORDER BY next_at, pos_at, pos_rank, id LIMIT 1` + skipLocked + `) RETURNING ` + keptColumns)
	s.retryKept = bind(`UPDATE ` + kept + ` SET runs = runs + 1, next_at = @2, error = @3 WHERE id = @1`)
	s.deleteKept = bind(`DELETE FROM ` + kept + ` WHERE id = @1`)
	return s
}

// lockKey is the advisory lock of the tables' migration.
func lockKey(names string) int64 {
	var h uint64 = 14695981039346656037 // FNV-1a
	for _, c := range []byte("hookkit/order " + names) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return int64(h)
}
