package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
)

// handlers holds the business logic each webhook triggers. Every change a
// delivery makes happens in one transaction.
//
// Senders do not deliver in order: a payment can arrive before the booking
// it pays for, a refund before its payment, a late "confirmed" after a
// "cancelled". Each route's handlers are ordered by hookkit's guard
// (dispatch.Ordered, with each sender's default order): an event older
// than the last one applied for its object — a GoConverso booking, a
// Stripe payment intent or charge, a Twilio message — is answered 200,
// stale, and never runs, and one object's events run one at a time. A
// GoConverso event about a booking that is not created yet says
// dispatch.ErrNotYet: it is kept, and runs as soon as the booking.created
// is applied. A Stripe or Etail event about a booking this backend does
// not have is a retryable failure while the sender still retries (see
// missing): its object is the payment, which no booking event advances,
// so the sender's retry is what brings it back. Notifications follow the
// booking's state, not the arrival order.
type handlers struct {
	store  *store
	logger *slog.Logger
	// reminderTemplate formats reminder texts: the service, then the
	// start. Without one, reminders fail permanently (dead-lettered) until
	// it is configured and their dead letters re-run.
	reminderTemplate atomic.Pointer[string]
}

// defaultReminderTemplate is the production reminder text.
const defaultReminderTemplate = "Reminder: %s on %s."

// errNoReminderTemplate is why reminders fail while none is configured.
var errNoReminderTemplate = errors.New("no SMS reminder template configured")

// retryWindow is how long senders keep retrying an event: Stripe for three
// days, the Standard Webhooks schedule for about 75 hours.
const retryWindow = 72 * time.Hour

// missing is the failure of an event about a booking this backend does not
// have. While the sender still retries, the booking may simply not exist
// yet (its booking.created is on its way): the failure is retryable (500).
// Once the event is older than the retry window, or carries no time, no
// retry will bring the booking: it is dead-lettered and acknowledged.
func (h *handlers) missing(e *events.Event, err error) error {
	if e.Time.IsZero() || h.store.now().Sub(e.Time) > retryWindow {
		return dispatch.Permanent(err)
	}
	return err
}

// notYet is the failure of a GoConverso event about a booking whose
// booking.created has not been applied: dispatch.ErrNotYet, so that the
// event is kept and runs as soon as the creation is applied. Once the
// event is older than the retry window, no creation is still on its way:
// it is dead-lettered, as missing says.
func (h *handlers) notYet(e *events.Event, err error) error {
	if err = h.missing(e, err); dispatch.IsPermanent(err) {
		return err
	}
	return fmt.Errorf("%w: %w", err, dispatch.ErrNotYet)
}

// onBooking runs fn in a transaction with the customer phone of booking id;
// a booking this backend does not have fails as missing says.
func (h *handlers) onBooking(ctx context.Context, e *events.Event, id string, fn func(q querier, phone string) error) error {
	err := h.store.tx(ctx, func(q querier) error {
		phone, err := phoneOf(ctx, q, id)
		if err != nil {
			return err
		}
		return fn(q, phone)
	})
	if errors.Is(err, errNoBooking) {
		return h.missing(e, err)
	}
	return err
}

func money(amount int64, currency string) string {
	return fmt.Sprintf("%d.%02d %s", amount/100, amount%100, strings.ToUpper(currency))
}

func (h *handlers) stripeRoutes() *dispatch.Router {
	r := dispatch.NewRouter()
	// Stripe's order: by the object (payment intent, charge), at the
	// event's created second, ties broken by the object's status
	// (stripeevent.Ordering).
	r.Use(dispatch.Ordered(stripeevent.Ordering))
	dispatch.On(r, stripeevent.PaymentIntentSucceeded, h.depositPaid)
	dispatch.On(r, stripeevent.PaymentIntentPaymentFailed, h.depositFailed)
	dispatch.On(r, stripeevent.ChargeRefunded, h.depositRefunded)
	return r
}

func bookingOf(metadata map[string]string, what string) (string, error) {
	id := metadata["booking_id"]
	if id == "" {
		return "", dispatch.Permanent(fmt.Errorf("%s has no booking_id in its metadata", what))
	}
	return id, nil
}

