package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/record"
	"github.com/hookkit/hookkit/dispatch/replay"
	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/internal/servicetest"
)

// testdata is the recorded deliveries the demo sends: the copy of the
// repository's testdata/ built into the program (recorded.go).
var testdata = recordedDeliveries

// databases returns the DSNs to run against: a SQLite file always, and a
// schema of its own in the test PostgreSQL when one is configured.
func databases(t *testing.T) map[string]string {
	dbs := map[string]string{"sqlite": filepath.Join(t.TempDir(), "bookings.db")}
	if os.Getenv(servicetest.PostgresURLEnv) == "" && os.Getenv(servicetest.RequireServicesEnv) != "1" {
		t.Logf("PostgreSQL skipped: %s is not set", servicetest.PostgresURLEnv)
		return dbs
	}
	base := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	var raw [6]byte
	rand.Read(raw[:])
	schema := "hookkit_bookings_" + hex.EncodeToString(raw[:])
	_, err = admin.Exec(`CREATE SCHEMA ` + schema)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dbs["postgres"] = u.String()
	return dbs
}

// newTestApp starts the backend on dsn with cfg, the demo's secrets and no
// logs unless cfg says otherwise; it stops at the end of the test.
func newTestApp(t *testing.T, dsn string, cfg config) *app {
	t.Helper()
	st, err := openStore(context.Background(), dsn)
	require.NoError(t, err)
	if cfg.secrets == (secrets{}) {
		cfg.secrets = demoSecrets
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	a, err := newApp(context.Background(), st, cfg)
	require.NoError(t, err)
	require.NoError(t, a.start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, a.shutdown(ctx))
		st.close()
	})
	return a
}

// sendFixture replays one recorded delivery, re-signed with the demo
// secrets, and returns the status.
func sendFixture(t *testing.T, a *app, name string) int {
	t.Helper()
	f, err := fixture.Read(testdata, name)
	require.NoError(t, err)
	res, err := replay.Send(a.handler, f, demoSigners()[path.Dir(name)])
	require.NoError(t, err)
	return res.Status
}

// deadLetters lists the open dead letters kept in the bookings database.
func deadLetters(t *testing.T, a *app) []dispatch.DeadLetter {
	t.Helper()
	page, err := a.store.hookkit.DeadLetters().List(context.Background(), dispatch.DeadLetterFilter{})
	require.NoError(t, err)
	return page.Letters
}

func bookingNow(t *testing.T, a *app) *bookingView {
	t.Helper()
	b, err := a.store.booking(context.Background(), "12345")
	require.NoError(t, err)
	return b
}

// The recorded deliveries, replayed in the order a booking lives through
// them, change the database as the backend promises — and replayed again,
// all of them are duplicates that change nothing.
func TestReplayChangesTheDatabase(t *testing.T) {
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			a := newTestApp(t, dsn, config{})
			life := []string{
				"standard/booking.created", "standard/booking.confirmed",
				"stripe/payment_intent.payment_failed", "stripe/payment_intent.succeeded",
				"twilio/message.queued", "twilio/message.sent", "twilio/message.delivered",
				"etail/payment.succeeded", "etail/order.created", "stripe/charge.refunded",
				"standard/booking.reminder",
			}
			for _, name := range life {
				require.Equal(t, http.StatusOK, sendFixture(t, a, name), name)
				if path.Dir(name) == "twilio" { // processed by workers after the 200
					status := path.Ext(name)[1:]
					require.Eventually(t, func() bool {
						b := bookingNow(t, a)
						return b.SMSStatus != nil && *b.SMSStatus == status
					}, 5*time.Second, 10*time.Millisecond, "sms status "+status)
				}
			}
			b := bookingNow(t, a)
			assert.Equal(t, "confirmed", b.Status)
			assert.Equal(t, "+15551234567", b.CustomerPhone)
			assert.True(t, b.DepositPaid)
			assert.True(t, b.DepositRefunded)
			assert.NotNil(t, b.RefundedAt)
			assert.Nil(t, b.HoldUntil, "paying releases the two-hour hold")
			assert.True(t, b.SMSDelivered)
			assert.NotNil(t, b.SMSDeliveredAt)
			assert.Equal(t, 2, b.Transactions, "the Stripe deposit and the Etail payment")
			assert.Equal(t, []string{"email_payment_failed", "sms_confirmation", "email_refund", "sms_reminder"}, b.Outbox)

			var amount int64
			require.NoError(t, a.store.db.QueryRow(`SELECT amount FROM transactions WHERE kind = 'deposit'`).Scan(&amount))
			assert.EqualValues(t, 5000, amount)

			for _, name := range life {
				assert.Equal(t, http.StatusOK, sendFixture(t, a, name), "duplicate %s", name)
			}
			assert.Equal(t, b, bookingNow(t, a), "duplicates change nothing")
		})
	}
}

