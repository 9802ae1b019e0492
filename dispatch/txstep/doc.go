// Package txstep is the building block of hookkit's transactional accept
// step: the handler runs inside a transaction of the host's database in
// which its event's idempotency key is claimed first, so that the
// handler's writes and the key's completion commit together, or not at
// all. Package dispatch/sqltx binds it to database/sql and dispatch/pgxtx
// to pgx; a third party binds another database library by implementing
// [Database] for its transaction type, as a River driver implements
// riverdriver.
//
// The pieces:
//
//   - [Driver] opens and ends transactions of type Tx; a queue's workers
//     (dispatch/riverqueue) run handlers in them too.
//   - [Database] adds what the step does inside a transaction: claim a key,
//     store a dead letter.
//   - [Ordering], which a Database adds to order events (package
//     dispatch/order's tables and Keeper), and [OrderedClaim], which one
//     on PostgreSQL adds to claim an ordered event's key and advance its
//     object in one statement.
//   - [New] returns the accept step on a Database, for dispatch.WithAcceptor.
//   - [WithTx] and [TxFrom] carry the transaction in the handler's context:
//     what sqltx.Tx and pgxtx.Tx read.
//   - [Config] configures the tables of every binding hookkit ships.
//
// What a 200 means, and what happens on a crash, is documented on [New].
package txstep
