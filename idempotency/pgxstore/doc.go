// Package pgxstore is an idempotency.Store on PostgreSQL through pgx
// (github.com/jackc/pgx/v5) natively: a host on pgxpool needs neither
// database/sql nor stdlib.OpenDBFromPool. It keeps the same table, with the
// same statements, as package sqlstore's PostgreSQL store, so the two can
// share a table, and it passes the same conformance suite.
//
// Each operation is one statement and, once pgx has prepared it, one round
// trip; times are compared on the server's clock (now()). ClaimTx claims a
// key inside the host's pgx.Tx, for the transactional accept step of
// package dispatch/pgxtx, in which the handler's writes and the key's completion
// commit together.
package pgxstore
