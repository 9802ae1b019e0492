package main

import (
	"context"
	"net/http"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch/replay"
	"github.com/hookkit/hookkit/events/fixture"
)

// sendAbout replays one recorded delivery as its sender would deliver it
// about booking id (rebook), and returns the status.
func sendAbout(t *testing.T, a *app, name, id, phone string) int {
	t.Helper()
	f, err := fixture.Read(testdata, name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := replay.Send(a.handler, rebook(f, id, phone), demoSigners()[path.Dir(name)])
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

// bookingByID is booking id as GET /bookings/{id} shows it.
func bookingByID(t *testing.T, a *app, id string) *bookingView {
	t.Helper()
	b, err := a.store.booking(context.Background(), id)
	if err != nil {
		t.Fatalf("booking %s: %v", id, err)
	}
	return b
}

// A failed deposit holds the booking for two hours from the failure's
// arrival; the hold sweep cancels it once the hold has ended, never
// before; a deposit before the deadline confirms it; one after the
// deadline (swept yet or not) is recorded and flagged for refund, and the
// booking stays cancelled.
func TestDepositHold(t *testing.T) {
	failedAt := recordedAt.Add(time.Hour) // the senders are still retrying
	deadline := failedAt.Add(holdDuration)
	type step struct {
		at    time.Duration // after failedAt
		event string        // a fixture, or "sweep"
	}
	tests := []struct {
		name      string
		steps     []step
		status    string
		paid      bool
		refundDue bool
		expired   bool
		outbox    []string
		swept     int // bookings the sweeps released, in all
	}{
		{name: "released once the hold ends, not before",
			steps:  []step{{time.Hour, "sweep"}, {holdDuration - time.Second, "sweep"}, {holdDuration, "sweep"}, {holdDuration + time.Hour, "sweep"}},
			status: "cancelled", expired: true, swept: 1,
			outbox: []string{"email_payment_failed", "email_hold_released"}},
		{name: "a deposit before the deadline keeps it",
			steps:  []step{{holdDuration - time.Second, "stripe/payment_intent.succeeded"}, {holdDuration + time.Hour, "sweep"}},
			status: "confirmed", paid: true,
			outbox: []string{"email_payment_failed", "sms_confirmation"}},
		{name: "a deposit after the sweep released it is flagged for refund",
			steps:  []step{{holdDuration + time.Minute, "sweep"}, {holdDuration + 2*time.Minute, "stripe/payment_intent.succeeded"}},
			status: "cancelled", paid: true, refundDue: true, expired: true, swept: 1,
			outbox: []string{"email_payment_failed", "email_hold_released", "support_refund_due"}},
		{name: "a deposit after the deadline, before any sweep, is flagged for refund",
			steps:  []step{{holdDuration, "stripe/payment_intent.succeeded"}, {holdDuration + time.Hour, "sweep"}},
			status: "cancelled", paid: true, refundDue: true, expired: true,
			outbox: []string{"email_payment_failed", "email_hold_released", "support_refund_due"}},
		{name: "refunding the late deposit clears the flag",
			steps: []step{{holdDuration + time.Minute, "sweep"}, {holdDuration + 2*time.Minute, "stripe/payment_intent.succeeded"},
				{holdDuration + 3*time.Minute, "stripe/charge.refunded"}},
			status: "cancelled", paid: true, expired: true, swept: 1,
			outbox: []string{"email_payment_failed", "email_hold_released", "support_refund_due", "email_refund"}},
		{name: "a second failure neither extends the hold nor revives a released booking",
			steps: []step{{time.Hour, "stripe/payment_intent.payment_failed#2"}, {holdDuration, "sweep"},
				{holdDuration + time.Minute, "stripe/payment_intent.payment_failed#3"}},
			status: "cancelled", expired: true, swept: 1,
			outbox: []string{"email_payment_failed", "email_payment_failed", "email_hold_released"}},
	}
	for name, open := range databases(t) {
		t.Run(name, func(t *testing.T) {
			// The test sweeps itself, at the moments it chooses.
			a := newTestApp(t, open(t), config{holdSweep: 24 * time.Hour})
			// The app's own sweeper sweeps once as it starts, then daily:
			// stopped (its first sweep finished or cut short) before the
			// first booking exists, it cannot release a booking after the
			// test moved the clock past a deadline and before the test's
			// own sweep.
			a.holds.stop()
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					id, phone := "hold"+string(rune('a'+i)), "+1555000010"+string(rune('0'+i))
					at(a, failedAt)
					for _, name := range []string{"standard/booking.created", "stripe/payment_intent.payment_failed"} {
						if got := sendAbout(t, a, name, id, phone); got != http.StatusOK {
							t.Fatalf("%s: got %d, want 200", name, got)
						}
					}
					if b := bookingByID(t, a, id); b.HoldUntil == nil || *b.HoldUntil != deadline.Format(time.RFC3339) {
						t.Fatalf("hold_until: got %v, want %s", deref(b.HoldUntil), deadline.Format(time.RFC3339))
					}
					swept := 0
					for _, s := range tt.steps {
						at(a, failedAt.Add(s.at))
						if s.event == "sweep" {
							released, err := a.holds.sweep(context.Background())
							if err != nil {
								t.Fatal(err)
							}
							swept += len(released)
							continue
						}
						// "#n": the n-th attempt, another event with IDs of its own.
						name, attempt, _ := strings.Cut(s.event, "#")
						f, err := fixture.Read(testdata, name)
						if err != nil {
							t.Fatal(err)
						}
						f = rebook(f, id, phone)
						if attempt != "" {
							f.Body = senderIDs.ReplaceAll(f.Body, []byte("${0}n"+attempt))
						}
						res, err := replay.Send(a.handler, f, demoSigners()[path.Dir(name)])
						if err != nil {
							t.Fatal(err)
						}
						if res.Status != http.StatusOK {
							t.Fatalf("%s at +%v: got %d, want 200", s.event, s.at, res.Status)
						}
					}
					b := bookingByID(t, a, id)
					if b.Status != tt.status {
						t.Errorf("status: got %q, want %q", b.Status, tt.status)
					}
					if b.DepositPaid != tt.paid {
						t.Errorf("deposit_paid: got %t, want %t", b.DepositPaid, tt.paid)
					}
					if b.RefundDue != tt.refundDue {
						t.Errorf("refund_due: got %t, want %t", b.RefundDue, tt.refundDue)
					}
					if (b.HoldExpiredAt != nil) != tt.expired {
						t.Errorf("hold_expired_at: got %v, want set: %t", deref(b.HoldExpiredAt), tt.expired)
					}
					if tt.paid && b.Transactions != 1 {
						t.Errorf("the deposit is recorded: got %d transactions, want 1", b.Transactions)
					}
					if !slices.Equal(b.Outbox, tt.outbox) {
						t.Errorf("outbox: got %q, want %q", b.Outbox, tt.outbox)
					}
					if swept != tt.swept {
						t.Errorf("bookings the sweeps released: got %d, want %d", swept, tt.swept)
					}
				})
			}
		})
	}
}
