package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ReserveEasy's rule for a failed deposit: the booking is held for two
// hours, then cancelled if no deposit arrived meanwhile.
//
// The hold is a scheduled job kept in the bookings table itself: the
// failure's handler writes hold_until in the transaction that completes
// the payment_intent.payment_failed event, and each replica's hold sweep
// (holdSweeper) releases the bookings whose hold has ended. A job queued
// elsewhere (a River job scheduled for the deadline) could join that
// transaction only on SQLite: on PostgreSQL the Stripe route's handlers
// run in a database/sql transaction, River's client in pgx's. Kept in the
// row, the deadline commits with the failure or not at all, survives any
// restart (a process killed before the deadline leaves the row for the
// next sweep, of any replica), and is read on the backend's clock
// (store.now), which tests move past the deadline.
//
// A deposit that arrives before the deadline confirms the booking and
// clears the hold. One that arrives after it — whether or not a sweep has
// released the booking yet — is recorded, the booking stays cancelled
// (the slot may be someone else's by then), and the deposit is flagged
// for refund (refund_due) with an alert to the support team: it never
// re-confirms the booking by itself.
const holdDuration = 2 * time.Hour

// defaultHoldSweep is how often each replica looks for ended holds: a
// booking is released at most this long after its hold ends. One indexed
// query per interval per replica.
const defaultHoldSweep = 10 * time.Second

// holdSweepBatch bounds the bookings one query of a sweep reads; a sweep
// goes on while batches come back full.
const holdSweepBatch = 100

// supportTeam is the recipient of the support team's alerts in the
// outbox.
const supportTeam = "ReserveEasy support team"

// holdEnded reports whether a booking in state st is held and its hold
// ended at or before now (both RFC 3339 stamps, as store.stamp writes
// them, which compare as text).
func holdEnded(st bookingState, now string) bool {
	return st.Status == "payment_pending" && st.HoldUntil.Valid && st.HoldUntil.String <= now
}

// releaseHold cancels booking id if it is still held, unpaid, and its
// hold ended at or before now, and queues the email that tells the
// customer; it reports whether it did. The conditions are checked by the
// UPDATE itself, so replicas sweeping at once, or a sweep and a late
// deposit, release a booking once: on PostgreSQL the second UPDATE waits
// for the first's row lock and then finds the booking cancelled; on
// SQLite transactions take the write lock at BEGIN.
func (s *store) releaseHold(ctx context.Context, q querier, id, now string) (bool, error) {
	var until string
	err := q.queryRow(ctx, `UPDATE bookings SET status = 'cancelled', hold_expired_at = $2, updated_at = $2
		WHERE id = $1 AND status = 'payment_pending' AND NOT deposit_paid AND hold_until <= $2
		RETURNING hold_until`, id, now).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, s.notify(ctx, q, "hold:"+id+":released", id, "email_hold_released", "email", recipient("", id),
		fmt.Sprintf("Booking %s is cancelled: its deposit did not arrive before the hold ended at %s.", id, until))
}

// holdSweeper releases bookings whose hold has ended, every interval,
// until stopped.
type holdSweeper struct {
	store    *store
	logger   *slog.Logger
	interval time.Duration
	cancel   context.CancelFunc
	done     chan struct{}
}

func newHoldSweeper(st *store, logger *slog.Logger, interval time.Duration) *holdSweeper {
	if interval <= 0 {
		interval = defaultHoldSweep
	}
	return &holdSweeper{store: st, logger: logger, interval: interval}
}

// start runs a sweep at once (holds that ended while no replica ran are
// released on start), then every interval, until stop.
func (h *holdSweeper) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		tick := time.NewTicker(h.interval)
		defer tick.Stop()
		for {
			if _, err := h.sweep(ctx); err != nil && ctx.Err() == nil {
				h.logger.ErrorContext(ctx, "hold sweep failed; the next one retries", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// stop ends the sweeps and waits for a running one to return; a sweep
// interrupted mid-way commits what it released and leaves the rest to the
// next start.
func (h *holdSweeper) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
}

// sweep releases every booking whose hold has ended by now, each in a
// transaction of its own, and returns their IDs.
func (h *holdSweeper) sweep(ctx context.Context) ([]string, error) {
	var released []string
	for {
		now := h.store.stamp()
		ids, err := h.ended(ctx, now)
		if err != nil {
			return released, err
		}
		before := len(released)
		for _, id := range ids {
			var ok bool
			err := h.store.tx(ctx, func(q querier) (err error) {
				ok, err = h.store.releaseHold(ctx, q, id, now)
				return err
			})
			if err != nil {
				return released, fmt.Errorf("releasing booking %s: %w", id, err)
			}
			if ok {
				released = append(released, id)
				h.logger.InfoContext(ctx, "deposit hold ended: booking cancelled", "booking", id)
			}
		}
		if len(ids) < holdSweepBatch || len(released) == before {
			return released, nil
		}
	}
}

// ended lists (a batch of) the bookings held past now.
func (h *holdSweeper) ended(ctx context.Context, now string) ([]string, error) {
	rows, err := h.store.db.QueryContext(ctx, `SELECT id FROM bookings
		WHERE status = 'payment_pending' AND NOT deposit_paid AND hold_until <= $1
		ORDER BY hold_until, id LIMIT $2`, now, holdSweepBatch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
