package integration_test

import (
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx"
	_ "modernc.org/sqlite"             // database/sql's "sqlite"

	"github.com/hookkit/hookkit/verify/crashtest"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// The crash-test kit, pointed at the bookings example as a host would
// point it at its own server: the example's binary, its flags and secrets,
// and its tables, nothing of hookkit's internals.

// The secrets the bookings example runs with here.
var (
	kitStripeSecret   = "whsec_crashkit_stripe"
	kitBookingsSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("crashkit bookings secret"))
	kitSecretsEnv     = []string{
		"STRIPE_WEBHOOK_SECRET=" + kitStripeSecret,
		"BOOKINGS_WEBHOOK_SECRET=" + kitBookingsSecret,
		"TWILIO_AUTH_TOKEN=crashkit_twilio",
		"ETAIL_WEBHOOK_SECRET=crashkit_etail",
	}
)

// bookingsStorm is n bookings as their senders deliver them: each
// booking's booking.created from GoConverso (Standard Webhooks, event ID
// "msg_<booking>") and its deposit's payment_intent.succeeded from Stripe
// (event ID "evt_<booking>"), interleaved, so that some payments arrive
// before their booking (answered 500 until it exists, and retried).
func bookingsStorm(n int) []crashtest.Delivery {
	now := time.Now().UTC()
	json := http.Header{"Content-Type": {"application/json"}}
	out := make([]crashtest.Delivery, 0, 2*n)
	for i := range n {
		booking := fmt.Sprintf("crash-%04d", i)
		created := "msg_" + booking
		out = append(out, crashtest.Delivery{
			ID:     created,
			Path:   "/webhooks/bookings",
			Header: json,
			Body: fmt.Appendf(nil, `{"event":"booking.created","timestamp":%q,"data":{"booking_id":%q,`+
				`"professional_id":"550e8400-e29b-41d4-a716-446655440000","client_name":"Crash Test",`+
				`"client_email":"crash@example.com","client_phone":"+1555%07d",`+
				`"service":{"id":"svc_abc123","name":"Haircut","price":35.00,"duration":30,"currency":"USD"},`+
				`"scheduled_at":"2026-12-24T10:00:00.000Z","status":"pending","notes":""}}`, now.Format(time.RFC3339), booking, i),
			Signer: verifytest.Standard{Secret: kitBookingsSecret, ID: created},
		})
		paid := "evt_" + booking
		out = append(out, crashtest.Delivery{
			ID:     paid,
			Path:   "/api/v1/webhooks/stripe/payment-events",
			Header: json,
			Body: fmt.Appendf(nil, `{"id":%q,"object":"event","type":"payment_intent.succeeded","created":%d,"data":{"object":`+
				`{"id":"pi_%s","object":"payment_intent","amount":5000,"currency":"usd","status":"succeeded",`+
				`"metadata":{"booking_id":%q}}}}`, paid, now.Unix(), booking, booking),
			Signer: verifytest.Stripe{Secret: kitStripeSecret},
		})
	}
	return out
}

// bookingsEffects counts, by event ID, a booking.created's booking row and
// a payment's confirmation SMS in the outbox (its ID is the event's key,
// "stripe:<event ID>", and ":sms"), written in the transaction that also
// records the deposit.
const bookingsEffects = `
	SELECT 'msg_' || id, COUNT(*) FROM bookings GROUP BY id
	UNION ALL
	SELECT substr(id, 8, length(id) - 11), COUNT(*) FROM outbox WHERE kind = 'sms_confirmation' GROUP BY id`

// The bookings example, SIGKILLed again and again (at least five times)
// while 800 events arrive, loses and doubles none: every acknowledged
// booking and payment is in its database once.
func TestCrashKitBookings(t *testing.T) {
	if raceDetector {
		t.Skip("time-bound storm: skipped under the race detector, run by the plain go test work step")
	}
	if testing.Short() {
		t.Skip("kills processes for seconds")
	}
	bin := crashtest.Build(t, "github.com/hookkit/hookkit/examples/bookings")
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var dsn, driver string
			if name == "sqlite" {
				dsn, driver = filepath.Join(t.TempDir(), "bookings.db"), "sqlite"
			} else {
				dsn, driver = postgresSchemaURL(t), "pgx"
			}
			open := dsn
			if driver == "sqlite" {
				open += "?_pragma=busy_timeout(10000)"
			}
			db, err := sql.Open(driver, open)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })

			res := crashtest.Run(t, crashtest.Config{
				Command: func(addr string) *exec.Cmd {
					cmd := exec.Command(bin, "-addr", addr, "-db", dsn)
					cmd.Env = append(os.Environ(), kitSecretsEnv...)
					return cmd
				},
				Deliveries: bookingsStorm(400),
				Effects:    crashtest.QueryEffects(db, bookingsEffects),
				KillAfter:  [2]time.Duration{50 * time.Millisecond, 250 * time.Millisecond},
			})
			if res.Lost != 0 || res.Doubled != 0 || res.Acknowledged != res.Sent || res.Effects != res.Sent {
				t.Errorf("%v; want every event acknowledged and in effect once", res)
			}
		})
	}
}

// Pointed at a host whose handler acknowledges before it commits
// (brokenhost), the same storm reports the events it lost.
func TestCrashKitCatchesAHostThatAcknowledgesBeforeCommitting(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	bin := crashtest.Build(t, "github.com/hookkit/hookkit/internal/integration/brokenhost")
	dsn := filepath.Join(t.TempDir(), "effects.db")
	db, err := sql.Open("sqlite", dsn+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now().Unix()
	deliveries := make([]crashtest.Delivery, 600)
	for i := range deliveries {
		id := fmt.Sprintf("evt_broken_%04d", i)
		deliveries[i] = crashtest.Delivery{
			ID:     id,
			Path:   "/webhooks/stripe",
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   fmt.Appendf(nil, `{"id":%q,"type":"payment_intent.succeeded","created":%d,"data":{"object":{}}}`, id, now),
			Signer: verifytest.Stripe{Secret: kitStripeSecret},
		}
	}
	res := crashtest.Run(t, crashtest.Config{
		Command: func(addr string) *exec.Cmd {
			cmd := exec.Command(bin, "-addr", addr, "-db", dsn)
			cmd.Env = append(os.Environ(), kitSecretsEnv...)
			return cmd
		},
		Deliveries: deliveries,
		KillAfter:  [2]time.Duration{50 * time.Millisecond, 250 * time.Millisecond},
		Effects:    crashtest.QueryEffects(db, `SELECT event_id, COUNT(*) FROM effects GROUP BY event_id`),
		Settle:     3 * time.Second, // its lost events never come: no need to wait long for them
		Kills:      2,               // a loss needs one kill mid-storm; on a quiet machine the storm outlasts 4 or 5
	})
	if res.Lost == 0 && res.Doubled == 0 {
		t.Errorf("%v; want the acknowledged events the kills lost reported", res)
	}
}
