package stripeevent

import (
	"encoding/json"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/internal/catalog"
)

// Source is the Source of every Stripe event.
const Source = "stripe"

// NewParser returns a parser for Stripe event bodies: ID from id, Type
// from type, Time from created, Data the raw data.object. It never looks at
// api_version, so events of any API version parse; decoding a payload into
// stripe-go's types is a separate, later step. The parser is safe for
// concurrent use.
func NewParser() *events.JSONParser {
	return events.NewJSONParser(events.JSONConfig{
		Source: Source,
		ID:     "id",
		Type:   "type",
		Time:   "created",
		Data:   "data.object",
	})
}

// The Types of the Stripe events a booking or payments backend handles,
// decoding into stripe-go v76's types. Add any other event in one line:
//
//	var DisputeCreated = events.NewType[*stripe.Dispute]("charge.dispute.created")
var (
	PaymentIntentSucceeded      = events.NewType[*stripe.PaymentIntent](string(stripe.EventTypePaymentIntentSucceeded))
	PaymentIntentPaymentFailed  = events.NewType[*stripe.PaymentIntent](string(stripe.EventTypePaymentIntentPaymentFailed))
	ChargeRefunded              = events.NewType[*stripe.Charge](string(stripe.EventTypeChargeRefunded))
	CheckoutSessionCompleted    = events.NewType[*stripe.CheckoutSession](string(stripe.EventTypeCheckoutSessionCompleted))
	CustomerSubscriptionCreated = events.NewType[*stripe.Subscription](string(stripe.EventTypeCustomerSubscriptionCreated))
	CustomerSubscriptionUpdated = events.NewType[*stripe.Subscription](string(stripe.EventTypeCustomerSubscriptionUpdated))
	CustomerSubscriptionDeleted = events.NewType[*stripe.Subscription](string(stripe.EventTypeCustomerSubscriptionDeleted))
	InvoicePaymentSucceeded     = events.NewType[*stripe.Invoice](string(stripe.EventTypeInvoicePaymentSucceeded))
	InvoicePaymentFailed        = events.NewType[*stripe.Invoice](string(stripe.EventTypeInvoicePaymentFailed))
)

// Catalog returns the names of the Types above, sorted: the Stripe events
// this package types. A host can compare it with what its router handles
// (the bookings example logs the difference at startup), and a test can
// check that each has a recorded delivery.
func Catalog() []string {
	return catalog.Names(
		PaymentIntentSucceeded, PaymentIntentPaymentFailed, ChargeRefunded, CheckoutSessionCompleted,
		CustomerSubscriptionCreated, CustomerSubscriptionUpdated, CustomerSubscriptionDeleted,
		InvoicePaymentSucceeded, InvoicePaymentFailed,
	)
}

// Envelope is the rest of a Stripe event's envelope, which the fast parse
// leaves in the body.
type Envelope struct {
	APIVersion      string `json:"api_version"`
	Livemode        bool   `json:"livemode"`
	Account         string `json:"account"` // set for Connect events
	PendingWebhooks int64  `json:"pending_webhooks"`
	Request         struct {
		ID             string `json:"id"`
		IdempotencyKey string `json:"idempotency_key"`
	} `json:"request"`
	Data struct {
		// PreviousAttributes holds the changed fields' old values on
		// *.updated events, raw.
		PreviousAttributes json.RawMessage `json:"previous_attributes"`
	} `json:"data"`
}

// EnvelopeOf decodes e's envelope fields (api_version, livemode,
// previous_attributes, ...) from its body. A body that does not decode is a
// *events.DecodeError.
func EnvelopeOf(e *events.Event) (Envelope, error) {
	var env Envelope
	err := events.DecodeJSON(e, e.Body, &env)
	return env, err
}

// Event decodes e's whole body into stripe-go's Event, for code written
// against stripe-go. Unlike webhook.ConstructEvent it does not refuse an
// api_version other than stripe-go's. A body that does not decode is a
// *events.DecodeError.
func Event(e *events.Event) (*stripe.Event, error) {
	var se stripe.Event
	if err := events.DecodeJSON(e, e.Body, &se); err != nil {
		return nil, err
	}
	return &se, nil
}
