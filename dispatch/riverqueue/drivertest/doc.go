// Package drivertest holds dispatch/riverqueue's tests that need a River
// driver and a database: the queue on SQLite (riversqlite, modernc.org/sqlite)
// and on PostgreSQL (riverpgxv5, pgx, dispatch/pgxtx), its crash recovery
// (the sweep), its dead letters, its benchmarks and the runnable example.
// It is a module of its own, with no code a host imports, so that the
// drivers, which only these tests need, never appear in riverqueue's
// go.mod: a host that queues on PostgreSQL resolves no SQLite, and one on
// SQLite no pgx.
package drivertest
