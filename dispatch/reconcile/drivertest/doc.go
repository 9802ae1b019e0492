// Package drivertest holds dispatch/reconcile's tests that need a database
// driver: the SQLStore's checkpoints and leases, and recovery into the
// host's transaction (dispatch/sqltx), on SQLite through modernc.org/sqlite
// and on PostgreSQL through pgx's database/sql driver, with the
// events-recovered-per-second benchmarks. It is a module of its own, with
// no code a host imports, so that the drivers never appear in the core
// module's go.mod.
package drivertest