// depositPaid: the deposit is paid, the booking confirmed, the payment
// recorded, and a confirmation SMS queued. A payment whose refund arrived
// first is recorded, but neither confirms the booking nor tells the
// customer their deposit was received. A payment for a cancelled booking
// — its two-hour hold ended before the deposit arrived (holds.go), or it
// was cancelled — is recorded and flagged for refund, with an alert to
// the support team; it never re-confirms the booking.
func (h *handlers) depositPaid(ctx context.Context, e *events.Event, pi *stripe.PaymentIntent) error {
	id, err := bookingOf(pi.Metadata, "payment intent "+pi.ID)
	if err != nil {
		return err
	}
	return h.onBooking(ctx, e, id, func(q querier, phone string) error {
		st, err := lockBooking(ctx, q, id)
		if err != nil {
			return err
		}
		now := h.store.stamp()
		if holdEnded(st, now) { // the sweep has not come by yet: release it as the sweep would
			if _, err := h.store.releaseHold(ctx, q, id, now); err != nil {
				return err
			}
			st.Status = "cancelled"
		}
		if err := h.store.addTransaction(ctx, q, "txn_"+pi.ID, id, "deposit", pi.Amount, string(pi.Currency), pi.ID); err != nil {
			return err
		}
		if st.Status == "cancelled" {
			return h.depositForCancelled(ctx, e, q, id, st, pi)
		}
		if _, err := q.exec(ctx, `UPDATE bookings SET deposit_paid = TRUE, hold_until = NULL, updated_at = $2,
			status = CASE WHEN status IN ('pending', 'payment_pending') AND NOT deposit_refunded THEN 'confirmed' ELSE status END
			WHERE id = $1`, id, now); err != nil {
			return err
		}
		if st.Refunded {
			return nil
		}
		return h.store.notify(ctx, q, e.Key()+":sms", id, "sms_confirmation", "sms", phone,
			fmt.Sprintf("ReserveEasy: your deposit of %s is received; booking %s is confirmed.", money(pi.Amount, string(pi.Currency)), id))
	})
}

// depositForCancelled records a deposit that arrived for a cancelled
// booking: paid, flagged for refund (unless it was refunded already) and
// the support team alerted; the booking stays cancelled.
func (h *handlers) depositForCancelled(ctx context.Context, e *events.Event, q querier, id string, st bookingState, pi *stripe.PaymentIntent) error {
	if _, err := q.exec(ctx, `UPDATE bookings SET deposit_paid = TRUE, refund_due = NOT deposit_refunded, updated_at = $2 WHERE id = $1`,
		id, h.store.stamp()); err != nil || st.Refunded {
		return err
	}
	why := "it was cancelled"
	if st.HoldUntil.Valid {
		why = "its hold ended at " + st.HoldUntil.String
	}
	return h.store.notify(ctx, q, e.Key()+":support", id, "support_refund_due", "support", supportTeam,
		fmt.Sprintf("Deposit %s of %s for booking %s arrived after %s: the booking stays cancelled; refund the deposit.",
			pi.ID, money(pi.Amount, string(pi.Currency)), id, why))
}

// depositFailed: the booking waits for payment, held for two hours from
// the first failure (holds.go), and the customer is emailed. A failed
// attempt that arrives after the deposit was paid, or once the booking is
// cancelled, changes nothing and emails no one; a second failure does not
// extend the hold.
func (h *handlers) depositFailed(ctx context.Context, e *events.Event, pi *stripe.PaymentIntent) error {
	id, err := bookingOf(pi.Metadata, "payment intent "+pi.ID)
	if err != nil {
		return err
	}
	reason := "the payment did not go through"
	if pi.LastPaymentError != nil && pi.LastPaymentError.Msg != "" {
		reason = pi.LastPaymentError.Msg
	}
	return h.onBooking(ctx, e, id, func(q querier, _ string) error {
		st, err := lockBooking(ctx, q, id)
		if err != nil {
			return err
		}
		now := h.store.stamp()
		if holdEnded(st, now) {
			_, err := h.store.releaseHold(ctx, q, id, now)
			return err
		}
		hold := h.store.now().Add(holdDuration).UTC().Format(time.RFC3339)
		var until string
		err = q.queryRow(ctx, `UPDATE bookings SET status = 'payment_pending', hold_until = COALESCE(hold_until, $2), updated_at = $3
			WHERE id = $1 AND NOT deposit_paid AND status <> 'cancelled' RETURNING hold_until`, id, hold, now).Scan(&until)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // already paid (the failure was an earlier attempt), or cancelled
		}
		if err != nil {
			return err
		}
		return h.store.notify(ctx, q, e.Key()+":email", id, "email_payment_failed", "email", recipient(pi.ReceiptEmail, id),
			fmt.Sprintf("Your deposit for booking %s failed (%s). We hold your slot until %s.", id, reason, until))
	})
}

