package integration_test

import (
	"context"
	"database/sql"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx"
	_ "modernc.org/sqlite"             // database/sql's "sqlite"

	"github.com/hookkit/hookkit/internal/integration/internal/servicetest"
)

// postgresSchemaURL returns the test database's URL with a schema of the
// test's own on the search path, dropped when the test ends.
func postgresSchemaURL(t testing.TB) string {
	base := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
	schema := servicetest.RandomName("hookkit_it_")
	admin, err := pgxpool.New(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	if err := admin.Ping(context.Background()); err != nil {
		servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
	}
	_, err = admin.Exec(context.Background(), `CREATE SCHEMA `+schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	query := u.Query()
	query.Set("search_path", schema)
	u.RawQuery = query.Encode()
	return u.String()
}

// waitFor waits up to d for cond, checking every 20 ms.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	if !waitUntil(d, cond) {
		t.Fatalf("%s: not within %v", what, d)
	}
}

// waitUntil checks cond on a 20 ms ticker until it holds, for at most d,
// and says whether it did: the state a test waits for, read as it comes.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// waitIdle waits until River holds no hookkit job in db that can still
// run (none available, scheduled, pending, retryable or running): the bound
// after which a job run twice, or a job that should not exist, has shown.
func waitIdle(t *testing.T, db *sql.DB) {
	t.Helper()
	waitFor(t, "no job left to run", 30*time.Second, func() bool {
		var n int
		err := db.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'hookkit.webhook'
	AND state IN ('available', 'scheduled', 'pending', 'retryable', 'running')`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
}
