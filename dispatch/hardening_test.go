package dispatch_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// The attack: a captured, validly signed "undelivered" callback sent again
// with a fresh I-Twilio-Idempotency-Token each time (Twilio does not sign
// that header, and its signatures carry no timestamp). Every replay must be
// a duplicate of the first delivery.
func TestTwilioReplayWithFreshTokensIsADuplicate(t *testing.T) {
	v, err := verify.NewTwilio("twilio_token")
	require.NoError(t, err)
	var runs atomic.Int32
	r := dispatch.NewRouter()
	dispatch.On(r, twilioevent.MessageUndelivered, func(context.Context, *events.Event, *twilioevent.MessageStatus) error {
		runs.Add(1) // a fallback email would be queued here
		return nil
	})
	ep := dispatch.NewEndpoint(v, twilioevent.NewParser(), r, dispatch.WithLogger(quiet))
	defer ep.Shutdown(context.Background())
	form := []byte(url.Values{"MessageSid": {"SM42"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}}.Encode())

	for _, token := range []string{"tok-original", "tok-2", "tok-3", "tok-4", "tok-5", ""} {
		req := verifytest.NewRequest(verifytest.Twilio{AuthToken: "twilio_token"}, "https://api.example.com/twilio", form)
		if token != "" {
			req.Header.Set("I-Twilio-Idempotency-Token", token)
		}
		status, body := deliver(ep, req)
		assert.Equal(t, 200, status, "token %q: %s", token, body)
	}
	assert.EqualValues(t, 1, runs.Load(), "the handler ran once for one signed callback")
}

// An event ID is a key kept for days: a parser must not turn a huge header
// into a huge key.
func TestHugeEventIDIsRefused(t *testing.T) {
	var runs atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("*", func(context.Context, *events.Event) error { runs.Add(1); return nil })
	ep := newStripeEndpoint(t, r)
	body := stripeBody(t, "payment_intent.succeeded", "evt_"+strings.Repeat("x", 512<<10))
	status, _ := deliver(ep, signed(body))
	assert.Equal(t, 400, status)
	assert.Zero(t, runs.Load())
}

// A host's own parser is held to the same bounds.
func TestCustomParserIDsAreBounded(t *testing.T) {
	v, err := verify.NewHMAC([]byte("secret"), "X-Signature")
	require.NoError(t, err)
	for name, id := range map[string]string{"empty": "", "huge": strings.Repeat("k", events.MaxIDBytes+1)} {
		t.Run(name, func(t *testing.T) {
			var runs atomic.Int32
			r := dispatch.NewRouter()
			r.HandleFunc("*", func(context.Context, *events.Event) error { runs.Add(1); return nil })
			p := events.ParserFunc(func(_ *http.Request, body []byte) (*events.Event, error) {
				return &events.Event{Source: "custom", ID: id, Type: "thing.happened", Body: body}, nil
			})
			ep := dispatch.NewEndpoint(v, p, r, dispatch.WithLogger(quiet))
			defer ep.Shutdown(context.Background())
			req := verifytest.NewRequest(verifytest.HMAC{Secret: []byte("secret"), Header: "X-Signature"}, "/hook", []byte(`{}`))
			status, _ := deliver(ep, req)
			assert.Equal(t, 400, status)
			assert.Zero(t, runs.Load())
		})
	}
}
