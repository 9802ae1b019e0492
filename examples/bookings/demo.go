package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/hookkit/hookkit/dispatch/record"
	"github.com/hookkit/hookkit/dispatch/replay"
	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// demoSecrets are the demo's signing secrets; the demo signs every
// delivery with them, as the senders would with yours.
var demoSecrets = secrets{
	Stripe:   "whsec_demo_stripe_endpoint_secret",
	Twilio:   "d3m0tw1l10a7h70k3n00000000000000", // letters and digits, as Twilio's are (twilioreconcile checks)
	Bookings: "whsec_ZGVtbyBib29raW5ncyB3ZWJob29rIHNlY3JldA==",
	Etail:    "demo_etail_secret",
	APIToken: "demo_bookings_api_token",
}

// demoSigners signs for each testdata directory as its sender would.
func demoSigners() map[string]verifytest.Signer {
	return map[string]verifytest.Signer{
		"stripe":   verifytest.Stripe{Secret: demoSecrets.Stripe},
		"twilio":   verifytest.Twilio{AuthToken: demoSecrets.Twilio},
		"standard": verifytest.Standard{Secret: demoSecrets.Bookings},
		"etail":    verifytest.HMAC{Secret: []byte(demoSecrets.Etail), Header: "Etail-Signature"},
	}
}

// demoStep is one delivery of the demo and the status hookkit promises.
type demoStep struct {
	fixture string // under testdata, without extension
	label   string // what is special about it, if anything
	want    int
	async   bool // acknowledged into River: its effect appears after the 200
	// prepare changes the signer or, after signing, the body.
	signer func(s verifytest.Signer) verifytest.Signer
	tamper func(body []byte) []byte
	// about, when set, sends the delivery as its sender would about
	// another booking (rebook): {booking ID, guest's phone}.
	about [2]string
}

// booking is the booking the step is about.
func (s demoStep) booking() string {
	if s.about[0] != "" {
		return s.about[0]
	}
	return demoBooking
}

