package dispatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// Handlers guarded by GoConverso's default order: a cancellation that
// arrives first runs; the confirmation that preceded it, arriving late, is
// stale and never runs. (dispatch/sqltx, dispatch/pgxtx and
// dispatch/riverqueue keep the positions in the host's database, with the
// handler's writes; the default step, here, in memory.)
func ExampleOrdered() {
	r := dispatch.NewRouter()
	r.Use(dispatch.Ordered(conversoevent.Ordering))
	r.HandleFunc("booking.*", func(ctx context.Context, e *events.Event) error {
		fmt.Println("applied", e.Type)
		return nil
	})
	v, _ := verify.NewHMAC([]byte("secret"), "X-Goconverso-Signature")
	ep := dispatch.NewEndpoint(v, conversoevent.NewParser(), r, dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	signer := verifytest.HMAC{Secret: []byte("secret"), Header: "X-Goconverso-Signature"}
	for _, ev := range []struct{ name, at string }{
		{"booking.cancelled", "00:04"},
		{"booking.confirmed", "00:01"},
	} {
		body := `{"event":"` + ev.name + `","timestamp":"` + lifeHour + `:` + ev.at + `.000Z","data":{"booking_id":"b-42"}}`
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, verifytest.NewRequest(signer, "/webhooks/goconverso", []byte(body)))
		fmt.Println(ev.name, rec.Code)
	}
	// Output:
	// applied booking.cancelled
	// booking.cancelled 200
	// booking.confirmed 200
}
