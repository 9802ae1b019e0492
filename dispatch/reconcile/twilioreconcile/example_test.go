package twilioreconcile_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
	"github.com/hookkit/hookkit/dispatch/reconcile/twilioreconcile"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/verify"
)

// A booking reminder's delivery report whose status callback never
// arrived is recovered from Twilio's Messages resource (here a local
// server that speaks it), as the callback Twilio would have posted.
func Example() {
	const account, token = "AC00000000000000000000000000000001", "0123456789abcdef0123456789abcdef"
	api := reconciletest.NewServer(reconciletest.Config{TwilioAccountSid: account, TwilioAuthToken: token})
	defer api.Close()
	api.AddMessage(reconciletest.Message{Sid: "SM00000000000000000000000000000042", AccountSid: account,
		From: "+15557654321", To: "+15551234567", Status: "delivered", DateSent: time.Now().Add(-time.Hour)})

	router := dispatch.NewRouter()
	dispatch.On(router, twilioevent.MessageDelivered, func(_ context.Context, e *events.Event, m *twilioevent.MessageStatus) error {
		fmt.Println("reminder", m.MessageSid, "delivered to", m.To, "key", e.Key())
		return nil
	})
	v, _ := verify.NewTwilio(token)
	quiet := slog.New(slog.DiscardHandler)
	ep := dispatch.NewEndpoint(v, twilioevent.NewParser(), router, dispatch.WithLogger(quiet))

	source, err := twilioreconcile.New(twilioreconcile.Config{AccountSid: account, AuthToken: token, URL: api.URL})
	if err != nil {
		panic(err)
	}
	r, err := reconcile.New(reconcile.Config{Endpoint: ep, Source: source, Store: reconcile.NewMemoryStore(), Logger: quiet})
	if err != nil {
		panic(err)
	}
	rep, err := r.Run(context.Background())
	fmt.Println("recovered:", rep.Recovered(), "error:", err)
	// Output:
	// reminder SM00000000000000000000000000000042 delivered to +15551234567 key twilio:SM00000000000000000000000000000042:delivered
	// recovered: 1 error: <nil>
}
