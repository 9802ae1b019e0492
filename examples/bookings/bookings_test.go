package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/record"
	"github.com/hookkit/hookkit/dispatch/replay"
	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/examples/internal/servicetest"
)

// testdata is the recorded deliveries the demo sends: the copy of the
// repository's testdata/ built into the program (recorded.go).
var testdata = recordedDeliveries

// databases returns how to open each database to run against, in the
// test that runs on it: a SQLite file, and a schema of its own in the test
// PostgreSQL (the test skips, counted, when PostgreSQL does not answer).
func databases(*testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "bookings.db") },
		"postgres": postgresSchema,
	}
}

// postgresSchema returns the DSN of a schema of t's own in the test
// PostgreSQL, dropped when t ends.
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.Ping(); err != nil {
		servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
	}
	schema := servicetest.RandomName("hookkit_bookings_")
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// newTestApp starts the backend on dsn with cfg, the demo's secrets and no
// logs unless cfg says otherwise; it stops at the end of the test.
func newTestApp(t *testing.T, dsn string, cfg config) *app {
	t.Helper()
	st, err := openStore(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.secrets == (secrets{}) {
		cfg.secrets = demoSecrets
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.clock == nil {
		cfg.clock = recordingTime
	}
	a, err := newApp(context.Background(), st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.shutdown(ctx); err != nil {
			t.Error(err)
		}
		st.close()
	})
	return a
}

// sendFixture replays one recorded delivery, re-signed with the demo
// secrets, and returns the status.
func sendFixture(t *testing.T, a *app, name string) int {
	t.Helper()
	f, err := fixture.Read(testdata, name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := replay.Send(a.handler, f, demoSigners()[path.Dir(name)])
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

// deadLetters lists the open dead letters kept in the bookings database.
func deadLetters(t *testing.T, a *app) []dispatch.DeadLetter {
	t.Helper()
	page, err := a.store.hookkit.DeadLetters().List(context.Background(), dispatch.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return page.Letters
}

func bookingNow(t *testing.T, a *app) *bookingView {
	t.Helper()
	b, err := a.store.booking(context.Background(), "12345")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The recorded deliveries, replayed in the order a booking lives through
// them, change the database as the backend promises — and replayed again,
// all of them are duplicates that change nothing.
func TestReplayChangesTheDatabase(t *testing.T) {
	for name, open := range databases(t) {
		t.Run(name, func(t *testing.T) {
			a := newTestApp(t, open(t), config{})
			life := []string{
				"standard/booking.created", "standard/booking.confirmed",
				"stripe/payment_intent.payment_failed", "stripe/payment_intent.succeeded",
				"twilio/message.queued", "twilio/message.sent", "twilio/message.delivered",
				"etail/payment.succeeded", "etail/order.created", "stripe/charge.refunded",
				"standard/booking.reminder",
			}
			for _, name := range life {
				if got := sendFixture(t, a, name); got != http.StatusOK {
					t.Fatalf("%v: got %d, want %d", name, got, http.StatusOK)
				}
				if path.Dir(name) == "twilio" { // processed by workers after the 200
					status := path.Ext(name)[1:]
					waitFor(t, "sms status "+status, 5*time.Second, func() bool {
						b := bookingNow(t, a)
						return b.SMSStatus != nil && *b.SMSStatus == status
					})
				}
			}
			b := bookingNow(t, a)
			if b.Status != "confirmed" {
				t.Errorf("b.Status: got %q, want %q", b.Status, "confirmed")
			}
			if b.CustomerPhone != "+15551234567" {
				t.Errorf("b.CustomerPhone: got %q, want %q", b.CustomerPhone, "+15551234567")
			}
			if !b.DepositPaid {
				t.Errorf("b.DepositPaid: got false, want true")
			}
			if !b.DepositRefunded {
				t.Errorf("b.DepositRefunded: got false, want true")
			}
			if b.RefundedAt == nil {
				t.Errorf("b.RefundedAt: got nil, want non-nil")
			}
			if b.HoldUntil != nil {
				t.Errorf("paying releases the two-hour hold: got %v, want nil", b.HoldUntil)
			}
			if !b.SMSDelivered {
				t.Errorf("b.SMSDelivered: got false, want true")
			}
			if b.SMSDeliveredAt == nil {
				t.Errorf("b.SMSDeliveredAt: got nil, want non-nil")
			}
			if b.Transactions != 2 {
				t.Errorf("the Stripe deposit and the Etail payment: got %d, want 2", b.Transactions)
			}
			if want := []string{"email_payment_failed", "sms_confirmation", "email_refund", "sms_reminder"}; !slices.Equal(b.Outbox, want) {
				t.Errorf("b.Outbox: got %q, want %q", b.Outbox, want)
			}

			var amount int64
			if err := a.store.db.QueryRow(`SELECT amount FROM transactions WHERE kind = 'deposit'`).Scan(&amount); err != nil {
				t.Fatal(err)
			}
			if amount != 5000 {
				t.Errorf("amount: got %d, want 5000", amount)
			}

			for _, name := range life {
				if got := sendFixture(t, a, name); got != http.StatusOK {
					t.Errorf("duplicate %s: got %d, want %d", name, got, http.StatusOK)
				}
			}
			if got := bookingNow(t, a); !reflect.DeepEqual(got, b) {
				t.Errorf("duplicates change nothing: got %v, want %v", got, b)
			}
		})
	}
}

// An undelivered confirmation SMS is followed by an email to the guest
// and an alert to the support team.
func TestUndeliveredSMSFallsBackToEmail(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	for _, name := range []string{"standard/booking.created", "standard/booking.confirmed", "twilio/message.undelivered"} {
		if got := sendFixture(t, a, name); got != http.StatusOK {
			t.Fatalf("%v: got %d, want %d", name, got, http.StatusOK)
		}
	}
	waitFor(t, "fallback email and support alert", 5*time.Second, func() bool {
		return slices.Equal(bookingNow(t, a).Outbox, []string{"email_sms_fallback", "support_sms_failed"})
	})
	b := bookingNow(t, a)
	if b.SMSDelivered {
		t.Errorf("b.SMSDelivered: got true, want false")
	}
	if *b.SMSStatus != "undelivered" {
		t.Errorf("*b.SMSStatus: got %q, want %q", *b.SMSStatus, "undelivered")
	}
}

// recordedAt is when the repository's deliveries were recorded.
var recordedAt = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// at pins the backend's clock, so tests do not depend on how long ago the
// fixtures were recorded.
func at(a *app, now time.Time) { a.store.setClock(func() time.Time { return now }) }

// Events about a booking this backend does not have, once the senders have
// stopped retrying them, are dead-lettered and acknowledged.
func TestEventsForUnknownBookingsAreDeadLettered(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	at(a, recordedAt.Add(retryWindow+time.Hour))
	if got := sendFixture(t, a, "stripe/payment_intent.succeeded"); got != http.StatusOK {
		t.Errorf("sendFixture(t, a, \"stripe/payment_intent.succeeded\"): got %d, want %d", got, http.StatusOK)
	}
	if got := sendFixture(t, a, "standard/booking.cancelled"); got != http.StatusOK {
		t.Errorf("sendFixture(t, a, \"standard/booking.cancelled\"): got %d, want %d", got, http.StatusOK)
	}
	var n int
	if err := a.store.db.QueryRow(`SELECT COUNT(*) FROM bookings`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("n: got %d, want 0", n)
	}
	letters := deadLetters(t, a)
	if len(letters) != 2 {
		t.Fatalf("both, kept in the bookings database: got %d items, want %d: %v", len(letters), 2, letters)
	}
	for _, dl := range letters {
		if got := dl.Err.Error(); !strings.Contains(got, errNoBooking.Error()) {
			t.Errorf("a durable letter keeps its error's text: got %q, want it to contain %q", got, errNoBooking.Error())
		}
	}
}

// Deliveries recorded with -record replay into a fresh backend with the
// same effect: record in staging, replay in tests.
func TestRecordThenReplay(t *testing.T) {
	dir := t.TempDir()
	archive, err := record.New(dir, record.Config{})
	if err != nil {
		t.Fatal(err)
	}
	recorder := newTestApp(t, filepath.Join(t.TempDir(), "a.db"), config{archive: archive})
	for _, name := range []string{"standard/booking.created", "stripe/payment_intent.succeeded", "etail/payment.succeeded"} {
		if got := sendFixture(t, recorder, name); got != http.StatusOK {
			t.Fatalf("sending %s: got %d, want %d", name, got, http.StatusOK)
		}
	}
	recorded, err := fixture.Load(os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(recorded) != 3 {
		t.Fatalf("recorded: got %d items, want %d: %v", len(recorded), 3, recorded)
	}
	// The archive files deliveries by source; their names start with the
	// time received, which orders them across sources.
	slices.SortFunc(recorded, func(a, b fixture.Fixture) int { return strings.Compare(path.Base(a.Name), path.Base(b.Name)) })

	fresh := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	signers := map[string]string{"goconverso": "standard", "stripe": "stripe", "etail": "etail"}
	for _, f := range recorded {
		res, err := replay.Send(fresh.handler, f, demoSigners()[signers[path.Dir(f.Name)]])
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != http.StatusOK {
			t.Errorf("%v: got %d, want %d", f.Name, res.Status, http.StatusOK)
		}
	}
	if got, want := bookingNow(t, fresh).Transactions, bookingNow(t, recorder).Transactions; got != want {
		t.Errorf("the booking's Transactions: got %d, want %d", got, want)
	}
	if !bookingNow(t, fresh).DepositPaid {
		t.Errorf("the booking's DepositPaid: got false, want true")
	}
}

func TestGetBooking(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	get := func(auth string) *httptest.ResponseRecorder { return getWith(a, "/bookings/12345", auth) }
	bearer := "Bearer " + demoSecrets.APIToken
	if got := get(bearer).Code; got != http.StatusNotFound {
		t.Errorf("get(bearer).Code: got %d, want %d", got, http.StatusNotFound)
	}
	if got := sendFixture(t, a, "standard/booking.created"); got != http.StatusOK {
		t.Fatalf("sending standard/booking.created: got %d, want %d", got, http.StatusOK)
	}
	rec := get(bearer)
	if rec.Code != http.StatusOK {
		t.Errorf("rec.Code: got %d, want %d", rec.Code, http.StatusOK)
	}
	jsonEqual(t, "the booking", rec.Body.String(), `{"id":"12345","customer_phone":"+15551234567","status":"pending","deposit_paid":false,
		"deposit_refunded":false,"refunded_at":null,"hold_until":null,"hold_expired_at":null,"refund_due":false,
		"sms_status":null,"sms_delivered":false,
		"sms_delivered_at":null,"created_at":"`+bookingNow(t, a).CreatedAt+`","transactions":0,"outbox":[]}`)

	for name, auth := range map[string]string{
		"no header":        "",
		"wrong token":      "Bearer guessed",
		"token prefix":     "Bearer " + demoSecrets.APIToken[:5],
		"longer token":     bearer + "x",
		"not a bearer":     "Basic " + demoSecrets.APIToken,
		"token, no scheme": demoSecrets.APIToken,
	} {
		rec := get(auth)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%v: got %d, want %d", name, rec.Code, http.StatusUnauthorized)
		}
		if got := rec.Body.String(); strings.Contains(got, "+15551234567") {
			t.Errorf("%v: got %q, want it not to contain %q", name, got, "+15551234567")
		}
		if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="bookings"` {
			t.Errorf("%v: got %q, want %q", name, got, `Bearer realm="bookings"`)
		}
	}
}

// Without BOOKINGS_API_TOKEN the booking API is not mounted at all.
func TestBookingAPIWithoutTokenIsNotMounted(t *testing.T) {
	sec := demoSecrets
	sec.APIToken = ""
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{secrets: sec})
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/bookings/12345", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("rec.Code: got %d, want %d", rec.Code, http.StatusNotFound)
	}
}

func TestMissingSecretsNameTheVariable(t *testing.T) {
	for _, v := range []string{"STRIPE_WEBHOOK_SECRET", "TWILIO_AUTH_TOKEN", "BOOKINGS_WEBHOOK_SECRET", "ETAIL_WEBHOOK_SECRET"} {
		t.Setenv(v, "")
	}
	t.Setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
	_, err := secretsFromEnv()
	if err == nil {
		t.Fatalf("err: got nil error, want one")
	}
	for _, v := range []string{"TWILIO_AUTH_TOKEN", "BOOKINGS_WEBHOOK_SECRET", "ETAIL_WEBHOOK_SECRET"} {
		if got := err.Error(); !strings.Contains(got, v) {
			t.Errorf("err.Error(): got %q, want it to contain %q", got, v)
		}
	}
	if got := err.Error(); strings.Contains(got, "STRIPE_WEBHOOK_SECRET") {
		t.Errorf("err.Error(): got %q, want it not to contain %q", got, "STRIPE_WEBHOOK_SECRET")
	}

	st, err := openStore(context.Background(), filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	_, err = newApp(context.Background(), st, config{secrets: secrets{Stripe: "whsec_x", Twilio: "t", Bookings: "not base64!", Etail: "e"},
		logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "BOOKINGS_WEBHOOK_SECRET") {
		t.Fatalf("err: got %v, want an error containing %q", err, "BOOKINGS_WEBHOOK_SECRET")
	}
}

// The demo itself: every delivery is answered as promised, and a step
// expecting another answer is counted as a failure.
func TestDemo(t *testing.T) {
	cfg := config{secrets: demoSecrets, holdSweep: 50 * time.Millisecond} // as the demo's
	api := newDemoAPI(&cfg)
	defer api.Close()
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), cfg)
	a.store.setClock(recordedClock())
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = devnull
	a.handlers.reminderTemplate.Store(new(string)) // as the demo starts: reminders dead-letter until fixed
	failures, err := playDemo(context.Background(), srv.URL, testdata, demoSteps)
	if err == nil {
		var more int
		more, err = playOutOfOrder(context.Background(), srv.URL, testdata)
		failures += more
	}
	if err == nil {
		var more int
		more, err = playHold(context.Background(), srv.URL, testdata, a)
		failures += more
	}
	if err == nil {
		var more int
		more, err = playFailedSMS(context.Background(), srv.URL, testdata)
		failures += more
	}
	if err == nil {
		var more int
		more, err = playRecovered(context.Background(), srv.URL, testdata, api)
		failures += more
	}
	unresolved := fixDeadLetter(context.Background(), srv.URL, a)
	wrong, err2 := playDemo(context.Background(), srv.URL, testdata, []demoStep{{fixture: "stripe/charge.refunded", want: 500}})
	os.Stdout = stdout
	devnull.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err2 != nil {
		t.Fatal(err2)
	}
	if failures != 0 {
		t.Errorf("failures: got %d, want 0", failures)
	}
	if unresolved != 0 {
		t.Errorf("the dead letter is re-run to success once the template is configured: got %d, want 0", unresolved)
	}
	if wrong != 1 {
		t.Errorf("a duplicate answered 200 where 500 was expected is reported: got %d, want 1", wrong)
	}

	// The counters the demo prints at its end, read from GET /metrics.
	waitFor(t, "the Twilio callbacks' workers counted", 5*time.Second, func() bool {
		var out strings.Builder
		if err := printCounters(context.Background(), &out, srv.URL); err != nil {
			t.Fatal(err)
		}
		return strings.Contains(out.String(), "message.delivered              async  processed")
	})
	var out strings.Builder
	if err := printCounters(context.Background(), &out, srv.URL); err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		"    2  stripe      -                              rejected-signature  400", // tampered and stale
		"    1  twilio      -                              rejected-signature  403", // forged
		"    1  twilio      message.sent                   queued              200",
		"    1  etail       order.created                  unknown-type        200",
		"    1  goconverso  booking.reminder               dead-lettered       200",
		"    2  stripe      payment_intent.succeeded       duplicate           200", // booking 12345's, and 13579's late retry
		"    1  stripe      charge.refunded                duplicate           200", // the wrong-expectation run
		"    1  goconverso  booking.reminder               sync   dead-lettered",
		"    1  goconverso  booking.reminder               rerun  processed",
		"    0  bookings dead letters", // re-run and resolved
		"    0  sms_status queued",
		"    1  twilio      message.failed                 async  processed",        // booking 24680's confirmation
		"    1  stripe      payment_intent.succeeded       recovered           200", // booking 13579's deposit
		"    1  goconverso  booking.confirmed              kept                200", // booking 97531's, before its creation
		"    1  twilio      message.delivered              recovered           200", // and its SMS
	} {
		if got := out.String(); !strings.Contains(got, row) {
			t.Errorf("out.String(): got %q, want it to contain %q", got, row)
		}
	}
}

// GET /metrics serves the counters in Prometheus' format, to the API
// token's holder only.
func TestMetricsEndpoint(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	if got := sendFixture(t, a, "standard/booking.created"); got != http.StatusOK {
		t.Fatalf("sending standard/booking.created: got %d, want %d", got, http.StatusOK)
	}
	get := func(auth string) *httptest.ResponseRecorder { return getWith(a, "/metrics", auth) }
	if got := get("").Code; got != http.StatusUnauthorized {
		t.Errorf("get(\"\").Code: got %d, want %d", got, http.StatusUnauthorized)
	}
	if got := get("Bearer guessed").Code; got != http.StatusUnauthorized {
		t.Errorf("get(\"Bearer guessed\").Code: got %d, want %d", got, http.StatusUnauthorized)
	}
	rec := get("Bearer " + demoSecrets.APIToken)
	if rec.Code != http.StatusOK {
		t.Fatalf("rec.Code: got %d, want %d", rec.Code, http.StatusOK)
	}
	if got := rec.Body.String(); !strings.Contains(got, `hookkit_deliveries_total{hookkit_event_type="booking.created",hookkit_outcome="processed",hookkit_source="goconverso",http_response_status_code="200"} 1`) {
		t.Errorf("the metrics: got %q, want them to contain %q", got, `hookkit_deliveries_total{hookkit_event_type="booking.created",hookkit_outcome="processed",hookkit_source="goconverso",http_response_status_code="200"} 1`)
	}
	if got := rec.Body.String(); !strings.Contains(got, `hookkit_dead_letters{hookkit_queue="bookings"} 0`) {
		t.Errorf("the metrics: got %q, want them to contain %q", got, `hookkit_dead_letters{hookkit_queue="bookings"} 0`)
	}
	if got := rec.Body.String(); !strings.Contains(got, `hookkit_queue_events{hookkit_queue="sms_status",hookkit_queue_state="queued"} 0`) {
		t.Errorf("the metrics: got %q, want them to contain %q", got, `hookkit_queue_events{hookkit_queue="sms_status",hookkit_queue_state="queued"} 0`)
	}
}

// stripeWithID returns the recorded payment_intent.succeeded with the event
// ID and payment intent ID replaced, as another payment for booking 12345.
func stripeWithID(t *testing.T, eventID, intentID string) fixture.Fixture {
	t.Helper()
	f, err := fixture.Read(testdata, "stripe/payment_intent.succeeded")
	if err != nil {
		t.Fatal(err)
	}
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
	if got := sendFixture(t, a, "standard/booking.created"); got != http.StatusOK {
		t.Fatalf("sending standard/booking.created: got %d, want %d", got, http.StatusOK)
	}
	send := func(f fixture.Fixture) int {
		res, err := replay.Send(a.handler, f, demoSigners()["stripe"])
		if err != nil {
			t.Fatal(err)
		}
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
	if got, want := storm(distinct), (map[int]int{200: 40}); !reflect.DeepEqual(got, want) {
		t.Errorf("40 distinct payments: got %v, want %v", got, want)
	}
	if got := bookingNow(t, a).Transactions; got != 40 {
		t.Errorf("the booking's Transactions: got %d, want 40", got)
	}

	same := stripeWithID(t, "evt_storm", "pi_storm")
	var copies []fixture.Fixture
	for range 32 {
		copies = append(copies, same)
	}
	counts := storm(copies)
	if counts[200]+counts[409] != 32 {
		t.Errorf("only 200 and 409: %v: got %d, want 32", counts, counts[200]+counts[409])
	}
	if got := bookingNow(t, a).Transactions; got != 41 {
		t.Errorf("the storm's payment once: got %d, want 41", got)
	}
}

// Senders do not deliver in order. Whatever the order, the booking ends as
// in-order delivery leaves it, and nobody is told something untrue.
func TestOutOfOrderEvents(t *testing.T) {
	soon := recordedAt.Add(time.Hour) // the senders are still retrying
	t.Run("payment and confirmation before their booking", func(t *testing.T) {
		a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
		at(a, soon)
		if got := sendFixture(t, a, "stripe/payment_intent.succeeded"); got != 500 {
			t.Errorf("not yet: Stripe's retry brings it back: got %d, want 500", got)
		}
		if got := sendFixture(t, a, "standard/booking.confirmed"); got != 200 {
			t.Errorf("kept until its booking is created: got %d, want 200", got)
		}
		if _, err := a.store.booking(context.Background(), "12345"); !errors.Is(err, errNoBooking) {
			t.Fatalf("a booking before its creation: got %v, want errNoBooking", err)
		}
		if got := sendFixture(t, a, "standard/booking.created"); got != 200 {
			t.Fatalf("sending standard/booking.created: got %d, want 200", got)
		}
		created := time.Now()
		// The kept confirmation runs as soon as its booking's creation is
		// applied: within a second, not at GoConverso's next retry.
		waitFor(t, "the kept confirmation applied", time.Second, func() bool { return bookingNow(t, a).Status == "confirmed" })
		t.Logf("the kept confirmation was applied %v after the creation's answer", time.Since(created).Round(time.Millisecond))
		if got := sendFixture(t, a, "stripe/payment_intent.succeeded"); got != 200 {
			t.Fatalf("the retry: got %d, want 200", got)
		}
		if got := sendFixture(t, a, "standard/booking.confirmed"); got != 200 {
			t.Fatalf("GoConverso's retry, a duplicate: got %d, want 200", got)
		}
		b := bookingNow(t, a)
		if !b.DepositPaid {
			t.Errorf("b.DepositPaid: got false, want true")
		}
		if b.Status != "confirmed" {
			t.Errorf("b.Status: got %q, want %q", b.Status, "confirmed")
		}
		if want := []string{"sms_confirmation"}; !slices.Equal(b.Outbox, want) {
			t.Errorf("b.Outbox: got %q, want %q", b.Outbox, want)
		}
		if got := deadLetters(t, a); len(got) != 0 {
			t.Errorf("deadLetters(t, a): got %v, want empty", got)
		}
	})
	t.Run("refund before its payment", func(t *testing.T) {
		a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
		at(a, soon)
		for _, name := range []string{"standard/booking.created", "stripe/charge.refunded", "stripe/payment_intent.succeeded"} {
			if got := sendFixture(t, a, name); got != 200 {
				t.Fatalf("%v: got %d, want 200", name, got)
			}
		}
		b := bookingNow(t, a)
		if !b.DepositRefunded {
			t.Errorf("b.DepositRefunded: got false, want true")
		}
		if b.Transactions != 1 {
			t.Errorf("the payment is recorded: the money moved: got %d, want 1", b.Transactions)
		}
		if b.Status != "pending" {
			t.Errorf("a refunded payment confirms nothing: got %q, want %q", b.Status, "pending")
		}
		if want := []string{"email_refund"}; !slices.Equal(b.Outbox, want) {
			t.Errorf("no 'deposit received' after the refund: got %q, want %q", b.Outbox, want)
		}
	})
	t.Run("failure after success", func(t *testing.T) {
		a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
		at(a, soon)
		for _, name := range []string{"standard/booking.created", "stripe/payment_intent.succeeded", "stripe/payment_intent.payment_failed"} {
			if got := sendFixture(t, a, name); got != 200 {
				t.Fatalf("%v: got %d, want 200", name, got)
			}
		}
		b := bookingNow(t, a)
		if b.Status != "confirmed" {
			t.Errorf("b.Status: got %q, want %q", b.Status, "confirmed")
		}
		if b.HoldUntil != nil {
			t.Errorf("b.HoldUntil: got %v, want nil", b.HoldUntil)
		}
		if want := []string{"sms_confirmation"}; !slices.Equal(b.Outbox, want) {
			t.Errorf("no failure email for an earlier attempt: got %q, want %q", b.Outbox, want)
		}
	})
	t.Run("a late status does not undo a newer one", func(t *testing.T) {
		a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
		at(a, soon)
		// cancelled (08:04) arrives before confirmed (08:01).
		for _, name := range []string{"standard/booking.created", "standard/booking.cancelled", "standard/booking.confirmed"} {
			if got := sendFixture(t, a, name); got != 200 {
				t.Fatalf("%v: got %d, want 200", name, got)
			}
		}
		if got := bookingNow(t, a).Status; got != "cancelled" {
			t.Errorf("the booking's Status: got %q, want %q", got, "cancelled")
		}
	})
}

// At startup the example says, per sender, which catalog kinds it handles.
func TestCoverage(t *testing.T) {
	h := &handlers{}
	handled, left := coverage(h.stripeRoutes(), stripeevent.Catalog())
	if want := []string{"charge.refunded", "payment_intent.payment_failed", "payment_intent.succeeded"}; !slices.Equal(handled, want) {
		t.Errorf("handled: got %q, want %q", handled, want)
	}
	if !slices.Contains(left, "checkout.session.completed") {
		t.Errorf("left: got %v, want it to contain %q", left, "checkout.session.completed")
	}
	handled, left = coverage(h.twilioRoutes(), twilioevent.Catalog())
	if len(handled) != 5 {
		t.Errorf("message.* covers every message status: got %d items, want %d: %v", len(handled), 5, handled)
	}
	if len(left) != 5 {
		t.Errorf("calls are not handled: got %d items, want %d: %v", len(left), 5, left)
	}
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

// waitFor waits up to d for cond, checking every 10 ms.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	if !waitUntil(d, cond) {
		t.Fatalf("%s: not within %v", what, d)
	}
}

// waitUntil checks cond on a 10 ms ticker until it holds, for at most d,
// and says whether it did.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// settle waits until a's queue holds no job that can still run (nothing
// queued, scheduled, retrying or running: its Stats), the bound after
// which a job that should not exist would have run.
func settle(t *testing.T, a *app) {
	t.Helper()
	waitFor(t, "the SMS queue idle", 10*time.Second, func() bool {
		s, err := a.jobs.queue.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s.Queued+s.Retrying+s.Running == 0
	})
}

// jsonEqual fails t unless got and want hold the same JSON value.
func jsonEqual(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: the wanted %s: %v", what, want, err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil || !reflect.DeepEqual(g, w) {
		t.Errorf("%s: got %s, want %s", what, got, want)
	}
}
