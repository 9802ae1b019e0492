// Package sqlschema is the SQL of hookkit's idempotency table, for the
// stores that keep it in a database: sqlstore (database/sql, PostgreSQL and
// SQLite) and pgxstore (pgx). One table, one set of statements, so that
// every store reads and writes the same rows the same way.
package sqlschema

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

// DefaultTable is the table's name unless configured otherwise.
const DefaultTable = "hookkit_idempotency"

// Statements is the SQL of one table in one dialect. The arguments each
// takes are listed in Postgres and SQLite.
type Statements struct {
	// Schema creates the table and its index if they do not exist.
	Schema []string
	// Lock, when not empty, serialises concurrent migrations: run it first,
	// in the same transaction as Schema.
	Lock string
	// Claim, Complete, Release and Prune are the Store operations.
	Claim, Complete, Release, Prune string
	// ClaimTx claims a key inside the caller's transaction, writing it as
	// completed: the transaction's commit completes the key, its rollback
	// frees it. It returns one row when it took the key (absent or
	// expired) and none when the key is live; Holder then tells a
	// completion from another holder's lease.
	ClaimTx string
	// Holder returns a live key's token ("" once completed).
	Holder string
	// PruneSome deletes up to PruneBatch expired rows (on PostgreSQL, only
	// rows no other transaction holds): the stores run it on one write in
	// PruneEvery, so the table is pruned without the host scheduling it.
	PruneSome string
}

// Pruning on write: one claim in PruneEvery also deletes up to PruneBatch
// expired rows, more than the one row a claim may add, so the expired rows
// of a busy table stay few, at the cost of one bounded DELETE per
// PruneEvery claims.
const (
	PruneEvery = 64
	PruneBatch = 256
)

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

// quote returns the quoted table name and a name for its index.
func quote(table string) (quoted, index string, err error) {
	if table == "" {
		table = DefaultTable
	}
	if !identifier.MatchString(table) {
		return "", "", fmt.Errorf("table name %q: want [schema.]name of letters, digits and underscores: %w",
			table, idempotency.ErrInvalidConfig)
	}
	parts := strings.Split(table, ".")
	for i, p := range parts {
		parts[i] = `"` + p + `"`
	}
	return strings.Join(parts, "."), `"` + strings.ReplaceAll(table, ".", "_") + `_expires_at"`, nil
}

// Postgres returns the statements for table on PostgreSQL. Times are
// timestamptz on the server's clock (now()), so replicas with skewed clocks
// agree; durations travel as microseconds. Arguments:
//
//	Claim     $1 key, $2 token, $3 lease µs     → token, expires_at
//	Complete  $1 key, $2 token, $3 keep µs
//	Release   $1 key, $2 token
//	Prune     (none)
//	ClaimTx   $1 key, $2 keep µs, $3 lock timeout ("2000ms") → a row when taken
//	Holder    $1 key                            → token
//	PruneSome (none)
func Postgres(table string) (Statements, error) {
	t, index, err := quote(table)
	if err != nil {
		return Statements{}, err
	}
	const in = `$3::bigint * interval '1 microsecond'`
	return Statements{
		Schema: []string{`CREATE TABLE IF NOT EXISTS ` + t + ` (
	key        text PRIMARY KEY,
	token      text NOT NULL,        -- the lease holder's token, or '' once completed
	expires_at timestamptz NOT NULL  -- end of the lease, or of the keep window once completed
)`,
			`CREATE INDEX IF NOT EXISTS ` + index + ` ON ` + t + ` (expires_at)`},
		Lock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", lockKey(t)),
		Claim: `INSERT INTO ` + t + ` AS t (key, token, expires_at) VALUES ($1, $2, now() + ` + in + `)
ON CONFLICT (key) DO UPDATE SET
	token = CASE WHEN t.expires_at <= now() THEN excluded.token ELSE t.token END,
	expires_at = CASE WHEN t.expires_at <= now() THEN excluded.expires_at ELSE t.expires_at END
RETURNING token, expires_at`,
		Complete: `UPDATE ` + t + ` SET token = '', expires_at = now() + ` + in + `
WHERE key = $1 AND token = $2 AND expires_at > now()`,
		Release: `DELETE FROM ` + t + ` WHERE key = $1 AND token = $2 AND expires_at > now()`,
		Prune:   `DELETE FROM ` + t + ` WHERE expires_at <= now()`,
		// A concurrent ClaimTx of the same key waits on this row (the
		// other transaction's uncommitted insert or update) until that
		// transaction ends: after its commit the key is completed, after
		// its rollback it is free. The wait is bounded by lock_timeout,
		// set for this statement only: the CTE sets it before the insert
		// runs, and RETURNING (which runs only when the key was taken, the
		// one case where a handler runs) restores the value it had, so the
		// handler's own statements wait as the host configured. A claim
		// that took nothing leaves the bound set: only the Holder lookup
		// follows, and the transaction is rolled back. A wait that times
		// out fails with SQLSTATE 55P03.
		ClaimTx: `WITH lock AS (SELECT current_setting('lock_timeout') AS before, set_config('lock_timeout', $3, true) AS bounded)
INSERT INTO ` + t + ` AS t (key, token, expires_at)
SELECT $1, '', now() + $2::bigint * interval '1 microsecond' FROM lock
ON CONFLICT (key) DO UPDATE SET token = '', expires_at = excluded.expires_at WHERE t.expires_at <= now()
RETURNING set_config('lock_timeout', (SELECT before FROM lock), true)`,
		Holder: `SELECT token FROM ` + t + ` WHERE key = $1`,
		PruneSome: `DELETE FROM ` + t + ` WHERE key IN (SELECT key FROM ` + t + ` WHERE expires_at <= now() LIMIT ` +
			fmt.Sprint(PruneBatch) + ` FOR UPDATE SKIP LOCKED)`,
	}, nil
}

