package txaccepttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookkit/hookkit/internal/servicetest"
)

// Tables names one test's tables.
type Tables struct{ Idempotency, DeadLetters, Effects string }

// NewTables returns tables of random names.
func NewTables() Tables {
	return Tables{servicetest.RandomName("hk_idem_"), servicetest.RandomName("hk_dl_"), servicetest.RandomName("hk_effects_")}
}

// SQL runs statements on a binding's database outside any transaction:
// Exec one that returns no rows, Count one that returns a single integer.
type SQL struct {
	Exec  func(ctx context.Context, query string, args ...any) error
	Count func(ctx context.Context, query string, args ...any) (int, error)
}

// OnTables completes m, a binding's Acceptor, DeadLetters, Stats, Effect
// and Replica, with what depends only on the tables and the SQL dialect:
// it creates tb.Effects (no unique constraint: a handler that ran twice
// leaves two rows) and fills Effects, the dead-letter checks and Waits.
func OnTables(t *testing.T, db SQL, tb Tables, postgres bool, m Binding) Binding {
	t.Helper()
	ctx := context.Background()
	if err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+tb.Effects+` (event_id TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	count := func(query string, args ...any) func(t *testing.T) int {
		return func(t *testing.T) int {
			n, err := db.Count(ctx, query, args...)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	exec := func(query string) func(t *testing.T) {
		return func(t *testing.T) {
			if err := db.Exec(ctx, query); err != nil {
				t.Fatal(err)
			}
		}
	}
	m.Effects = func(t *testing.T, id string) int {
		return count(`SELECT COUNT(*) FROM `+tb.Effects+` WHERE event_id = $1`, id)(t)
	}
	m.BreakDeadLetters = exec(`ALTER TABLE ` + tb.DeadLetters + ` RENAME TO ` + tb.DeadLetters + `_x`)
	m.FixDeadLetters = exec(`ALTER TABLE ` + tb.DeadLetters + `_x RENAME TO ` + tb.DeadLetters)
	m.ClosedRows = count(`SELECT COUNT(*) FROM ` + tb.DeadLetters + ` WHERE state <> 'open'`)
	m.ClosedWithContent = count(`SELECT COUNT(*) FROM ` + tb.DeadLetters +
		` WHERE state <> 'open' AND (length(body) > 0 OR length(data) > 0 OR header <> '{}')`)
	age := `UPDATE ` + tb.DeadLetters + ` SET closed_at = closed_at - interval '8 days' WHERE state <> 'open'`
	if !postgres {
		age = `UPDATE ` + tb.DeadLetters + ` SET closed_at = closed_at - 8 * 86400000000 WHERE state <> 'open'`
	}
	m.AgeClosed = exec(age)
	m.Waits = postgres
	m.LockWaitOver = func(t *testing.T, d time.Duration) bool {
		// The statement names the keys' table: other tests' waits do not count.
		return count(`SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
	AND position($1 in query) > 0 AND now() - query_start > $2::bigint * interval '1 millisecond'`, tb.Idempotency, d.Milliseconds())(t) > 0
	}
	expired, past := `SELECT COUNT(*) FROM `+tb.Idempotency+` WHERE key LIKE 'expired:%' AND expires_at <= now()`, `now() - interval '1 hour'`
	if !postgres {
		expired = `SELECT COUNT(*) FROM ` + tb.Idempotency + ` WHERE key LIKE 'expired:%'`
		past = fmt.Sprint(time.Now().Add(-time.Hour).UnixMicro())
	}
	m.AddExpiredKeys = func(t *testing.T, n int) {
		exec(`INSERT INTO ` + tb.Idempotency + ` (key, token, expires_at) SELECT 'expired:' || i, '', ` + past +
			` FROM (WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ` + fmt.Sprint(n) + `) SELECT i FROM s) AS s`)(t)
	}
	m.ExpiredKeys = count(expired)
	return m
}