func TestUndeliveredSMSFallsBackToEmail(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	for _, name := range []string{"standard/booking.created", "standard/booking.confirmed", "twilio/message.undelivered"} {
		require.Equal(t, http.StatusOK, sendFixture(t, a, name), name)
	}
	require.Eventually(t, func() bool {
		b := bookingNow(t, a)
		return len(b.Outbox) == 1 && b.Outbox[0] == "email_sms_fallback"
	}, 5*time.Second, 10*time.Millisecond, "fallback email")
	b := bookingNow(t, a)
	assert.False(t, b.SMSDelivered)
	assert.Equal(t, "undelivered", *b.SMSStatus)
}

// recordedAt is when the repository's deliveries were recorded.
var recordedAt = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// at pins the backend's clock, so tests do not depend on how long ago the
// fixtures were recorded.
func at(a *app, now time.Time) { a.store.now = func() time.Time { return now } }

// Events about a booking this backend does not have, once the senders have
// stopped retrying them, are dead-lettered and acknowledged.
func TestEventsForUnknownBookingsAreDeadLettered(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	at(a, recordedAt.Add(retryWindow+time.Hour))
	assert.Equal(t, http.StatusOK, sendFixture(t, a, "stripe/payment_intent.succeeded"))
	assert.Equal(t, http.StatusOK, sendFixture(t, a, "standard/booking.cancelled"))
	var n int
	require.NoError(t, a.store.db.QueryRow(`SELECT COUNT(*) FROM bookings`).Scan(&n))
	assert.Zero(t, n)
	letters := deadLetters(t, a)
	require.Len(t, letters, 2, "both, kept in the bookings database")
	for _, dl := range letters {
		assert.Contains(t, dl.Err.Error(), errNoBooking.Error(), "a durable letter keeps its error's text")
	}
}

// Deliveries recorded with -record replay into a fresh backend with the
// same effect: record in staging, replay in tests.
func TestRecordThenReplay(t *testing.T) {
	dir := t.TempDir()
	archive, err := record.New(dir, record.Config{})
	require.NoError(t, err)
	recorder := newTestApp(t, filepath.Join(t.TempDir(), "a.db"), config{archive: archive})
	for _, name := range []string{"standard/booking.created", "stripe/payment_intent.succeeded", "etail/payment.succeeded"} {
		require.Equal(t, http.StatusOK, sendFixture(t, recorder, name))
	}
	recorded, err := fixture.Load(os.DirFS(dir), ".")
	require.NoError(t, err)
	require.Len(t, recorded, 3)
	// The archive files deliveries by source; their names start with the
	// time received, which orders them across sources.
	slices.SortFunc(recorded, func(a, b fixture.Fixture) int { return strings.Compare(path.Base(a.Name), path.Base(b.Name)) })

	fresh := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	signers := map[string]string{"goconverso": "standard", "stripe": "stripe", "etail": "etail"}
	for _, f := range recorded {
		res, err := replay.Send(fresh.handler, f, demoSigners()[signers[path.Dir(f.Name)]])
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, res.Status, f.Name)
	}
	assert.Equal(t, bookingNow(t, recorder).Transactions, bookingNow(t, fresh).Transactions)
	assert.True(t, bookingNow(t, fresh).DepositPaid)
}

