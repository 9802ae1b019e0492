package order

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hookkit/hookkit/dispatch"
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
	// preset answers the Advance that ClaimAdvance made.
	preset *preset
}

// Object names an object: its source and its id within it.
type Object struct{ Source, ID string }

// Guard returns the guard of transaction tx.
func (t *Tables[Tx]) Guard(tx Tx) *TxGuard[Tx] { return &TxGuard[Tx]{t: t, tx: tx} }

// Advance implements dispatch.Guard: one upsert on the object's row, which
// holds the row's lock until tx ends. When events are kept for the object
// and pos is recorded, they are made due in tx. The Advance that
// ClaimAdvance has made already is answered without a statement.
func (g *TxGuard[Tx]) Advance(ctx context.Context, source, object string, pos events.Position) (events.Position, bool, error) {
	if p := g.preset; p != nil && p.object == (Object{source, object}) && p.pos == pos {
		g.preset = nil
		return p.last, p.found, nil
	}
	var r upserted
	if err := g.t.db.QueryRow(ctx, g.tx, g.t.q.advance, source, object, pos.At, int64(pos.Rank)).Scan(r.dest()...); err != nil {
		return events.Position{}, false, fmt.Errorf("order: advance: %w", err)
	}
	return g.record(ctx, Object{source, object}, pos, r)
}

// ClaimAdvance claims an event's key and advances its object in one
// statement, on PostgreSQL: claim is the statement that claims the key
// inside tx (an INSERT ... RETURNING, which may open with its own WITH),
// taking claimArgs as its $1 to $n, and returning a row when it took the
// key. Only when it does, the same statement records pos for object as
// Advance does, after the claim's own lock waits. It reports whether the
// claim took the key; then the next Advance of the same source, object
// and pos (the attempt's ordered handler) is answered with what the
// statement found, one round trip fewer. When the claim takes nothing,
// nothing is advanced. SQLite has no statements that write inside WITH:
// there, it is an error wrapping dispatch.ErrInvalidConfig (claim, then
// Advance).
func (g *TxGuard[Tx]) ClaimAdvance(ctx context.Context, claim string, claimArgs []any, source, object string, pos events.Position) (claimed bool, err error) {
	if g.t.dialect != Postgres {
		return false, fmt.Errorf("order: ClaimAdvance on SQLite: %w", dispatch.ErrInvalidConfig)
	}
	args := append(claimArgs[:len(claimArgs):len(claimArgs)], source, object, pos.At, int64(pos.Rank))
	var r upserted
	err = g.t.db.QueryRow(ctx, g.tx, g.t.claimAdvance(claim, len(claimArgs)), args...).Scan(r.dest()...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("order: claim and advance: %w", err)
	}
	p := &preset{object: Object{source, object}, pos: pos}
	if p.last, p.found, err = g.record(ctx, p.object, pos, r); err != nil {
		return true, err
	}
	g.preset = p
	return true, nil
}

// upserted is what the advance's upsert returns: the object's position
// now and before, and how many events are kept for it.
type upserted struct {
	at, rank, prevAt, prevRank sql.NullInt64
	kept                       int64
}

func (r *upserted) dest() []any { return []any{&r.at, &r.rank, &r.prevAt, &r.prevRank, &r.kept} }

// preset is the answer to an Advance that ClaimAdvance made.
type preset struct {
	object    Object
	pos, last events.Position
	found     bool
}

// record reads the upsert's answer for o at pos: the last position
// applied before it, and whether there was one. When pos was recorded and
// events are kept for o, they are made due in tx.
func (g *TxGuard[Tx]) record(ctx context.Context, o Object, pos events.Position, r upserted) (events.Position, bool, error) {
	now := events.Position{At: r.at.Int64, Rank: int(r.rank.Int64)}
	last, found := events.Position{At: r.prevAt.Int64, Rank: int(r.prevRank.Int64)}, r.prevAt.Valid
	recorded := now == pos
	if !recorded {
		last, found = now, true // older: nothing changed, and now is what is applied
	}
	g.seen, g.seenPos, g.seenLast, g.seenFound, g.called = o, pos, last, found, true
	if recorded && r.kept > 0 {
		if _, err := g.t.db.Exec(ctx, g.tx, g.t.q.due, o.Source, o.ID, time.Now().UnixMilli()); err != nil {
			return events.Position{}, false, fmt.Errorf("order: kept events due: %w", err)
		}
		g.advanced = append(g.advanced, o)
	}
	return last, found, nil
}

// claimAdvance is ClaimAdvance's statement for claim, whose arguments are
// $1 to $n: the claim, as a WITH query, feeds the advance's upsert, whose
// arguments follow. It is built once per claim text.
func (t *Tables[Tx]) claimAdvance(claim string, n int) string {
	if f := t.fused.Load(); f != nil && f.claim == claim {
		return f.sql
	}
	q := t.q.insertPosition + `SELECT $` + strconv.Itoa(n+1) + `::text, $` + strconv.Itoa(n+2) + `::text, $` +
		strconv.Itoa(n+3) + `::bigint, $` + strconv.Itoa(n+4) + `::bigint FROM claim` + t.q.upsert
	f := &fusedClaim{claim: claim, sql: "WITH claim AS (\n" + claim + "\n), advance AS (\n" + q + "\n)\nSELECT pos_at, pos_rank, prev_at, prev_rank, kept FROM advance"}
	t.fused.Store(f)
	return f.sql
}

// fusedClaim is a claim's text and its ClaimAdvance statement.
type fusedClaim struct{ claim, sql string }

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
