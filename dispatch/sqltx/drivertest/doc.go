// Package drivertest holds dispatch/sqltx's tests that need a database
// driver: the transactional accept step and the dead-letter store on SQLite
// through modernc.org/sqlite and on PostgreSQL through pgx's database/sql
// driver, with the benchmarks and the runnable examples. It is a module of
// its own, with no code a host imports, so that the drivers, which only
// these tests need, never appear in the core module's go.mod: a host that
// uses sqltx brings the driver it chose.
package drivertest