func TestGetBooking(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	get := func(auth string) *httptest.ResponseRecorder { return getWith(a, "/bookings/12345", auth) }
	bearer := "Bearer " + demoSecrets.APIToken
	assert.Equal(t, http.StatusNotFound, get(bearer).Code)
	require.Equal(t, http.StatusOK, sendFixture(t, a, "standard/booking.created"))
	rec := get(bearer)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"id":"12345","customer_phone":"+15551234567","status":"pending","deposit_paid":false,
		"deposit_refunded":false,"refunded_at":null,"hold_until":null,"sms_status":null,"sms_delivered":false,
		"sms_delivered_at":null,"created_at":"`+bookingNow(t, a).CreatedAt+`","transactions":0,"outbox":[]}`, rec.Body.String())

	for name, auth := range map[string]string{
		"no header":        "",
		"wrong token":      "Bearer guessed",
		"token prefix":     "Bearer " + demoSecrets.APIToken[:5],
		"longer token":     bearer + "x",
		"not a bearer":     "Basic " + demoSecrets.APIToken,
		"token, no scheme": demoSecrets.APIToken,
	} {
		rec := get(auth)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, name)
		assert.NotContains(t, rec.Body.String(), "+15551234567", name)
		assert.Equal(t, `Bearer realm="bookings"`, rec.Header().Get("WWW-Authenticate"), name)
	}
}

// Without BOOKINGS_API_TOKEN the booking API is not mounted at all.
func TestBookingAPIWithoutTokenIsNotMounted(t *testing.T) {
	sec := demoSecrets
	sec.APIToken = ""
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{secrets: sec})
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/bookings/12345", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

func TestMissingSecretsNameTheVariable(t *testing.T) {
	for _, v := range []string{"STRIPE_WEBHOOK_SECRET", "TWILIO_AUTH_TOKEN", "BOOKINGS_WEBHOOK_SECRET", "ETAIL_WEBHOOK_SECRET"} {
		t.Setenv(v, "")
	}
	t.Setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
	_, err := secretsFromEnv()
	require.Error(t, err)
	for _, v := range []string{"TWILIO_AUTH_TOKEN", "BOOKINGS_WEBHOOK_SECRET", "ETAIL_WEBHOOK_SECRET"} {
		assert.Contains(t, err.Error(), v)
	}
	assert.NotContains(t, err.Error(), "STRIPE_WEBHOOK_SECRET")

	st, err := openStore(context.Background(), filepath.Join(t.TempDir(), "b.db"))
	require.NoError(t, err)
	defer st.close()
	_, err = newApp(context.Background(), st, config{secrets: secrets{Stripe: "whsec_x", Twilio: "t", Bookings: "not base64!", Etail: "e"},
		logger: slog.New(slog.DiscardHandler)})
	require.ErrorContains(t, err, "BOOKINGS_WEBHOOK_SECRET")
}

// The demo itself: every delivery is answered as promised, and a step
// expecting another answer is counted as a failure.
func TestDemo(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	devnull, err := os.Open(os.DevNull)
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = devnull
	a.handlers.reminderTemplate.Store(new(string)) // as the demo starts: reminders dead-letter until fixed
	failures, err := playDemo(context.Background(), srv.URL, testdata, demoSteps)
	unresolved := fixDeadLetter(context.Background(), srv.URL, a)
	wrong, err2 := playDemo(context.Background(), srv.URL, testdata, []demoStep{{fixture: "stripe/charge.refunded", want: 500}})
	os.Stdout = stdout
	devnull.Close()
	require.NoError(t, err)
	require.NoError(t, err2)
	assert.Zero(t, failures)
	assert.Zero(t, unresolved, "the dead letter is re-run to success once the template is configured")
	assert.Equal(t, 1, wrong, "a duplicate answered 200 where 500 was expected is reported")

	// The counters the demo prints at its end, read from GET /metrics.
	require.Eventually(t, func() bool { // the Twilio callbacks' workers
		var out strings.Builder
		require.NoError(t, printCounters(context.Background(), &out, srv.URL))
		return strings.Contains(out.String(), "message.delivered              async  processed")
	}, 5*time.Second, 20*time.Millisecond)
	var out strings.Builder
	require.NoError(t, printCounters(context.Background(), &out, srv.URL))
	for _, row := range []string{
		"    2  stripe      -                              rejected-signature  400", // tampered and stale
		"    1  twilio      -                              rejected-signature  403", // forged
		"    1  twilio      message.sent                   queued              200",
		"    1  etail       order.created                  unknown-type        200",
		"    1  goconverso  booking.reminder               dead-lettered       200",
		"    1  stripe      payment_intent.succeeded       duplicate           200",
		"    1  stripe      charge.refunded                duplicate           200", // the wrong-expectation run
		"    1  goconverso  booking.reminder               sync   dead-lettered",
		"    1  goconverso  booking.reminder               rerun  processed",
		"    0  bookings dead letters", // re-run and resolved
		"    0  sms_status queued",
	} {
		assert.Contains(t, out.String(), row)
	}
}

// GET /metrics serves the counters in Prometheus' format, to the API
// token's holder only.
func TestMetricsEndpoint(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	require.Equal(t, http.StatusOK, sendFixture(t, a, "standard/booking.created"))
	get := func(auth string) *httptest.ResponseRecorder { return getWith(a, "/metrics", auth) }
	assert.Equal(t, http.StatusUnauthorized, get("").Code)
	assert.Equal(t, http.StatusUnauthorized, get("Bearer guessed").Code)
	rec := get("Bearer " + demoSecrets.APIToken)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(),
		`hookkit_deliveries_total{hookkit_event_type="booking.created",hookkit_outcome="processed",hookkit_source="goconverso",http_response_status_code="200"} 1`)
	assert.Contains(t, rec.Body.String(), `hookkit_dead_letters{hookkit_queue="bookings"} 0`)
	assert.Contains(t, rec.Body.String(), `hookkit_queue_events{hookkit_queue="sms_status",hookkit_queue_state="queued"} 0`)
}

// stripeWithID returns the recorded payment_intent.succeeded with the event
// ID and payment intent ID replaced, as another payment for booking 12345.
func stripeWithID(t *testing.T, eventID, intentID string) fixture.Fixture {
	t.Helper()
	f, err := fixture.Read(testdata, "stripe/payment_intent.succeeded")
	require.NoError(t, err)
	body := strings.Replace(string(f.Body), "evt_3OdQh2LkdIwHu7ix1Tn5aQ0b", eventID, 1)
	f.Body = []byte(strings.ReplaceAll(body, "pi_3OdQh2LkdIwHu7ix1pLqDp2K", intentID))
	return f
}

// On the default database (SQLite), 40 concurrent distinct payments are all
// processed, and 32 concurrent copies of one payment are answered only 200
// or 409: writers queue for the database instead of failing with
// SQLITE_BUSY.
func TestSQLiteUnderConcurrency(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	require.Equal(t, http.StatusOK, sendFixture(t, a, "standard/booking.created"))
	send := func(f fixture.Fixture) int {
		res, err := replay.Send(a.handler, f, demoSigners()["stripe"])
		require.NoError(t, err)
		return res.Status
	}
	storm := func(fs []fixture.Fixture) map[int]int {
		codes := make(chan int, len(fs))
		start := make(chan struct{})
		for _, f := range fs {
			go func() { <-start; codes <- send(f) }()
		}
		close(start)
		counts := map[int]int{}
		for range fs {
			counts[<-codes]++
		}
		return counts
	}

	var distinct []fixture.Fixture
	for i := range 40 {
		distinct = append(distinct, stripeWithID(t, fmt.Sprintf("evt_concurrent_%02d", i), fmt.Sprintf("pi_concurrent_%02d", i)))
	}
	assert.Equal(t, map[int]int{200: 40}, storm(distinct), "40 distinct payments")
	assert.Equal(t, 40, bookingNow(t, a).Transactions)

	same := stripeWithID(t, "evt_storm", "pi_storm")
	var copies []fixture.Fixture
	for range 32 {
		copies = append(copies, same)
	}
	counts := storm(copies)
	assert.Equal(t, 32, counts[200]+counts[409], "only 200 and 409: %v", counts)
	assert.Equal(t, 41, bookingNow(t, a).Transactions, "the storm's payment once")
}

// Senders do not deliver in order. Whatever the order, the booking ends as
// in-order delivery leaves it, and nobody is told something untrue.
func TestOutOfOrderEvents(t *testing.T) {
	soon := recordedAt.Add(time.Hour) // the senders are still retrying
	t.Run("payment before its booking", func(t *testing.T) {
		a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
		at(a, soon)
		assert.Equal(t, 500, sendFixture(t, a, "stripe/payment_intent.succeeded"), "not yet: the sender retries")
		assert.Equal(t, 500, sendFixture(t, a, "standard/booking.confirmed"), "not yet: the sender retries")
		require.Equal(t, 200, sendFixture(t, a, "standard/booking.created"))
		require.Equal(t, 200, sendFixture(t, a, "stripe/payment_intent.succeeded"), "the retry")
		require.Equal(t, 200, sendFixture(t, a, "standard/booking.confirmed"), "the retry")
		b := bookingNow(t, a)
		assert.True(t, b.DepositPaid)
		assert.Equal(t, "confirmed", b.Status)
		assert.Equal(t, []string{"sms_confirmation"}, b.Outbox)
		assert.Empty(t, deadLetters(t, a))
	})
	t.Run("refund before its payment", func(t *testing.T) {
		a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
		at(a, soon)
		for _, name := range []string{"standard/booking.created", "stripe/charge.refunded", "stripe/payment_intent.succeeded"} {
			require.Equal(t, 200, sendFixture(t, a, name), name)
		}
		b := bookingNow(t, a)
		assert.True(t, b.DepositRefunded)
		assert.Equal(t, 1, b.Transactions, "the payment is recorded: the money moved")
		assert.Equal(t, "pending", b.Status, "a refunded payment confirms nothing")
		assert.Equal(t, []string{"email_refund"}, b.Outbox, "no 'deposit received' after the refund")
	})
	t.Run("failure after success", func(t *testing.T) {
		a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
		at(a, soon)
		for _, name := range []string{"standard/booking.created", "stripe/payment_intent.succeeded", "stripe/payment_intent.payment_failed"} {
			require.Equal(t, 200, sendFixture(t, a, name), name)
		}
		b := bookingNow(t, a)
		assert.Equal(t, "confirmed", b.Status)
		assert.Nil(t, b.HoldUntil)
		assert.Equal(t, []string{"sms_confirmation"}, b.Outbox, "no failure email for an earlier attempt")
	})
	t.Run("a late status does not undo a newer one", func(t *testing.T) {
		a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
		at(a, soon)
		// cancelled (08:04) arrives before confirmed (08:01).
		for _, name := range []string{"standard/booking.created", "standard/booking.cancelled", "standard/booking.confirmed"} {
			require.Equal(t, 200, sendFixture(t, a, name), name)
		}
		assert.Equal(t, "cancelled", bookingNow(t, a).Status)
	})
}

// At startup the example says, per sender, which catalog kinds it handles.
func TestCoverage(t *testing.T) {
	h := &handlers{}
	handled, left := coverage(h.stripeRoutes(), stripeevent.Catalog())
	assert.Equal(t, []string{"charge.refunded", "payment_intent.payment_failed", "payment_intent.succeeded"}, handled)
	assert.Contains(t, left, "checkout.session.completed")
	handled, left = coverage(h.twilioRoutes(), twilioevent.Catalog())
	assert.Len(t, handled, 5, "message.* covers every message status")
	assert.Len(t, left, 5, "calls are not handled")
}

// getWith sends GET target to the backend with auth as its Authorization
// header (none when empty).
func getWith(a *app, target, auth string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	a.handler.ServeHTTP(rec, req)
	return rec
}
