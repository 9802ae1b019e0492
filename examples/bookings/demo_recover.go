package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"time"

	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
	"github.com/hookkit/hookkit/events/fixture"
)

// The demo's senders' APIs: a local server that speaks Stripe's List
// Events and Twilio's Messages as documented (reconciletest), with the
// demo's API credentials. The Twilio account is the recorded callbacks'.
const (
	demoStripeAPIKey   = "rk_test_demo_bookings_read_events"
	demoTwilioAccount  = "AC7d0b2a9c4e1f3a5b6c8d0e2f4a6b8c0d"
	demoMissedFor      = 20 * time.Minute // how long ago the missed events happened
	demoTwilioReconcil = "twilio:" + demoTwilioAccount
)

// recoveredBooking is the demo's booking whose deposit webhook, and its
// confirmation SMS's delivered callback, never arrived.
var recoveredBooking = [2]string{"13579", "+15550113579"}

// newDemoAPI starts the senders' APIs' stand-in and returns it with cfg
// set to reconcile from it, runs started from the admin route only.
func newDemoAPI(cfg *config) *reconciletest.Server {
	api := reconciletest.NewServer(reconciletest.Config{StripeKey: demoStripeAPIKey,
		TwilioAccountSid: demoTwilioAccount, TwilioAuthToken: cfg.secrets.Twilio})
	cfg.secrets.StripeAPIKey, cfg.secrets.TwilioAccountSid = demoStripeAPIKey, demoTwilioAccount
	cfg.apiURL, cfg.reconcileEvery = api.URL, -1
	return api
}

// playRecovered shows webhooks that never arrived recovered from the
// senders' APIs: booking 13579 is created; its deposit was paid, but
// Stripe's payment_intent.succeeded never reached the backend; an
// operator starts a Stripe reconciliation run, which recovers it (the
// booking is paid and confirmed, the confirmation SMS queued); that SMS's
// delivered callback was lost too, and a Twilio run recovers it; then
// Stripe's own late retry of the payment arrives, a duplicate. It returns
// how many steps did not go as promised.
func playRecovered(ctx context.Context, base string, fsys fs.FS, api *reconciletest.Server) (int, error) {
	failures, err := playDemo(ctx, base, fsys, []demoStep{{fixture: "standard/booking.created", want: 200, about: recoveredBooking}})
	if err != nil {
		return failures, err
	}
	id, phone := recoveredBooking[0], recoveredBooking[1]
	paid, err := fixture.Read(fsys, "stripe/payment_intent.succeeded")
	if err != nil {
		return failures, err
	}
	paid = rebook(paid, id, phone)
	if paid.Body, err = createdAt(paid.Body, time.Now().Add(-demoMissedFor)); err != nil {
		return failures, err
	}
	api.AddStripeEvent(paid.Body)
	fmt.Printf("%-40s %-60s %s\n", "(never delivered)", "payment_intent.succeeded",
		fmt.Sprintf("        %v ago, while the backend was down; Stripe's List Events keeps it", demoMissedFor))

	before, _ := snapshot(ctx, base, id)
	rep, err := runReconciler(ctx, base, "stripe")
	if err != nil {
		return failures, err
	}
	after, _ := snapshot(ctx, base, id)
	failures += reportRun("stripe", rep, 1, describe(before, after), after != nil && after.DepositPaid)

	// The confirmation SMS went out; Twilio's delivered callback did not
	// come back. Its Messages resource has the message's status.
	api.AddMessage(reconciletest.Message{Sid: "SM" + fmt.Sprintf("%032x", 13579), AccountSid: demoTwilioAccount,
		From: "+15557654321", To: phone, Body: "ReserveEasy: your deposit is received.", Status: "delivered",
		DateSent: time.Now().Add(-demoMissedFor / 2)})
	fmt.Printf("%-40s %-60s %s\n", "(never delivered)", "message.delivered",
		fmt.Sprintf("        %v ago; Twilio's Messages resource has the status", demoMissedFor/2))
	before = after
	if rep, err = runReconciler(ctx, base, demoTwilioReconcil); err != nil {
		return failures, err
	}
	after = awaitChange(ctx, base, id, before) // queued into River: its worker applies it
	failures += reportRun(demoTwilioReconcil, rep, 1, describe(before, after),
		after != nil && after.SMSStatus != nil && *after.SMSStatus == "delivered")

	// Stripe retries after all: the same event, a duplicate.
	before = after
	status, err := send(ctx, base, paid, demoSigners()["stripe"], nil)
	if err != nil {
		return failures, err
	}
	after, _ = snapshot(ctx, base, id)
	mark := ""
	if status != http.StatusOK || describe(before, after) != "no change" {
		failures++
		mark = "  ✗ expected 200 and no change"
	}
	fmt.Printf("%-40s %-60s %d     %s%s\n", stripeRoute, "payment_intent.succeeded (Stripe's late retry: a duplicate)", status,
		describe(before, after), mark)
	return failures, nil
}

// reportRun prints a reconciliation run's line and returns 1 if it did not
// recover want events with the effect ok.
func reportRun(name string, rep reconcile.Report, want int, effect string, ok bool) int {
	mark := ""
	if rep.Recovered() != want || !ok {
		mark = fmt.Sprintf("  ✗ expected %d recovered, with its effect (%s)", want, rep.Error)
	}
	fmt.Printf("%-40s %-60s %s%s\n", "POST /reconcile/{name}/run",
		fmt.Sprintf("%s: %d event(s) listed, %d recovered", name, rep.Fetched, rep.Recovered()), "202     "+effect, mark)
	if mark != "" {
		return 1
	}
	return 0
}

// runReconciler starts a run of reconciler name through the admin route,
// as an operator would, and waits (up to 10 s) for its report.
func runReconciler(ctx context.Context, base, name string) (reconcile.Report, error) {
	started := time.Now()
	status, body, err := adminRequest(ctx, http.MethodPost, base+"/reconcile/"+url.PathEscape(name)+"/run")
	if err != nil {
		return reconcile.Report{}, err
	}
	if status != http.StatusAccepted {
		return reconcile.Report{}, fmt.Errorf("starting the %s run: %d %s", name, status, body)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var st reconcile.Status
		if err := admin(ctx, http.MethodGet, base+"/reconcile/"+url.PathEscape(name), &st); err != nil {
			return reconcile.Report{}, err
		}
		if !st.Running && !st.Last.Started.Before(started.Truncate(time.Second)) && !st.Last.Ended.IsZero() {
			return st.Last, nil
		}
	}
	return reconcile.Report{}, fmt.Errorf("the %s run did not end within 10s", name)
}

// createdAt returns a Stripe event's JSON with its created time set to t.
func createdAt(body []byte, t time.Time) ([]byte, error) {
	var event map[string]json.RawMessage
	if err := json.Unmarshal(body, &event); err != nil {
		return nil, err
	}
	event["created"] = json.RawMessage(fmt.Sprint(t.Unix()))
	return json.Marshal(event)
}