// depositRefunded: the deposit is marked refunded and the customer emailed.
func (h *handlers) depositRefunded(ctx context.Context, e *events.Event, ch *stripe.Charge) error {
	id, err := bookingOf(ch.Metadata, "charge "+ch.ID)
	if err != nil {
		return err
	}
	return h.onBooking(ctx, e, id, func(q querier, _ string) error {
		if _, err := q.exec(ctx, `UPDATE bookings SET deposit_refunded = TRUE, refund_due = FALSE, refunded_at = $2, updated_at = $2 WHERE id = $1`,
			id, h.store.stamp()); err != nil {
			return err
		}
		return h.store.notify(ctx, q, e.Key()+":email", id, "email_refund", "email", recipient(ch.ReceiptEmail, id),
			fmt.Sprintf("We refunded %s for booking %s.", money(ch.AmountRefunded, string(ch.Currency)), id))
	})
}

func recipient(email, bookingID string) string {
	if email != "" {
		return email
	}
	return "customer of booking " + bookingID
}

func (h *handlers) twilioRoutes() *dispatch.Router {
	r := dispatch.NewRouter()
	// Twilio's order: by message, at its status's rank in the lattice
	// Twilio documents (twilioevent.Ordering): queued < sending < sent <
	// delivered < read, then failed and undelivered, final. A callback
	// that does not move its message forward is stale and never runs.
	r.Use(dispatch.Ordered(twilioevent.Ordering))
	r.HandleFunc("message.*", h.smsStatus)
	return r
}

// smsStatus records a confirmation SMS's fate: the first message
// (MessageSid) seen for the latest confirmed booking of the number it went
// to is that booking's confirmation, and only its callbacks change the
// booking. Another message to the same number (a reminder, a second
// booking's text) neither marks the booking failed nor sends its fallback
// email. The guard runs a message's callbacks one at a time and only
// forward, so the status written is always the message's latest. A
// confirmation that ends failed or undelivered queues an email instead,
// and alerts the support team: once, when its status first becomes one of
// them (undelivered may follow failed).
func (h *handlers) smsStatus(ctx context.Context, e *events.Event) error {
	m, err := twilioevent.DecodeMessageStatus(e.Data)
	if err != nil {
		return dispatch.Permanent(err)
	}
	return h.store.tx(ctx, func(q querier) error {
		var id string
		var sid, current sql.NullString
		err := q.queryRow(ctx, `SELECT id, sms_message_sid, sms_status FROM bookings WHERE sms_message_sid = $1`,
			m.MessageSid).Scan(&id, &sid, &current)
		if errors.Is(err, sql.ErrNoRows) {
			err = q.queryRow(ctx, `SELECT id, sms_message_sid, sms_status FROM bookings WHERE customer_phone = $1 AND status = 'confirmed'
			ORDER BY created_at DESC LIMIT 1`, m.To).Scan(&id, &sid, &current)
		}
		if errors.Is(err, sql.ErrNoRows) {
			h.logger.InfoContext(ctx, "SMS status for a number without a confirmed booking", "message", m.MessageSid, "status", m.MessageStatus)
			return nil
		}
		if err != nil {
			return err
		}
		if sid.Valid && sid.String != m.MessageSid {
			h.logger.InfoContext(ctx, "SMS status of another message to a booking's number", "booking", id,
				"message", m.MessageSid, "status", m.MessageStatus)
			return nil
		}
		delivered := m.MessageStatus == "delivered" || m.MessageStatus == "read"
		var deliveredAt any
		if delivered {
			deliveredAt = h.store.stamp()
		}
		if _, err := q.exec(ctx, `UPDATE bookings SET sms_message_sid = $2, sms_status = $3, sms_delivered = $4,
			sms_delivered_at = CASE WHEN $4 THEN COALESCE(sms_delivered_at, $5) END, updated_at = $6 WHERE id = $1`,
			id, m.MessageSid, m.MessageStatus, delivered, deliveredAt, h.store.stamp()); err != nil {
			return err
		}
		if !undelivered(m.MessageStatus) || undelivered(current.String) {
			return nil
		}
		// The confirmation did not reach the guest: they are emailed, and
		// the support team is alerted (the number may be wrong, or a
		// landline).
		if err := h.store.notify(ctx, q, e.Key()+":email", id, "email_sms_fallback", "email", recipient("", id),
			fmt.Sprintf("We could not text you about booking %s (Twilio error %s); here it is by email.", id, m.ErrorCode)); err != nil {
			return err
		}
		return h.store.notify(ctx, q, e.Key()+":support", id, "support_sms_failed", "support", supportTeam,
			fmt.Sprintf("The confirmation SMS %s of booking %s is %s (Twilio error %s): the guest was emailed instead; check the number %s.",
				m.MessageSid, id, m.MessageStatus, m.ErrorCode, m.To))
	})
}

// undelivered reports whether a message status means it did not reach
// its recipient, for good.
func undelivered(status string) bool { return status == "failed" || status == "undelivered" }

