package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

func ExampleNewEndpoint() {
	v, err := verify.NewStripe("whsec_endpoint_secret")
	if err != nil {
		log.Fatal(err)
	}
	r := dispatch.NewRouter()
	dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(ctx context.Context, e *events.Event, pi *stripe.PaymentIntent) error {
		fmt.Printf("deposit of %d %s for booking %s\n", pi.Amount, pi.Currency, pi.Metadata["booking_id"])
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/webhooks/stripe", dispatch.NewEndpoint(v, stripeevent.NewParser(), r,
		dispatch.WithLogger(slog.New(slog.DiscardHandler))))

	body, err := os.ReadFile("../testdata/stripe/payment_intent.succeeded.json")
	if err != nil {
		log.Fatal(err)
	}
	for range 2 { // Stripe delivers it twice; the handler runs once
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_endpoint_secret"}, "/webhooks/stripe", body))
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// deposit of 5000 usd for booking 12345
	// 200 {"received":true}
	// 200 {"received":true}
}

func ExamplePermanent() {
	r := dispatch.NewRouter()
	dispatch.On(r, stripeevent.ChargeRefunded, func(ctx context.Context, e *events.Event, ch *stripe.Charge) error {
		if ch.Metadata["booking_id"] == "" {
			// Retrying will not add a booking ID: dead-letter it, answer 200.
			return dispatch.Permanent(errors.New("refund without a booking"))
		}
		return nil
	})
	err := r.Dispatch(context.Background(), &events.Event{Type: "charge.refunded", Data: []byte(`{"id":"ch_1","metadata":{}}`)})
	fmt.Println(dispatch.IsPermanent(err), err)
	// Output: true permanent: refund without a booking
}

func ExampleRouter_Handle() {
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.*", func(ctx context.Context, e *events.Event) error {
		fmt.Println("payment intent event:", e.Type)
		return nil
	})
	_ = r.Dispatch(context.Background(), &events.Event{Type: "payment_intent.canceled"})
	// Output: payment intent event: payment_intent.canceled
}

// During a rolling deploy, new event types reach old replicas first: a "*"
// handler that returns an error answers them 500, so the sender delivers
// them again, later, to a replica that has the handler.
func ExampleRouter_Handle_unknownTypes() {
	v, err := verify.NewStripe("whsec_endpoint_secret")
	if err != nil {
		log.Fatal(err)
	}
	r := dispatch.NewRouter() // no handler for payment_intent.succeeded yet
	r.HandleFunc("*", func(ctx context.Context, e *events.Event) error {
		return fmt.Errorf("no handler for %s in this version yet", e.Type)
	})
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithLogger(slog.New(slog.DiscardHandler)))

	body, err := os.ReadFile("../testdata/stripe/payment_intent.succeeded.json")
	if err != nil {
		log.Fatal(err)
	}
	rec := httptest.NewRecorder()
	ep.ServeHTTP(rec, verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_endpoint_secret"}, "/webhooks/stripe", body))
	fmt.Println(rec.Code)
	// Output: 500
}

// NewEndpointSafely is NewEndpoint for configurations chosen at run time:
// an option that cannot work is an error, not a panic.
func ExampleNewEndpointSafely() {
	v, err := verify.NewStripe("whsec_endpoint_secret")
	if err != nil {
		log.Fatal(err)
	}
	_, err = dispatch.NewEndpointSafely(v, stripeevent.NewParser(), dispatch.NewRouter(), dispatch.WithTimeout(-1))
	fmt.Println(errors.Is(err, dispatch.ErrInvalidConfig))
	// Output: true
}

// Dead letters kept in memory, listed a page at a time and re-run once
// the handler is fixed.
func ExampleNewMemoryDeadLetters() {
	fixed := false
	r := dispatch.NewRouter()
	r.HandleFunc("booking.reminder", func(context.Context, *events.Event) error {
		if !fixed {
			return dispatch.Permanent(errors.New("no reminder template"))
		}
		return nil
	})
	dls := dispatch.NewMemoryDeadLetters(1000)
	e := &events.Event{Source: "goconverso", ID: "msg_1", Type: "booking.reminder"}
	if err := dls.DeadLetter(context.Background(), dispatch.DeadLetter{Event: e, Err: errors.New("no reminder template"), Attempts: 1}); err != nil {
		log.Fatal(err)
	}
	page, _ := dls.List(context.Background(), dispatch.DeadLetterFilter{Source: "goconverso"})
	fmt.Println(len(page.Letters), page.Letters[0].Err)
	fmt.Println(errors.Is(dls.Rerun(context.Background(), r, e.Key()), dispatch.ErrRerunFailed))
	fixed = true
	fmt.Println(dls.Rerun(context.Background(), r, e.Key()))
	// Output:
	// 1 no reminder template
	// true
	// <nil>
}
