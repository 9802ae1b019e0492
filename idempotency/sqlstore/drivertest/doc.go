// Package drivertest holds idempotency/sqlstore's tests that need a
// database driver: on SQLite through modernc.org/sqlite, on PostgreSQL
// through pgx's database/sql driver, with the benchmarks and the runnable
// examples. It is a module of its own, with no code a host imports, so
// that the drivers, which only these tests need, never appear in the core
// module's go.mod: a host that uses sqlstore brings the driver it chose.
package drivertest
