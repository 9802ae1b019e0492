// Package sqlstore is an idempotency.Store on a SQL database through
// database/sql: PostgreSQL (with github.com/jackc/pgx/v5/stdlib) for
// applications that run several replicas, and SQLite (with
// modernc.org/sqlite) for a single process that wants its keys to survive a
// restart. The host opens the database with the driver of its choice; this
// package imports no driver.
//
// Every operation is one statement: Claim is an
// INSERT ... ON CONFLICT (key) DO UPDATE ... RETURNING that takes the key
// only where the stored row has expired and otherwise returns it unchanged
// (so the caller learns "busy until" or "completed" in the same round trip);
// Complete and Release are an UPDATE and a DELETE fenced by the token and the
// lease's end. PostgreSQL compares times on the server's clock (now()), so
// replicas with skewed clocks agree; SQLite, being in-process, uses the
// process clock.
//
// Open SQLite with "_txlock=immediate" and a busy timeout (see [NewSQLite]):
// otherwise a transaction that reads and then writes fails with
// SQLITE_BUSY under concurrency instead of waiting its turn.
//
// Create the table with Migrate, or with the statement Schema returns, and
// call Prune from time to time to delete expired rows.
package sqlstore