var demoSteps = []demoStep{
	{fixture: "standard/booking.created", want: 200},
	{fixture: "standard/booking.confirmed", want: 200},
	{fixture: "stripe/payment_intent.payment_failed", want: 200},
	{fixture: "stripe/payment_intent.succeeded", want: 200},
	{fixture: "stripe/payment_intent.succeeded", label: "again: a duplicate", want: 200},
	{fixture: "twilio/message.sent", want: 200, async: true},
	{fixture: "twilio/message.delivered", want: 200, async: true},
	{fixture: "twilio/message.delivered", label: "forged: wrong auth token", want: 403,
		signer: func(verifytest.Signer) verifytest.Signer { return verifytest.Twilio{AuthToken: "guessed"} }},
	{fixture: "etail/payment.succeeded", want: 200},
	{fixture: "etail/order.created", label: "unknown type: no handler", want: 200},
	{fixture: "stripe/charge.refunded", want: 200},
	{fixture: "stripe/charge.refunded", label: "tampered: amount changed after signing", want: 400,
		tamper: func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"amount_refunded": 5000`), []byte(`"amount_refunded": 50000`), 1)
		}},
	{fixture: "stripe/payment_intent.succeeded", label: "stale: signed 10 minutes ago", want: 400,
		signer: func(verifytest.Signer) verifytest.Signer {
			return verifytest.Stripe{Secret: demoSecrets.Stripe, Time: time.Now().Add(-10 * time.Minute)}
		}},
	{fixture: "standard/booking.rescheduled", want: 200},
	{fixture: "standard/booking.reminder", label: "no SMS template configured yet: dead-lettered", want: 200},
}

var demoRoutes = map[string]string{"stripe": stripeRoute, "twilio": twilioRoute, "standard": bookingsRoute, "etail": etailRoute}

// runDemo starts the backend on a free loopback port with the demo secrets
// and a temporary SQLite database, sends it demoSteps over HTTP, and
// prints each step as it begins and one line per delivery as it is
// answered, then booking 12345 and the counters. The deliveries are the
// copy of the repository's testdata/ built into the program, or those in
// fixturesDir.
func runDemo(ctx context.Context, recordDir, fixturesDir string) error {
	began := time.Now()
	fsys, from := recordedDeliveries, "the copy of the repository's testdata/ built into this program"
	if fixturesDir != "" {
		fsys, from = os.DirFS(fixturesDir), fixturesDir
	}
	deliveries := len(demoSteps) + len(demoHoldSteps) + len(demoLateDeposit) + len(demoSMSSteps) + 2 // and phase 5's
	fmt.Printf("hookkit bookings demo: %d deliveries from %s\n", deliveries, from)
	tmp, err := os.MkdirTemp("", "hookkit-bookings-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	demoPhase(1, "starting the backend: a temporary SQLite database (the bookings, hookkit's and River's tables), River's workers, HTTP on a free loopback port")
	st, err := openStore(ctx, filepath.Join(tmp, "bookings.db"))
	if err != nil {
		return err
	}
	defer st.close()
	// Only errors reach the terminal; the demo prints its own account.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	// The hold sweep runs often, so that the demo's hold ends at once
	// when the demo moves the backend's clock past it.
	cfg := config{secrets: demoSecrets, logger: logger, clock: recordingTime, holdSweep: 50 * time.Millisecond}
	// Stripe's and Twilio's APIs, for the reconcilers: a local stand-in.
	api := newDemoAPI(&cfg)
	defer api.Close()
	if recordDir != "" {
		archive, err := record.New(recordDir, record.Config{Logger: logger})
		if err != nil {
			return err
		}
		cfg.archive = archive
	}
	a, err := newApp(ctx, st, cfg)
	if err != nil {
		return err
	}
	// The demo starts as if the SMS reminder template were not configured
	// yet: reminders are dead-lettered until it is (see fixDeadLetter).
	a.handlers.reminderTemplate.Store(new(string))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	serveCtx, stopServing := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- serve(serveCtx, a, ln, nil) }()
	fmt.Printf("      listening on %s, database %s (%s)\n", base, filepath.Join(tmp, "bookings.db"), since(began))

	demoPhase(2, "sending the deliveries over HTTP, one line as each is answered")
	failures, err := playDemo(ctx, base, fsys, demoSteps)
	if err == nil {
		demoPhase(3, "a failed deposit holds booking 67890 for two hours; the backend's clock moves past the hold; the deposit comes late")
		var more int
		more, err = playHold(ctx, base, fsys, a)
		failures += more
	}
	if err == nil {
		demoPhase(4, "booking 24680's confirmation SMS fails: the guest is emailed, the support team alerted")
		var more int
		more, err = playFailedSMS(ctx, base, fsys)
		failures += more
	}
	if err == nil {
		demoPhase(5, "webhooks that never arrived, recovered from Stripe's and Twilio's APIs (a local stand-in) by runs an operator starts")
		var more int
		more, err = playRecovered(ctx, base, fsys, api)
		failures += more
	}
	if err == nil {
		demoPhase(6, "an operator configures the SMS reminder template and re-runs the dead letter")
		failures += fixDeadLetter(ctx, base, a)
	}
	if err == nil {
		demoPhase(7, "booking 12345 as GET /bookings/12345 shows it")
		var final string
		final, err = getBooking(ctx, base, demoBooking)
		fmt.Print(final)
	}
	if err == nil {
		demoPhase(8, "what a dashboard shows: GET /metrics, OpenTelemetry through its Prometheus exporter")
		err = printCounters(ctx, os.Stdout, base)
	}
	stopServing()
	err = errors.Join(err, <-served)
	if err != nil {
		return err
	}
	if failures > 0 {
		return fmt.Errorf("%d of %d deliveries were not answered as promised", failures, deliveries)
	}
	fmt.Printf("\nall %d deliveries answered as promised (%s)\n", deliveries, since(began))
	return nil
}

// demoPhases is how many steps runDemo announces.
const demoPhases = 8

// demoPhase announces one of the demo's steps before it runs, so that a
// step that takes a while shows what it is doing.
func demoPhase(n int, what string) {
	fmt.Printf("\n[%d/%d] %s\n", n, demoPhases, what)
}

// since is the time elapsed since t, to the millisecond.
func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// fixDeadLetter fixes what dead-lettered the reminder (configures the SMS
// template) and re-runs the dead letter through the admin route, as an
// operator would; it returns 1 if the re-run did not resolve it.
func fixDeadLetter(ctx context.Context, base string, a *app) int {
	letters, err := listDeadLetters(ctx, base)
	if err != nil || len(letters) != 1 {
		fmt.Printf("✗ expected one dead letter, found %d (%v)\n", len(letters), err)
		return 1
	}
	dl := letters[0]
	fmt.Printf("dead letter %s (%s): %s\n", dl.Key, dl.Type, dl.Error)
	before, _ := snapshot(ctx, base, demoBooking)
	template := defaultReminderTemplate
	a.handlers.reminderTemplate.Store(&template)
	fmt.Println("the SMS reminder template is configured; re-running it:")
	var resolved map[string]string
	if err := admin(ctx, http.MethodPost, base+"/dead-letters/"+url.PathEscape(dl.Key)+"/rerun", &resolved); err != nil {
		fmt.Printf("✗ re-run failed: %v\n", err)
		return 1
	}
	after, _ := snapshot(ctx, base, demoBooking)
	fmt.Printf("POST /dead-letters/%s/rerun   resolved     %s\n", dl.Key, describe(before, after))
	if letters, err = listDeadLetters(ctx, base); err != nil || len(letters) != 0 {
		fmt.Printf("✗ the dead letter is still open (%v)\n", err)
		return 1
	}
	return 0
}

// deadLetterJSON is a dead letter as dispatch/admin lists it.
type deadLetterJSON struct {
	Key, Type, Error, Ref string
	Attempts              int
}

// listDeadLetters lists every dead letter through the admin routes, page
// after page.
func listDeadLetters(ctx context.Context, base string) ([]deadLetterJSON, error) {
	var all []deadLetterJSON
	for after, pages := "", 0; pages < 100; pages++ {
		var page struct {
			DeadLetters []deadLetterJSON `json:"dead_letters"`
			Next        string
		}
		if err := admin(ctx, http.MethodGet, base+"/dead-letters/?after="+url.QueryEscape(after), &page); err != nil {
			return nil, err
		}
		all = append(all, page.DeadLetters...)
		if page.Next == "" {
			return all, nil
		}
		after = page.Next
	}
	return nil, errors.New("the dead-letter listing does not end")
}

// adminRequest calls an admin route with the demo's API token and returns
// the status and the body. A POST sends an empty JSON object, as
// dispatch/admin requires.
func adminRequest(ctx context.Context, method, url string) (int, []byte, error) {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	}
	r, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer "+demoSecrets.APIToken)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, answer, err
}

// admin calls an admin route and decodes its JSON answer into v; a status
// other than 200 is an error.
func admin(ctx context.Context, method, url string, v any) error {
	status, body, err := adminRequest(ctx, method, url)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, url, status, body)
	}
	return json.Unmarshal(body, v)
}

// playDemo sends steps' deliveries, read from fsys, to the backend at
// base and prints one line for each as it is answered; it returns how many
// were not answered as promised.
func playDemo(ctx context.Context, base string, fsys fs.FS, steps []demoStep) (failures int, err error) {
	fmt.Printf("%-40s %-60s %s\n", "ROUTE", "EVENT", "STATUS  EFFECT ON BOOKING "+steps[0].booking())
	return playSteps(ctx, base, fsys, steps)
}

// playSteps is playDemo without the heading.
func playSteps(ctx context.Context, base string, fsys fs.FS, steps []demoStep) (failures int, err error) {
	signers := demoSigners()
	for _, s := range steps {
		f, err := fixture.Read(fsys, s.fixture)
		if err != nil {
			return failures, fmt.Errorf("reading the recorded deliveries: %w", err)
		}
		if s.about[0] != "" {
			f = rebook(f, s.about[0], s.about[1])
		}
		dir := path.Dir(s.fixture)
		signer := signers[dir]
		if s.signer != nil {
			signer = s.signer(signer)
		}
		before, _ := snapshot(ctx, base, s.booking())
		status, err := send(ctx, base, f, signer, s.tamper)
		if err != nil {
			return failures, err
		}
		after, _ := snapshot(ctx, base, s.booking())
		if s.async && status == http.StatusOK {
			after = awaitChange(ctx, base, s.booking(), before)
		}
		event := path.Base(s.fixture)
		if s.label != "" {
			event += " (" + s.label + ")"
		}
		mark := ""
		if status != s.want {
			failures++
			mark = fmt.Sprintf("  ✗ expected %d", s.want)
		}
		effect := describe(before, after)
		if s.async && status == http.StatusOK {
			effect = "queued (River); its worker: " + effect
		}
		fmt.Printf("%-40s %-60s %d     %s%s\n", demoRoutes[dir], event, status, effect, mark)
	}
	return failures, nil
}

// demoBooking and demoPhone are the booking and guest of the recorded
// deliveries.
const demoBooking, demoPhone = "12345", "+15551234567"

// senderIDs are the IDs a Stripe event carries of itself and its objects
// (event, payment intent, charge, payment method, customer).
var senderIDs = regexp.MustCompile(`\b(evt|pi|ch|pm|cus)_[A-Za-z0-9]+`)

// twilioSIDs are Twilio's message SIDs (SMS, MMS): two letters, 32 hex
// digits.
var twilioSIDs = regexp.MustCompile(`\b(SM|MM)[0-9a-f]{32}\b`)

// rebook returns recorded delivery f, about booking 12345 and its guest,
// as its sender would deliver the same event about booking id, whose
// guest's phone is phone: the booking, the phone and the IDs the sender
// gives its event and objects (Stripe's, Twilio's SIDs, GoConverso's
// webhook-id) are those of the other booking, derived from the recorded
// ones and id.
func rebook(f fixture.Fixture, id, phone string) fixture.Fixture {
	body := string(f.Body)
	body = strings.ReplaceAll(body, `"`+demoBooking+`"`, `"`+id+`"`)
	body = strings.ReplaceAll(body, "booking "+demoBooking, "booking "+id)
	body = strings.ReplaceAll(body, demoPhone, phone)
	body = strings.ReplaceAll(body, url.QueryEscape(demoPhone), url.QueryEscape(phone))
	body = senderIDs.ReplaceAllString(body, "${0}x"+id)
	body = twilioSIDs.ReplaceAllStringFunc(body, func(sid string) string {
		sum := sha256.Sum256([]byte(sid + id))
		return sid[:2] + hex.EncodeToString(sum[:16])
	})
	f.Body = []byte(body)
	f.Header = f.Header.Clone()
	if wid := f.Header.Get("Webhook-Id"); wid != "" {
		f.Header.Set("Webhook-Id", wid+"_"+id)
	}
	return f
}

// awaitChange waits up to 3 s for booking id to differ from before (the
// effect of work done after an answer: River's workers, the hold sweep)
// and returns it as it is then.
func awaitChange(ctx context.Context, base, id string, before *bookingView) *bookingView {
	after, _ := snapshot(ctx, base, id)
	deadline := time.Now().Add(3 * time.Second)
	for reflect.DeepEqual(before, after) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		after, _ = snapshot(ctx, base, id)
	}
	return after
}

// send delivers a recorded fixture over real HTTP, re-signed by signer,
// with tamper (if any) applied to the body after signing.
func send(ctx context.Context, base string, f fixture.Fixture, signer verifytest.Signer, tamper func([]byte) []byte) (int, error) {
	r, err := replay.ClientRequest(ctx, base, f, signer)
	if err != nil {
		return 0, err
	}
	if tamper != nil {
		body := tamper(f.Body)
		r.Body, r.ContentLength, r.GetBody = io.NopCloser(bytes.NewReader(body)), int64(len(body)), nil
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func getBooking(ctx context.Context, base, id string) (string, error) {
	_, body, err := adminRequest(ctx, http.MethodGet, base+"/bookings/"+url.PathEscape(id))
	return string(body), err
}

// snapshot is booking id as GET /bookings/{id} shows it (nil before it
// exists).
func snapshot(ctx context.Context, base, id string) (*bookingView, error) {
	body, err := getBooking(ctx, base, id)
	if err != nil {
		return nil, err
	}
	var b bookingView
	if json.Unmarshal([]byte(body), &b) != nil || b.ID == "" {
		return nil, nil
	}
	return &b, nil
}

// describe says what changed between two snapshots.
func describe(before, after *bookingView) string {
	switch {
	case after == nil:
		return "no booking yet"
	case before == nil:
		return fmt.Sprintf("created: status %s, phone %s", after.Status, after.CustomerPhone)
	}
	var changes []string
	field := func(name string, old, new any) {
		if !reflect.DeepEqual(old, new) {
			changes = append(changes, fmt.Sprintf("%s %v→%v", name, deref(old), deref(new)))
		}
	}
	field("status", before.Status, after.Status)
	field("deposit_paid", before.DepositPaid, after.DepositPaid)
	field("deposit_refunded", before.DepositRefunded, after.DepositRefunded)
	field("hold_until", before.HoldUntil, after.HoldUntil)
	field("hold_expired_at", before.HoldExpiredAt, after.HoldExpiredAt)
	field("refund_due", before.RefundDue, after.RefundDue)
	field("sms_status", before.SMSStatus, after.SMSStatus)
	field("sms_delivered", before.SMSDelivered, after.SMSDelivered)
	field("transactions", before.Transactions, after.Transactions)
	if len(after.Outbox) > len(before.Outbox) {
		changes = append(changes, "outbox +"+strings.Join(after.Outbox[len(before.Outbox):], ", +"))
	}
	if len(changes) == 0 {
		return "no change"
	}
	return strings.Join(changes, "; ")
}

func deref(v any) any {
	if s, ok := v.(*string); ok {
		if s == nil {
			return "∅"
		}
		return *s
	}
	return v
}

// metricLine is one sample of the Prometheus text format.
var metricLine = regexp.MustCompile(`^(hookkit_[a-z_]+)\{([^}]*)\} ([0-9.e+-]+)$`)

var metricLabel = regexp.MustCompile(`([a-z_]+)="([^"]*)"`)

