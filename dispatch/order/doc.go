// Package order is the ordering guard's and the kept events' tables on the
// host's SQL database (PostgreSQL or SQLite): the building block the
// transactional accept steps (dispatch/sqltx, dispatch/pgxtx) and the
// durable queue's workers (dispatch/riverqueue) share, over a [Driver] of
// their transaction type. Hosts use it through those packages: it is
// public so that modules of their own versions can share it, and so that
// a third party binding another database library can too.
//
// # Positions
//
// One row per object (source and object, as an events.Order names them)
// holds the last position applied. [Tables.Guard] returns the
// dispatch.Guard of one transaction: its Advance is one statement, an
// upsert that takes the row's lock for the rest of the transaction (on
// PostgreSQL a row lock, which the next event of the same object waits
// for; on SQLite the database's one writer) and records the event's
// position unless it is older than the one applied. On PostgreSQL, the
// accept step runs that upsert inside the statement that claims the
// event's key when the event's handler is guarded by dispatch.Ordered
// outermost ([TxGuard.ClaimAdvance]; the handler's Advance is then
// answered from it): one round trip fewer per ordered event. The position
// commits with the handler's writes, or rolls back with them. Rows are never
// deleted: a position is what makes a replay that arrives after its key
// was forgotten (a Twilio callback) stale.
//
// # Kept events
//
// An event whose handler says dispatch.ErrNotYet is kept: [Tables.KeepTx]
// writes it in the transaction that completes its key, so it is
// acknowledged (200, kept) exactly when it is stored. Its object's row
// counts what is kept for it, so that the event that advances the object
// learns it in the same statement, marks those kept events due in its own
// transaction, and wakes the [Keeper] once it commits: a kept event runs
// again within moments of its object's advance, on whatever replica
// applied it, and a replica that died before waking anyone leaves them due
// for the next poll ([KeeperConfig.Poll], a second). A kept event whose
// object does not advance runs again after each of [Config.Retry]'s delays
// (by default GoConverso's own schedule: 1 min, 5 min, 30 min, 2 h, 24 h),
// and after the last becomes a dead letter. Each run deletes the kept row
// in the transaction the handler writes in: nothing kept runs twice, and
// nothing kept is lost to a crash.
package order
