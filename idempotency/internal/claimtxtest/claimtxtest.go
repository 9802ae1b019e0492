// Package claimtxtest checks a store's claim inside a transaction (ClaimTx), the
// same way for every store that has one: sqlstore on PostgreSQL and SQLite,
// and pgxstore. It is to ClaimTx what storetest is to the Store interface.
package claimtxtest

import (
	"context"
	"testing"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

// Harness is a store with transactions of type Tx.
type Harness[Tx any] struct {
	// Store is the store under test, for the lease step's claims.
	Store idempotency.Store
	// Begin opens a transaction on its own connection.
	Begin func(t *testing.T) Tx
	// End commits or rolls back tx; it reports failure with t.Error (it
	// may run on another goroutine).
	End func(t *testing.T, tx Tx, commit bool)
	// ClaimTx claims key in tx (keep and lock timeout as the store takes
	// them).
	ClaimTx func(ctx context.Context, tx Tx, key string, keep, lockTimeout time.Duration) (idempotency.State, error)
	// Waits is true where a concurrent claim waits at ClaimTx for the
	// holder's transaction (PostgreSQL), false where it waits at Begin
	// (SQLite, one writer at a time).
	Waits bool
	// Waiting, required where Waits, reports whether a claim is waiting
	// for a lock another transaction holds (WaitingQuery on PostgreSQL):
	// the check that a second claim waits for the holder watches it wait,
	// rather than for some time.
	Waiting func(t *testing.T) bool
}

// WaitingQuery counts PostgreSQL's statements waiting for a lock whose
// text contains $1 (a table's name): the claims on that table that wait
// for another transaction.
const WaitingQuery = `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'`

var ctx = context.Background()

// Run runs every check on h.
func Run[Tx any](t *testing.T, h Harness[Tx]) {
	t.Run("CommitCompletes", func(t *testing.T) { commitCompletes(t, h) })
	t.Run("RollbackFrees", func(t *testing.T) { rollbackFrees(t, h) })
	t.Run("LeaseHolderIsBusy", func(t *testing.T) { leaseHolderIsBusy(t, h) })
	t.Run("KeepWindowEnds", func(t *testing.T) { keepWindowEnds(t, h) })
	if h.Waits {
		if h.Waiting == nil {
			t.Fatal("claimtxtest: a Harness that Waits needs Waiting")
		}
		t.Run("ConcurrentClaimWaitsForTheHolder", func(t *testing.T) { concurrentClaimWaits(t, h) })
		t.Run("ConcurrentClaimTimesOutBusy", func(t *testing.T) { concurrentClaimTimesOut(t, h) })
	}
}

func claim[Tx any](t *testing.T, h Harness[Tx], tx Tx, key string, keep time.Duration) idempotency.State {
	t.Helper()
	state, err := h.ClaimTx(ctx, tx, key, keep, 0)
	if err != nil {
		t.Fatalf("ClaimTx(%q): %v", key, err)
	}
	return state
}

func want(t *testing.T, got, want idempotency.State, what string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: state %s, want %s", what, got, want)
	}
}

func commitCompletes[Tx any](t *testing.T, h Harness[Tx]) {
	tx := h.Begin(t)
	want(t, claim(t, h, tx, "stripe:evt_commit", time.Hour), idempotency.Acquired, "first claim")
	h.End(t, tx, true)

	tx = h.Begin(t)
	want(t, claim(t, h, tx, "stripe:evt_commit", time.Hour), idempotency.Completed, "claim after commit")
	h.End(t, tx, false)
	c, err := h.Store.Claim(ctx, "stripe:evt_commit", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want(t, c.State, idempotency.Completed, "lease-mode claim after commit")
}

func rollbackFrees[Tx any](t *testing.T, h Harness[Tx]) {
	tx := h.Begin(t)
	want(t, claim(t, h, tx, "stripe:evt_rollback", time.Hour), idempotency.Acquired, "first claim")
	h.End(t, tx, false)

	tx = h.Begin(t)
	want(t, claim(t, h, tx, "stripe:evt_rollback", time.Hour), idempotency.Acquired, "claim after rollback")
	h.End(t, tx, false)
}

func leaseHolderIsBusy[Tx any](t *testing.T, h Harness[Tx]) {
	c, err := h.Store.Claim(ctx, "stripe:evt_leased", time.Minute)
	if err != nil || c.State != idempotency.Acquired {
		t.Fatalf("lease-mode claim: %v %v", c.State, err)
	}
	tx := h.Begin(t)
	want(t, claim(t, h, tx, "stripe:evt_leased", time.Hour), idempotency.Busy, "claim of a leased key")
	h.End(t, tx, false)
}

func keepWindowEnds[Tx any](t *testing.T, h Harness[Tx]) {
	tx := h.Begin(t)
	want(t, claim(t, h, tx, "stripe:evt_keep", 300*time.Millisecond), idempotency.Acquired, "first claim")
	h.End(t, tx, true)
	time.Sleep(700 * time.Millisecond)
	tx = h.Begin(t)
	want(t, claim(t, h, tx, "stripe:evt_keep", time.Hour), idempotency.Acquired, "claim after the keep window")
	h.End(t, tx, false)
}

// A second transaction claiming a key another holds waits for it: after the
// holder's commit it sees the key completed, never both run.
func concurrentClaimWaits[Tx any](t *testing.T, h Harness[Tx]) {
	holder := h.Begin(t)
	want(t, claim(t, h, holder, "stripe:evt_wait", time.Hour), idempotency.Acquired, "holder")
	result := make(chan idempotency.State, 1)
	go func() {
		tx := h.Begin(t)
		state, err := h.ClaimTx(ctx, tx, "stripe:evt_wait", time.Hour, 10*time.Second)
		if err != nil {
			t.Errorf("waiting claim: %v", err)
		}
		h.End(t, tx, false)
		result <- state
	}()
	// The second claim is seen waiting for the holder's lock; an answer
	// first would be one given while the holder's transaction was open.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for !h.Waiting(t) {
		select {
		case state := <-result:
			h.End(t, holder, false)
			t.Fatalf("the second claim answered %s while the holder's transaction was open", state)
		case <-deadline.C:
			h.End(t, holder, false)
			<-result
			t.Fatal("the second claim was not seen waiting for the holder's lock within 10s")
		case <-tick.C:
		}
	}
	h.End(t, holder, true)
	select {
	case state := <-result:
		want(t, state, idempotency.Completed, "the waiting claim, after the holder's commit")
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting claim never answered")
	}
}

// The wait is bounded: past the lock timeout the claim answers Busy.
func concurrentClaimTimesOut[Tx any](t *testing.T, h Harness[Tx]) {
	holder := h.Begin(t)
	want(t, claim(t, h, holder, "stripe:evt_timeout", time.Hour), idempotency.Acquired, "holder")
	defer h.End(t, holder, false)
	tx := h.Begin(t)
	start := time.Now()
	state, err := h.ClaimTx(ctx, tx, "stripe:evt_timeout", time.Hour, 200*time.Millisecond)
	elapsed := time.Since(start)
	h.End(t, tx, false)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	want(t, state, idempotency.Busy, "a claim that waited past its lock timeout")
	if elapsed < 150*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("the claim answered after %v; want about the 200ms lock timeout", elapsed)
	}
}
