package twilioevent_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

const authToken = "hookkit_fixtures_auth_token"

// twilioEndpoint returns an Endpoint for Twilio callbacks whose every
// handler counts its runs.
func twilioEndpoint(t *testing.T) (*dispatch.Endpoint, *atomic.Int32) {
	t.Helper()
	v, err := verify.NewTwilio(authToken)
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("*", func(context.Context, *events.Event) error {
		runs.Add(1)
		return nil
	})
	ep := dispatch.NewEndpoint(v, twilioevent.NewParser(), r, dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ep.Shutdown(ctx)
	})
	return ep, &runs
}

// deliverSigned posts form to ep, signed as Twilio signs it, and returns
// the status.
func deliverSigned(t *testing.T, ep http.Handler, form string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "https://api.reserveeasy.example/api/v1/webhooks/twilio/call-status", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := (verifytest.Twilio{AuthToken: authToken}).Sign(req, []byte(form)); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	ep.ServeHTTP(rec, req)
	return rec.Code
}

// The H2 attack through an Endpoint: a callback signed with the account's
// auth token whose Timestamp has a +24:00 zone is answered 400 and never
// runs (on the old parser it was accepted, and its time could not be
// encoded by the queue that took it); the same callback with a zone in
// range runs.
func TestEndpointRefusesTimestampOutsideRFC3339(t *testing.T) {
	ep, runs := twilioEndpoint(t)
	attack := url.Values{"CallSid": {"CA9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a"}, "CallStatus": {"completed"},
		"AccountSid": {"AC7d0b2a9c4e1f3a5b6c8d0e2f4a6b8c0d"}, "Timestamp": {"Mon, 01 Jan 2024 00:00:00 +2400"}}
	if code := deliverSigned(t, ep, attack.Encode()); code != http.StatusBadRequest {
		t.Errorf("the +2400 callback: %d, want 400", code)
	}
	attack.Set("Timestamp", time.Now().UTC().Format(time.RFC1123Z))
	if code := deliverSigned(t, ep, attack.Encode()); code != http.StatusOK {
		t.Errorf("the callback with a valid zone: %d, want 200", code)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once (the valid callback only)", n)
	}
}

// L3 (issue 27) in a form: a MessageSid or CallSid holding a UTF-16
// surrogate encoded in UTF-8 (%ED%A0%80) or an invalid byte (%FF) is
// malformed, 400, and never runs; it is never decoded to U+FFFD, where two
// such SIDs would share a key. (The old parser already refused these, in
// Event.Validate; this pins it at the Endpoint.)
func TestEndpointRefusesInvalidUTF8SIDs(t *testing.T) {
	ep, runs := twilioEndpoint(t)
	for _, form := range []string{
		"MessageSid=SM%ED%A0%80&MessageStatus=delivered",
		"MessageSid=SM%ED%B0%80&MessageStatus=delivered",
		"MessageSid=SM%FF&MessageStatus=delivered",
		"CallSid=CA%ED%A0%80&CallStatus=completed",
		"CallSid=CA%FF&CallStatus=completed",
		"MessageSid=SM1&MessageStatus=deliv%FFered",
	} {
		if code := deliverSigned(t, ep, form); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", form, code)
		}
	}
	if n := runs.Load(); n != 0 {
		t.Errorf("the handler ran %d times for malformed SIDs", n)
	}
}
