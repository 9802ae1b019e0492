package order

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hookkit/hookkit/events"
)

// TxGuard is the dispatch.Guard of one transaction: the accept step (or
// a worker) puts it in its handler's context with dispatch.WithGuard, and
// reads back, once the handler has returned, what the guard did.
type TxGuard[Tx any] struct {
	t  *Tables[Tx]
	tx Tx
	// advanced lists the objects whose position this transaction
	// recorded, and which have events kept.
	advanced []Object
	// seen is the last call's object and what it found, for a handler
	// that then says ErrNotYet.
	seen      Object
	seenPos   events.Position
	seenLast  events.Position
	seenFound bool
	called    bool
}

// Object names an object: its source and its id within it.
type Object struct{ Source, ID string }

// Guard returns the guard of transaction tx.
func (t *Tables[Tx]) Guard(tx Tx) *TxGuard[Tx] { return &TxGuard[Tx]{t: t, tx: tx} }

// Advance implements dispatch.Guard: one upsert on the object's row, which
// holds the row's lock until tx ends. When events are kept for the object
// and pos is recorded, they are made due in tx.
func (g *TxGuard[Tx]) Advance(ctx context.Context, source, object string, pos events.Position) (events.Position, bool, error) {
	var at, rank, prevAt, prevRank sql.NullInt64
	var kept int64
	err := g.t.db.QueryRow(ctx, g.tx, g.t.q.advance, source, object, pos.At, int64(pos.Rank)).Scan(&at, &rank, &prevAt, &prevRank, &kept)
	if err != nil {
		return events.Position{}, false, fmt.Errorf("order: advance: %w", err)
	}
	now := events.Position{At: at.Int64, Rank: int(rank.Int64)}
	last, found := events.Position{At: prevAt.Int64, Rank: int(prevRank.Int64)}, prevAt.Valid
	recorded := now == pos
	if !recorded {
		last, found = now, true // older: nothing changed, and now is what is applied
	}
	g.seen, g.seenPos, g.seenLast, g.seenFound, g.called = Object{source, object}, pos, last, found, true
	if recorded && kept > 0 {
		if _, err := g.t.db.Exec(ctx, g.tx, g.t.q.due, source, object, time.Now().UnixMilli()); err != nil {
			return events.Position{}, false, fmt.Errorf("order: kept events due: %w", err)
		}
		g.advanced = append(g.advanced, Object{source, object})
	}
	return last, found, nil
}

// Object returns the object the guard last held, and false when the
// handler ran unordered (or g is nil).
func (g *TxGuard[Tx]) Object() (Object, bool) {
	if g == nil || !g.called {
		return Object{}, false
	}
	return g.seen, true
}

// Advanced returns the objects whose position the transaction recorded
// and for which events are kept: once it commits, wake the Keeper for
// them (Keeper.Wake).
func (g *TxGuard[Tx]) Advanced() []Object { return g.advanced }
