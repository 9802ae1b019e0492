package main

import (
	"context"
	"fmt"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
	"github.com/hookkit/hookkit/dispatch/replay"
	"github.com/hookkit/hookkit/events/fixture"
)

// The backend was down while a booking's deposit was paid and its
// confirmation SMS delivered: neither webhook arrived. Started again with
// the senders' API credentials, its River job runs the reconcilers at
// once (and every reconcileEvery), which recover both: the booking is
// paid and confirmed, its SMS delivered; the late webhooks are then
// duplicates.
func TestMissedWebhooksRecoveredOnSchedule(t *testing.T) {
	for name, open := range databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := open(t)
			id, phone := "rec1", "+15550170001"
			// Before the outage: the booking is created and confirmed (the
			// SMS's status applies to a confirmed booking; the two
			// reconcilers run side by side, in no order).
			first := newTestApp(t, dsn, config{})
			for _, name := range []string{"standard/booking.created", "standard/booking.confirmed"} {
				if got := sendAbout(t, first, name, id, phone); got != http.StatusOK {
					t.Fatalf("%s: got %d, want 200", name, got)
				}
			}
			if err := first.shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}

			// During it: the deposit is paid; its confirmation SMS (sent
			// by the outbox's sender) is delivered.
			cfg := config{secrets: demoSecrets}
			api := newDemoAPI(&cfg)
			defer api.Close()
			cfg.reconcileEvery = time.Hour // the River job's first run is at start
			f, err := fixture.Read(testdata, "stripe/payment_intent.succeeded")
			if err != nil {
				t.Fatal(err)
			}
			paid := rebook(f, id, phone)
			if paid.Body, err = createdAt(paid.Body, time.Now().Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			api.AddStripeEvent(paid.Body)
			sid := fmt.Sprintf("SM%032x", 170001)
			api.AddMessage(reconciletest.Message{Sid: sid, AccountSid: demoTwilioAccount, From: "+15557654321", To: phone,
				Status: "delivered", DateSent: time.Now().Add(-30 * time.Minute)})

			// After it: the backend starts again, and recovers both.
			a := newTestApp(t, dsn, cfg)
			waitFor(t, "the deposit and the SMS's delivery recovered", 20*time.Second, func() bool {
				b := bookingByID(t, a, id)
				return b.DepositPaid && b.SMSStatus != nil && *b.SMSStatus == "delivered"
			})
			b := bookingByID(t, a, id)
			if b.Status != "confirmed" || b.Transactions != 1 {
				t.Errorf("booking %s: status %q, %d transactions; want confirmed, 1", id, b.Status, b.Transactions)
			}
			// Stripe's late retry of the same event changes nothing.
			if got, err := replayTo(a, paid, "stripe"); err != nil || got != http.StatusOK {
				t.Fatalf("the late webhook: got %d, %v; want 200", got, err)
			}
			if got := bookingByID(t, a, id); got.Transactions != 1 || len(got.Outbox) != len(b.Outbox) {
				t.Errorf("the late webhook took effect again: %+v", got)
			}
			// Their status, to the API token's holder only, without the
			// API credentials.
			if got := getWith(a, "/reconcile/", "").Code; got != http.StatusUnauthorized {
				t.Errorf("GET /reconcile/ without the token: got %d, want 401", got)
			}
			rec := getWith(a, "/reconcile/", "Bearer "+demoSecrets.APIToken)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"name": "stripe"`) {
				t.Errorf("GET /reconcile/: got %d %s", rec.Code, rec.Body.String())
			}
			for _, secret := range []string{demoStripeAPIKey, demoSecrets.Twilio} {
				if strings.Contains(rec.Body.String(), secret) {
					t.Errorf("GET /reconcile/ shows a credential: %s", rec.Body.String())
				}
			}
			for _, r := range a.reconcile.reconcilers {
				// A run records its report when it ends, after the
				// effects it recovered: wait for it.
				var st reconcile.Status
				waitFor(t, r.Name()+"'s run recorded", 20*time.Second, func() bool {
					var err error
					st, err = r.Status(context.Background())
					return err == nil && st.Last.Recovered() >= 1
				})
				if st.Last.Recovered() != 1 {
					t.Errorf("%s's run: recovered %d, want 1 (%+v)", r.Name(), st.Last.Recovered(), st.Last)
				}
			}
		})
	}
}

// replayTo delivers f to the backend, signed as sender ("stripe",
// "twilio", "standard", "etail") signs, and returns the status.
func replayTo(a *app, f fixture.Fixture, sender string) (int, error) {
	res, err := replay.Send(a.handler, f, demoSigners()[sender])
	return res.Status, err
}
