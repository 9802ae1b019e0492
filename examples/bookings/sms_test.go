package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/dispatch/replay"
	"github.com/hookkit/hookkit/events/fixture"
)

// sendSMSStatus delivers a signed Twilio status callback for message sid,
// to the booking's number, and waits for River's worker to process it.
func sendSMSStatus(t *testing.T, a *app, sid, status string) {
	t.Helper()
	f, err := fixture.Read(testdata, "twilio/message.delivered")
	require.NoError(t, err)
	form, err := url.ParseQuery(string(f.Body))
	require.NoError(t, err)
	form.Set("MessageSid", sid)
	form.Set("SmsSid", sid)
	form.Set("MessageStatus", status)
	form.Set("SmsStatus", status)
	f.Body = []byte(form.Encode())
	res, err := replay.Send(a.handler, f, demoSigners()["twilio"])
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, "%s %s", sid, status)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, a.store.db.QueryRow(`SELECT COUNT(*) FROM river_job WHERE state <> 'completed'`).Scan(&n))
		return n == 0
	}, 5*time.Second, 10*time.Millisecond, "the callback's job ran")
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
				require.Equal(t, http.StatusOK, sendFixture(t, a, name), name)
			}
			for _, cb := range tt.callbacks {
				sendSMSStatus(t, a, cb[0], cb[1])
			}
			b := bookingNow(t, a)
			require.NotNil(t, b.SMSStatus)
			assert.Equal(t, tt.status, *b.SMSStatus)
			assert.Equal(t, tt.delivered, b.SMSDelivered)
			assert.Equal(t, tt.delivered, b.SMSDeliveredAt != nil)
			assert.Equal(t, tt.fallbackEmail, slices.Contains(b.Outbox, "email_sms_fallback"), "outbox %v", b.Outbox)
		})
	}
}