func (h *handlers) bookingRoutes() *dispatch.Router {
	r := dispatch.NewRouter()
	// GoConverso's order: by booking_id, at the event's timestamp
	// (milliseconds); reminders are not ordered (conversoevent.Ordering).
	r.Use(dispatch.Ordered(conversoevent.Ordering))
	dispatch.On(r, conversoevent.BookingCreated, h.bookingCreated)
	for typ, status := range map[events.Type[*conversoevent.Booking]]string{
		conversoevent.BookingConfirmed:   "confirmed",
		conversoevent.BookingCancelled:   "cancelled",
		conversoevent.BookingRescheduled: "rescheduled",
	} {
		dispatch.On(r, typ, func(ctx context.Context, e *events.Event, b *conversoevent.Booking) error {
			return h.bookingStatus(ctx, e, b, status)
		})
	}
	dispatch.On(r, conversoevent.BookingReminder, h.bookingReminder)
	return r
}

func (h *handlers) bookingCreated(ctx context.Context, e *events.Event, b *conversoevent.Booking) error {
	if b.BookingID == "" || b.ClientPhone == "" {
		return dispatch.Permanent(errors.New("booking.created without booking_id or client_phone"))
	}
	status := b.Status
	if status == "" {
		status = "pending"
	}
	now := h.store.stamp()
	return h.store.tx(ctx, func(q querier) error {
		// A booking created before (say, by another sender) stays as it is.
		_, err := q.exec(ctx, `INSERT INTO bookings (id, customer_phone, status, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO NOTHING`, b.BookingID, b.ClientPhone, status, now)
		return err
	})
}

// bookingStatus applies a status event. The guard ran it only because it
// is newer than every event applied for the booking (a "confirmed" that
// arrives after the later "cancelled" is stale, and never gets here); one
// that arrives before its booking.created is kept until the creation is
// applied (dispatch.ErrNotYet), then runs.
func (h *handlers) bookingStatus(ctx context.Context, e *events.Event, b *conversoevent.Booking, status string) error {
	return h.store.tx(ctx, func(q querier) error {
		n, err := q.exec(ctx, `UPDATE bookings SET status = $2, updated_at = $3 WHERE id = $1`, b.BookingID, status, h.store.stamp())
		if err == nil && n == 0 {
			return h.notYet(e, fmt.Errorf("booking %q: %w", b.BookingID, errNoBooking))
		}
		return err
	})
}

func (h *handlers) bookingReminder(ctx context.Context, e *events.Event, b *conversoevent.Booking) error {
	template := h.reminderTemplate.Load()
	if template == nil || *template == "" {
		return dispatch.Permanent(errNoReminderTemplate) // no retry configures it: dead-letter, re-run once fixed
	}
	return h.onBooking(ctx, e, b.BookingID, func(q querier, phone string) error {
		return h.store.notify(ctx, q, e.Key()+":sms", b.BookingID, "sms_reminder", "sms", phone,
			fmt.Sprintf(*template, b.Service.Name, b.ScheduledAt.Format("Mon 2 Jan 15:04 MST")))
	})
}

func (h *handlers) etailRoutes() *dispatch.Router {
	r := dispatch.NewRouter()
	dispatch.On(r, etailevent.PaymentSucceeded, func(ctx context.Context, e *events.Event, p *etailevent.Payment) error {
		return h.etailTransaction(ctx, e, p, "etail_payment", p.Amount)
	})
	dispatch.On(r, etailevent.PaymentRefunded, func(ctx context.Context, e *events.Event, p *etailevent.Payment) error {
		return h.etailTransaction(ctx, e, p, "etail_refund", -p.AmountRefunded)
	})
	dispatch.On(r, etailevent.PaymentFailed, h.etailPaymentFailed)
	return r
}

// etailTransaction records an Etail Depot payment (a gift card, products
// bought with the booking) against its booking.
func (h *handlers) etailTransaction(ctx context.Context, e *events.Event, p *etailevent.Payment, kind string, amount int64) error {
	id, err := bookingOf(p.Metadata, "Etail payment "+p.ID)
	if err != nil {
		return err
	}
	return h.onBooking(ctx, e, id, func(q querier, _ string) error {
		return h.store.addTransaction(ctx, q, kind+"_"+p.ID, id, kind, amount, p.Currency, p.ID)
	})
}

func (h *handlers) etailPaymentFailed(ctx context.Context, e *events.Event, p *etailevent.Payment) error {
	id, err := bookingOf(p.Metadata, "Etail payment "+p.ID)
	if err != nil {
		return err
	}
	return h.onBooking(ctx, e, id, func(q querier, _ string) error {
		return h.store.notify(ctx, q, e.Key()+":email", id, "email_shop_payment_failed", "email", recipient("", id),
			fmt.Sprintf("Your shop payment for booking %s failed: %s.", id, p.FailureMessage))
	})
}
