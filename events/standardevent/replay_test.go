package standardevent_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/standardevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// TestReplayWithAddedWebhookIDIsADuplicate replays issue 27's H1 attack
// through an Endpoint: a genuine Svix delivery of a booking.reminder, then
// the same bytes five more times, each with an unsigned webhook-id of its
// own added. Every copy verifies (over svix-id); each must be deduplicated
// under the signed svix-id, so the reminder is sent once. On the old
// parser, which took webhook-id first, there were 6 deliveries and 6
// reminders.
func TestReplayWithAddedWebhookIDIsADuplicate(t *testing.T) {
	body, err := os.ReadFile("../../testdata/standard/booking.reminder.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, parser := range map[string]events.Parser{
		"conversoevent.NewStandardParser": conversoevent.NewStandardParser(),
		"standardevent.NewParser":         standardeventReminderParser(),
	} {
		t.Run(name, func(t *testing.T) {
			v, err := verify.NewStandard(secret)
			if err != nil {
				t.Fatal(err)
			}
			var reminders atomic.Int32
			r := dispatch.NewRouter()
			dispatch.On(r, conversoevent.BookingReminder, func(context.Context, *events.Event, *conversoevent.Booking) error {
				reminders.Add(1)
				return nil
			})
			ep := dispatch.NewEndpoint(v, parser, r, dispatch.WithLogger(slog.New(slog.DiscardHandler)))
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				ep.Shutdown(ctx)
			})
			genuine := verifytest.Standard{Secret: secret, ID: "msg_2pQx7Lk9Vb3Nw3Rt5Yc8Hd1Zf", Svix: true}
			captured, err := genuine.Headers(body)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 6 {
				req := httptest.NewRequest(http.MethodPost, "/webhooks/bookings", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				for k, vals := range captured {
					req.Header[k] = vals
				}
				if i > 0 {
					req.Header.Set("Webhook-Id", "msg_forged_"+strconv.Itoa(i))
				}
				rec := httptest.NewRecorder()
				ep.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					t.Fatalf("delivery %d: %d %s", i, rec.Code, rec.Body)
				}
			}
			if n := reminders.Load(); n != 1 {
				t.Fatalf("6 deliveries of one signed event ran the handler %d times, want 1", n)
			}
		})
	}
}

// standardeventReminderParser is standardevent's parser for a body whose
// type is under "event", as GoConverso's is: the ID headers as
// standardevent reads them.
func standardeventReminderParser() events.Parser {
	cfg := standardevent.Config("goconverso")
	cfg.Type = "event"
	return events.NewJSONParser(cfg)
}