// SQLite returns the statements for table on SQLite (3.35 or later). Times
// are Unix microseconds from the process clock, passed in. Arguments:
//
//	Claim     ?1 key, ?2 token, ?3 now, ?4 lease µs → token, expires_at
//	Complete  ?1 key, ?2 token, ?3 now, ?4 keep µs
//	Release   ?1 key, ?2 token, ?3 now
//	Prune     ?1 now
//	ClaimTx   ?1 key, ?2 now, ?3 keep µs          → a row when taken
//	Holder    ?1 key                              → token
//	PruneSome ?1 now
//
// SQLite has one writer at a time: opened with _txlock=immediate, a
// transaction holds the write lock from its BEGIN, so a concurrent ClaimTx
// of the same key waits (up to the busy timeout) at its own BEGIN.
func SQLite(table string) (Statements, error) {
	t, index, err := quote(table)
	if err != nil {
		return Statements{}, err
	}
	if strings.Contains(t, ".") {
		return Statements{}, fmt.Errorf("SQLite tables take no schema: %w", idempotency.ErrInvalidConfig)
	}
	return Statements{
		Schema: []string{`CREATE TABLE IF NOT EXISTS ` + t + ` (
	key        TEXT PRIMARY KEY,
	token      TEXT NOT NULL,     -- the lease holder's token, or '' once completed
	expires_at INTEGER NOT NULL   -- Unix microseconds: end of the lease, or of the keep window
)`,
			`CREATE INDEX IF NOT EXISTS ` + index + ` ON ` + t + ` (expires_at)`},
		Claim: `INSERT INTO ` + t + ` (key, token, expires_at) VALUES (?1, ?2, ?3 + ?4)
ON CONFLICT (key) DO UPDATE SET
	token = CASE WHEN expires_at <= ?3 THEN excluded.token ELSE token END,
	expires_at = CASE WHEN expires_at <= ?3 THEN excluded.expires_at ELSE expires_at END
RETURNING token, expires_at`,
		Complete: `UPDATE ` + t + ` SET token = '', expires_at = ?3 + ?4 WHERE key = ?1 AND token = ?2 AND expires_at > ?3`,
		Release:  `DELETE FROM ` + t + ` WHERE key = ?1 AND token = ?2 AND expires_at > ?3`,
		Prune:    `DELETE FROM ` + t + ` WHERE expires_at <= ?1`,
		ClaimTx: `INSERT INTO ` + t + ` (key, token, expires_at) VALUES (?1, '', ?2 + ?3)
ON CONFLICT (key) DO UPDATE SET token = '', expires_at = excluded.expires_at WHERE expires_at <= ?2
RETURNING 1`,
		Holder: `SELECT token FROM ` + t + ` WHERE key = ?1`,
		PruneSome: `DELETE FROM ` + t + ` WHERE key IN (SELECT key FROM ` + t + ` WHERE expires_at <= ?1 LIMIT ` +
			fmt.Sprint(PruneBatch) + `)`,
	}, nil
}

