package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/events/twilioevent"

	"github.com/hookkit/hookkit/dispatch/replay"
	"github.com/hookkit/hookkit/events/fixture"
)

// sendSMSStatus delivers a signed Twilio status callback for message sid,
// to the booking's number, and waits for River's worker to process it.
func sendSMSStatus(t *testing.T, a *app, sid, status string) {
	t.Helper()
	f, err := fixture.Read(testdata, "twilio/message.delivered")
	if err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(string(f.Body))
	if err != nil {
		t.Fatal(err)
	}
	form.Set("MessageSid", sid)
	form.Set("SmsSid", sid)
	form.Set("MessageStatus", status)
	form.Set("SmsStatus", status)
	f.Body = []byte(form.Encode())
	res, err := replay.Send(a.handler, f, demoSigners()["twilio"])
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK {
		t.Fatalf("%s %s: got %d, want %d", sid, status, res.Status, http.StatusOK)
	}
	waitFor(t, "the callback's job ran", 5*time.Second, func() bool {
		var n int
		if err := a.store.db.QueryRow(`SELECT COUNT(*) FROM river_job WHERE state <> 'completed'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
}

// A booking's SMS state follows its confirmation message (the first
// MessageSid seen for it), forward only, whatever order Twilio's callbacks
// arrive in. Before, status was tracked per phone number: delivered→read
// cleared sms_delivered, read→delivered never set it, and another message
// to the same number failing marked the booking failed and emailed.
func TestSMSStatusGoesForwardOnlyPerMessage(t *testing.T) {
	const confirmation, other = "SM00000000000000000000000000000001", "SM00000000000000000000000000000002"
	tests := []struct {
		name          string
		callbacks     [][2]string // sid, status, in arrival order
		status        string
		delivered     bool
		fallbackEmail bool
	}{
		{"in order", [][2]string{{confirmation, "queued"}, {confirmation, "sent"}, {confirmation, "delivered"}},
			"delivered", true, false},
		{"delivered then read keeps delivered", [][2]string{{confirmation, "delivered"}, {confirmation, "read"}},
			"read", true, false},
		{"read then a late delivered", [][2]string{{confirmation, "read"}, {confirmation, "delivered"}},
			"read", true, false},
		{"a late sent after delivered", [][2]string{{confirmation, "delivered"}, {confirmation, "sent"}},
			"delivered", true, false},
		{"a failure reported after delivery stands (failed ranks above delivered)", [][2]string{{confirmation, "delivered"}, {confirmation, "failed"}},
			"failed", false, true},
		{"undelivered after failed: one fallback email", [][2]string{{confirmation, "failed"}, {confirmation, "undelivered"}},
			"undelivered", false, true},
		{"the confirmation undelivered", [][2]string{{confirmation, "sent"}, {confirmation, "undelivered"}},
			"undelivered", false, true},
		{"another message to the number fails", [][2]string{{confirmation, "delivered"}, {other, "failed"}},
			"delivered", true, false},
		{"another message to the number delivered after the confirmation failed", [][2]string{{confirmation, "failed"}, {other, "delivered"}},
			"failed", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
			for _, name := range []string{"standard/booking.created", "standard/booking.confirmed"} {
				if got := sendFixture(t, a, name); got != http.StatusOK {
					t.Fatalf("%v: got %d, want %d", name, got, http.StatusOK)
				}
			}
			for _, cb := range tt.callbacks {
				sendSMSStatus(t, a, cb[0], cb[1])
			}
			b := bookingNow(t, a)
			if b.SMSStatus == nil {
				t.Fatalf("b.SMSStatus: got nil, want non-nil")
			}
			if *b.SMSStatus != tt.status {
				t.Errorf("*b.SMSStatus: got %q, want %q", *b.SMSStatus, tt.status)
			}
			if b.SMSDelivered != tt.delivered {
				t.Errorf("b.SMSDelivered: got %t, want %t", b.SMSDelivered, tt.delivered)
			}
			if b.SMSDeliveredAt != nil != tt.delivered {
				t.Errorf("b.SMSDeliveredAt != nil: got %t, want %t", b.SMSDeliveredAt != nil, tt.delivered)
			}
			if got := slices.Contains(b.Outbox, "email_sms_fallback"); got != tt.fallbackEmail {
				t.Errorf("outbox %v: got %t, want %t", b.Outbox, got, tt.fallbackEmail)
			}
		})
	}
}

// permutations returns every order of items.
func permutations(items []string) [][]string {
	if len(items) <= 1 {
		return [][]string{slices.Clone(items)}
	}
	var out [][]string
	for i, first := range items {
		rest := slices.Concat(items[:i], items[i+1:])
		for _, p := range permutations(rest) {
			out = append(out, append([]string{first}, p...))
		}
	}
	return out
}

// smsCallback is message sid's status callback to phone, as Twilio sends
// it (the recorded message.delivered with the sid, the status and, for a
// message that did not arrive, an error code).
func smsCallback(f fixture.Fixture, sid, phone, status string) (fixture.Fixture, error) {
	form, err := url.ParseQuery(string(f.Body))
	if err != nil {
		return f, err
	}
	form.Set("MessageSid", sid)
	form.Set("SmsSid", sid)
	form.Set("MessageStatus", status)
	form.Set("SmsStatus", status)
	form.Set("To", phone)
	form.Del("ErrorCode")
	if status == "failed" || status == "undelivered" {
		form.Set("ErrorCode", "30003")
	}
	f.Body = []byte(form.Encode())
	return f, nil
}

// jobState returns the state of the River job of the event whose key is
// key ("" while there is none).
func jobState(ctx context.Context, a *app, key string) (string, error) {
	query := `SELECT state FROM river_job WHERE json_extract(args, '$.key') = $1`
	if a.store.postgres {
		query = `SELECT state FROM river_job WHERE args->>'key' = $1`
	}
	var state string
	err := a.store.db.QueryRowContext(ctx, query, key).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return state, err
}

// deliverInOrder delivers callbacks for message sid to phone one after
// the other: each is delivered once the previous one's job has completed
// (its handler's writes committed), so they apply in exactly this order.
func deliverInOrder(ctx context.Context, a *app, sid, phone string, statuses []string) error {
	recorded, err := fixture.Read(testdata, "twilio/message.delivered")
	if err != nil {
		return err
	}
	for _, status := range statuses {
		f, err := smsCallback(recorded, sid, phone, status)
		if err != nil {
			return err
		}
		res, err := replay.Send(a.handler, f, demoSigners()["twilio"])
		if err != nil {
			return err
		}
		if res.Status != http.StatusOK {
			return fmt.Errorf("%s %s: got %d, want 200", sid, status, res.Status)
		}
		key := twilioevent.Source + ":" + sid + ":" + status
		// The job's completion proves its effect (a bound generous for
		// -race on SQLite).
		var state string
		var stateErr error
		if !waitUntil(30*time.Second, func() bool {
			state, stateErr = jobState(ctx, a, key)
			return stateErr != nil || state == "completed"
		}) {
			return fmt.Errorf("%s: its job is %q after 30s, not completed", key, state)
		}
		if stateErr != nil {
			return stateErr
		}
	}
	return nil
}

// Every order of a confirmation SMS's callbacks, with a retry of one of
// them mixed in, ends in the message's final status; the fallback email
// and the support team's alert are queued exactly once, and only when
// that status is failed or undelivered. When Twilio reports both
// delivered and failed, the message ends failed whatever the order (the
// guard's lattice, twilioevent.Ordering), and the guest is emailed once.
func TestSMSCallbacksInEveryOrder(t *testing.T) {
	type smsCase struct {
		order []string
		final string
	}
	var cases []smsCase
	for _, final := range []string{"delivered", "failed", "undelivered"} {
		for i, p := range permutations([]string{"queued", "sent", final}) {
			cases = append(cases, smsCase{append(p, p[i%len(p)]), final}) // a retry of one callback, last
		}
	}
	for _, p := range permutations([]string{"queued", "sent", "delivered", "failed"}) {
		cases = append(cases, smsCase{p, "failed"}) // failed ranks above delivered (twilioevent.Ordering)
	}
	for name, open := range databases(t) {
		t.Run(name, func(t *testing.T) {
			a := newTestApp(t, open(t), config{})
			ctx := context.Background()
			var wg sync.WaitGroup
			lanes := make(chan struct{}, 16)
			for i, c := range cases {
				id, phone := fmt.Sprintf("sms%03d", i), fmt.Sprintf("+1555300%04d", i)
				sid := fmt.Sprintf("SM%032x", i+1)
				for _, name := range []string{"standard/booking.created", "standard/booking.confirmed"} {
					if got := sendAbout(t, a, name, id, phone); got != http.StatusOK {
						t.Fatalf("%s for %s: got %d, want 200", name, id, got)
					}
				}
				wg.Go(func() {
					lanes <- struct{}{}
					defer func() { <-lanes }()
					if err := deliverInOrder(ctx, a, sid, phone, c.order); err != nil {
						t.Errorf("%v: %v", c.order, err)
						return
					}
					b, err := a.store.booking(ctx, id)
					if err != nil {
						t.Errorf("%v: %v", c.order, err)
						return
					}
					if b.SMSStatus == nil || *b.SMSStatus != c.final {
						t.Errorf("%v: sms_status %v, want %s", c.order, deref(b.SMSStatus), c.final)
					}
					if b.SMSDelivered != (c.final == "delivered") {
						t.Errorf("%v: sms_delivered %t, want %t", c.order, b.SMSDelivered, c.final == "delivered")
					}
					var want []string
					if c.final != "delivered" {
						want = []string{"email_sms_fallback", "support_sms_failed"}
					}
					if !slices.Equal(b.Outbox, want) {
						t.Errorf("%v: outbox %q, want %q", c.order, b.Outbox, want)
					}
				})
			}
			wg.Wait()
			t.Logf("%d orders of callbacks", len(cases))
		})
	}
}
