// Package postgres holds idempotency/sqlstore's tests on PostgreSQL,
// through pgx's database/sql driver. It is a module of its own, with no
// code a host imports, so that pgx, which only these tests need, never
// appears in the core module's go.mod.
package postgres