// For returns what a store's constructor needs of its configuration: the
// statements of dialect (Postgres or SQLite) on table, after checking that
// db, the store's database handle, is there. Its error names the store and
// wraps idempotency.ErrInvalidConfig.
func For(store string, db any, dialect func(table string) (Statements, error), table string) (Statements, error) {
	if db == nil {
		return Statements{}, fmt.Errorf("%s: nil DB: %w", store, idempotency.ErrInvalidConfig)
	}
	statements, err := dialect(table)
	if err != nil {
		return Statements{}, fmt.Errorf("%s: %w", store, err)
	}
	return statements, nil
}

// lockKey is the advisory lock key of a table's migration: a hash of its
// quoted name, so migrations of different tables do not wait for each
// other.
func lockKey(quotedTable string) int64 {
	var h uint64 = 14695981039346656037 // FNV-1a
	for _, c := range []byte("hookkit/idempotency " + quotedTable) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return int64(h)
}

// Script is the migration as one script (Lock first, when there is one):
// sent without arguments, PostgreSQL runs it in one implicit transaction,
// so the advisory lock covers every CREATE.
func (s Statements) Script() string {
	script := strings.Join(s.Schema, ";\n")
	if s.Lock != "" {
		script = s.Lock + ";\n" + script
	}
	return script
}

// ClaimResult is what a Claim statement's answer means: the row's holder
// is the token the claim offered (acquired), empty (completed), or another
// token (busy until expires).
func ClaimResult(holder, token string, expires time.Time) idempotency.Claim {
	switch holder {
	case token:
		return idempotency.Claim{State: idempotency.Acquired, Token: token, Expires: expires}
	case "":
		return idempotency.Claim{State: idempotency.Completed}
	}
	return idempotency.Claim{State: idempotency.Busy, Expires: expires}
}

// HolderState is what the Holder statement's answer means inside a claim
// transaction whose own claim found the key live: err is the scan's error
// and noRows the driver's "no rows" error. An empty holder is a completed
// event; another holder, or none (released or pruned meanwhile), is busy
// and the sender retries.
func HolderState(store, holder string, err, noRows error) (idempotency.State, error) {
	switch {
	case errors.Is(err, noRows):
		return idempotency.Busy, nil
	case err != nil:
		return 0, Unavailable(store, "claim in transaction", err)
	case holder == "":
		return idempotency.Completed, nil
	}
	return idempotency.Busy, nil
}

// SchemaText is the CREATE statements a Migrate runs, as one text, for hosts
// that manage their schema with their own migration tool.
func (s Statements) SchemaText() string { return strings.Join(s.Schema, ";\n") + ";\n" }

// DefaultLockTimeout bounds how long a claim inside a transaction on
// PostgreSQL (the ClaimTx statement) waits for another transaction that
// holds the same key: sqlstore.DefaultLockTimeout and
// pgxstore.DefaultLockTimeout.
const DefaultLockTimeout = 2 * time.Second

// PostgresClaimTxArgs are the PostgreSQL ClaimTx statement's arguments:
// key, kept for keep, waiting at most lockTimeout (DefaultLockTimeout when
// not positive) for another transaction that holds it.
func PostgresClaimTxArgs(key string, keep, lockTimeout time.Duration) []any {
	if lockTimeout <= 0 {
		lockTimeout = DefaultLockTimeout
	}
	return []any{key, keep.Microseconds(), strconv.FormatInt(lockTimeout.Milliseconds(), 10) + "ms"}
}

// IsLockTimeout reports whether err is PostgreSQL's lock_not_available
// (SQLSTATE 55P03): a ClaimTx that waited lockTimeout for the key. It reads
// the code from any driver error that reports one (pgconn.PgError does).
func IsLockTimeout(err error) bool {
	var coded interface{ SQLState() string }
	return errors.As(err, &coded) && coded.SQLState() == "55P03"
}

// Unavailable wraps a database error of store's op in
// idempotency.ErrUnavailable.
func Unavailable(store, op string, err error) error {
	return fmt.Errorf("%s %s: %w: %w", store, op, err, idempotency.ErrUnavailable)
}

// Migrated is a Migrate's answer for err, the migration script's error:
// nil, or err wrapped in idempotency.ErrUnavailable.
func Migrated(store string, err error) error {
	if err != nil {
		return Unavailable(store, "migrate", err)
	}
	return nil
}
