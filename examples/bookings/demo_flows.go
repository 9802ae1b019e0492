package main

import (
	"context"
	"fmt"
	"io/fs"
	"time"
)

// The demo's other two bookings, each with a guest of its own: one whose
// deposit fails and is not paid before its hold ends, one whose
// confirmation SMS fails. Their deliveries are the recorded ones, as the
// senders would deliver them about these bookings (rebook).
var (
	heldBooking   = [2]string{"67890", "+15550167890"}
	textedBooking = [2]string{"24680", "+15550124680"}
)

// demoHoldSteps create the held booking and fail its deposit.
var demoHoldSteps = []demoStep{
	{fixture: "standard/booking.created", want: 200, about: heldBooking},
	{fixture: "stripe/payment_intent.payment_failed", want: 200, about: heldBooking},
}

// demoLateDeposit is the held booking's deposit, once its hold has ended.
var demoLateDeposit = []demoStep{
	{fixture: "stripe/payment_intent.succeeded", label: "late: after the hold ended", want: 200, about: heldBooking},
}

// demoSMSSteps confirm a booking whose confirmation SMS then fails.
var demoSMSSteps = []demoStep{
	{fixture: "standard/booking.created", want: 200, about: textedBooking},
	{fixture: "standard/booking.confirmed", want: 200, about: textedBooking},
	{fixture: "twilio/message.queued", want: 200, async: true, about: textedBooking},
	{fixture: "twilio/message.failed", want: 200, async: true, about: textedBooking},
}

// holdJump is how far the demo moves the backend's clock: past the hold.
const holdJump = holdDuration + time.Minute

// playHold shows a failed deposit's hold: the booking is held, the
// backend's clock moves past the hold's end, the hold sweep cancels the
// booking, and the deposit that arrives then is recorded and flagged for
// refund. It returns how many steps did not go as promised.
func playHold(ctx context.Context, base string, fsys fs.FS, a *app) (int, error) {
	failures, err := playDemo(ctx, base, fsys, demoHoldSteps)
	if err != nil {
		return failures, err
	}
	id := heldBooking[0]
	before, _ := snapshot(ctx, base, id)
	// The demo's clock: the backend reads its time from the store, which
	// tests and the demo may move; the senders' signatures still carry
	// the real time.
	offset := time.Until(a.store.now()) + holdJump
	a.store.setClock(func() time.Time { return time.Now().Add(offset) })
	after := awaitChange(ctx, base, id, before)
	mark := ""
	if after == nil || after.Status != "cancelled" {
		failures++
		mark = "  ✗ expected the booking cancelled"
	}
	fmt.Printf("%-40s %-60s %s%s\n", "(the backend's clock)", fmt.Sprintf("moves %v on: the hold has ended", holdJump),
		"        hold sweep: "+describe(before, after), mark)
	more, err := playSteps(ctx, base, fsys, demoLateDeposit)
	failures += more
	if err != nil {
		return failures, err
	}
	if b, _ := snapshot(ctx, base, id); b == nil || b.Status != "cancelled" || !b.RefundDue {
		failures++
		fmt.Println("✗ expected the late deposit flagged for refund, the booking still cancelled")
	}
	return failures, nil
}

// playFailedSMS shows a confirmation SMS that fails: the guest is emailed
// instead and the support team alerted.
func playFailedSMS(ctx context.Context, base string, fsys fs.FS) (int, error) {
	failures, err := playDemo(ctx, base, fsys, demoSMSSteps)
	if err != nil {
		return failures, err
	}
	if b, _ := snapshot(ctx, base, textedBooking[0]); b == nil || len(b.Outbox) != 2 {
		failures++
		fmt.Println("✗ expected the fallback email and the support alert")
	}
	return failures, nil
}

// reorderedBooking is the demo's booking whose confirmation arrives before
// its creation.
var reorderedBooking = [2]string{"97531", "+15550197531"}

// playOutOfOrder shows an out-of-order pair: booking 97531's
// booking.confirmed arrives before its booking.created. The guard keeps
// the confirmation (200, kept) and runs it as soon as the creation is
// applied — within a second, measured here from the creation's answer —
// instead of bouncing it to GoConverso's next retry a minute later.
func playOutOfOrder(ctx context.Context, base string, fsys fs.FS) (int, error) {
	failures, err := playDemo(ctx, base, fsys, []demoStep{
		{fixture: "standard/booking.confirmed", label: "before its booking.created: kept", want: 200, about: reorderedBooking},
		{fixture: "standard/booking.created", want: 200, about: reorderedBooking},
	})
	if err != nil {
		return failures, err
	}
	created := time.Now()
	id := reorderedBooking[0]
	var b *bookingView
	for deadline := created.Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, _ = snapshot(ctx, base, id); b != nil && b.Status == "confirmed" {
			break
		}
	}
	mark, status := "", "∅"
	if b != nil {
		status = b.Status
	}
	if status != "confirmed" {
		failures++
		mark = "  ✗ expected the kept confirmation applied within 1s"
	}
	fmt.Printf("%-40s %-60s %s%s\n", "(kept by the ordering guard)", "booking.confirmed",
		fmt.Sprintf("        applied within %v of the creation's answer: status %s", since(created), status), mark)
	return failures, nil
}