// printCounters prints what a dashboard would show of the demo, read from
// GET /metrics: deliveries by sender, type and outcome, handler attempts by
// where they ran, and the queues' gauges.
func printCounters(ctx context.Context, w io.Writer, base string) error {
	status, text, err := adminRequest(ctx, http.MethodGet, base+"/metrics")
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET /metrics: %d", status)
	}
	var deliveries, attempts, gauges []string
	for line := range strings.Lines(string(text)) {
		m := metricLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		l := map[string]string{}
		for _, kv := range metricLabel.FindAllStringSubmatch(m[2], -1) {
			l[kv[1]] = kv[2]
		}
		switch m[1] {
		case "hookkit_deliveries_total":
			deliveries = append(deliveries, fmt.Sprintf("%5s  %-11s %-30s %-19s %s", m[3], l["hookkit_source"], orDash(l["hookkit_event_type"]),
				l["hookkit_outcome"], l["http_response_status_code"]))
		case "hookkit_attempts_total":
			attempts = append(attempts, fmt.Sprintf("%5s  %-11s %-30s %-6s %s", m[3], l["hookkit_source"], l["hookkit_event_type"],
				l["hookkit_attempt_kind"], l["hookkit_outcome"]))
		case "hookkit_queue_events":
			gauges = append(gauges, fmt.Sprintf("%5s  %s %s", m[3], l["hookkit_queue"], l["hookkit_queue_state"]))
		case "hookkit_dead_letters":
			gauges = append(gauges, fmt.Sprintf("%5s  %s dead letters", m[3], l["hookkit_queue"]))
		}
	}
	fmt.Fprintf(w, "hookkit_deliveries_total\n%5s  %-11s %-30s %-19s %s\n", "COUNT", "SENDER", "TYPE", "OUTCOME", "STATUS")
	fmt.Fprintln(w, strings.Join(deliveries, "\n"))
	fmt.Fprintf(w, "\nhookkit_attempts_total\n%5s  %-11s %-30s %-6s %s\n", "COUNT", "SENDER", "TYPE", "WHERE", "OUTCOME")
	fmt.Fprintln(w, strings.Join(attempts, "\n"))
	fmt.Fprintf(w, "\nhookkit_queue_events, hookkit_dead_letters\n")
	fmt.Fprintln(w, strings.Join(gauges, "\n"))
	return nil
}

// orDash is "-" for a delivery that never became an event (a rejected
// signature).
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// recordingTime is a time shortly after the recorded deliveries were recorded
// (2026-11-23): the demo replays them, and its endpoints measure the
// events' ages against it (config.clock).
func recordingTime() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) }
