package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

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
		{"a second final status does not undo the first", [][2]string{{confirmation, "delivered"}, {confirmation, "failed"}},
			"delivered", true, false},
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
