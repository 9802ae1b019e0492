package stripeevent

import (
	"errors"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/internal/jsonscan"
)

// Ordering is the default ordering of Stripe events (see events.Order).
// Stripe does not guarantee delivery in the order events are generated,
// and retries a failed delivery for up to three days, so a
// payment_intent.payment_failed of a first attempt can arrive after the
// payment_intent.succeeded of the second, and a customer.subscription.updated
// after the customer.subscription.deleted that ended it.
//
// The object is data.object.id (Stripe's ids are unique across object
// types: pi_, ch_, sub_, in_, ...). An event whose data.object has no id
// is about no ordered object and is not guarded. The position's At is the
// event's created, in seconds: the time Stripe created the event, which
// is the order of the object's changes, to the second.
//
// Two events of one object often share a second (a subscription created
// and activated by one API call). Rank orders them where Stripe's status
// for the object type has an order that never goes back, from stripe-go
// v76's status constants:
//
//	payment_intent    requires_payment_method, requires_confirmation,
//	                  requires_action, processing (one rank) < requires_capture
//	                  < canceled < succeeded
//	charge            pending < failed < succeeded < succeeded and refunded
//	subscription      incomplete < trialing, active, past_due, unpaid, paused
//	                  (one rank) < incomplete_expired < canceled
//	invoice           draft < open < uncollectible < void < paid
//	checkout.session  open < expired < complete
//
// Statuses share a rank where Stripe moves both ways between them, because
// a rank between them would drop the newer event of a second: a payment
// intent goes back from requires_action or processing to
// requires_payment_method when an attempt fails (payment_intent.created
// and payment_intent.payment_failed of one declined confirmation can share
// a second), and a subscription moves from active to past_due and back, to
// unpaid and back, to paused and back. Only statuses an object never
// returns to are ranked apart: a payment intent's requires_capture (it
// leaves only for succeeded or canceled), succeeded and canceled; a
// charge's outcome, and a full refund after it; a subscription's
// incomplete (it only ever leaves that status), incomplete_expired
// (terminal, stripe-go's documentation says) and canceled (Stripe never
// reactivates a canceled subscription); an invoice's, which only move
// forward (an uncollectible invoice can still be paid or voided); a
// checkout session's. The order between two final
// statuses that exclude each other (succeeded and canceled, paid and void)
// is fixed only so that the result never depends on arrival: no object
// reaches both. Any other object type, and a status stripe-go v76 does not
// name, rank 0.
//
// Ties: two events of one object in the same second with the same rank
// have equal positions, and both run, in the order they arrive (a tie
// never drops the newer one). Their order is then unknown to anyone but
// Stripe: two customer.subscription.updated in one second (past_due, then
// active again once a retry paid), two partial refunds of a charge, a
// payment intent's failed attempt and its next confirmation in one
// second. There, re-fetching the object from Stripe (stripe-go's
// subscription.Get, paymentintent.Get, charge.Get) is the only sound
// answer: a handler told that its event tied the last applied position
// (dispatch.Tie(ctx) reports it, under dispatch.Ordered) should apply
// what Stripe returns rather than data.object.
//
// An id or status that is not a string (or holds invalid UTF-8), an
// object type that is not a string, or a data.object that is not a JSON
// object is an error wrapping events.ErrUndecodable.
func Ordering(e *events.Event) (object string, pos events.Position, err error) {
	v, err := objectFields.Find(e.Data)
	if err != nil {
		return "", pos, undecodable(e, "data.object", err.Error(), err)
	}
	id, err := v.Text(fieldID)
	switch {
	case errors.Is(err, jsonscan.ErrAbsent):
		return "", pos, nil
	case err != nil:
		return "", pos, undecodable(e, "data.object.id", err.Error(), err)
	case e.Time.IsZero():
		return "", pos, undecodable(e, "created", "absent: the event has no time to order it by", errNoTime)
	}
	rank, err := rankOf(e, &v)
	if err != nil {
		return "", pos, err
	}
	return string(id), events.Position{At: e.Time.Unix(), Rank: rank}, nil
}

// The fields of data.object an Order reads, by index.
const (
	fieldID = iota
	fieldObject
	fieldStatus
	fieldRefunded
)

var objectFields = jsonscan.NewLookup("id", "object", "status", "refunded")

var errNoTime = errors.New("no created time")

// rankOf returns the rank of the object's status in its type's lattice.
func rankOf(e *events.Event, v *jsonscan.Values) (int, error) {
	typ, err := v.Text(fieldObject)
	switch {
	case errors.Is(err, jsonscan.ErrAbsent):
		return 0, nil
	case err != nil:
		return 0, undecodable(e, "data.object.object", err.Error(), err)
	}
	lattice, ok := statusRanks[string(typ)]
	if !ok {
		return 0, nil
	}
	status, err := v.Text(fieldStatus)
	switch {
	case errors.Is(err, jsonscan.ErrAbsent):
		return 0, nil
	case err != nil:
		return 0, undecodable(e, "data.object.status", err.Error(), err)
	}
	rank := lattice[string(status)]
	if rank == chargeSucceeded && string(typ) == "charge" && string(v.Raw(fieldRefunded)) == "true" {
		rank = chargeRefunded
	}
	return rank, nil
}

const (
	chargeSucceeded = 3
	chargeRefunded  = 4
)

// statusRanks holds each object type's lattice: the rank of each status.
var statusRanks = map[string]map[string]int{
	"payment_intent": {
		string(stripe.PaymentIntentStatusRequiresPaymentMethod): 1,
		string(stripe.PaymentIntentStatusRequiresConfirmation):  1,
		string(stripe.PaymentIntentStatusRequiresAction):        1,
		string(stripe.PaymentIntentStatusProcessing):            1,
		string(stripe.PaymentIntentStatusRequiresCapture):       2,
		string(stripe.PaymentIntentStatusCanceled):              3,
		string(stripe.PaymentIntentStatusSucceeded):             4,
	},
	"charge": {
		string(stripe.ChargeStatusPending):   1,
		string(stripe.ChargeStatusFailed):    2,
		string(stripe.ChargeStatusSucceeded): chargeSucceeded,
	},
	"subscription": {
		string(stripe.SubscriptionStatusIncomplete):        1,
		string(stripe.SubscriptionStatusTrialing):          2,
		string(stripe.SubscriptionStatusActive):            2,
		string(stripe.SubscriptionStatusPastDue):           2,
		string(stripe.SubscriptionStatusUnpaid):            2,
		string(stripe.SubscriptionStatusPaused):            2,
		string(stripe.SubscriptionStatusIncompleteExpired): 3,
		string(stripe.SubscriptionStatusCanceled):          4,
	},
	"invoice": {
		string(stripe.InvoiceStatusDraft):         1,
		string(stripe.InvoiceStatusOpen):          2,
		string(stripe.InvoiceStatusUncollectible): 3,
		string(stripe.InvoiceStatusVoid):          4,
		string(stripe.InvoiceStatusPaid):          5,
	},
	"checkout.session": {
		string(stripe.CheckoutSessionStatusOpen):     1,
		string(stripe.CheckoutSessionStatusExpired):  2,
		string(stripe.CheckoutSessionStatusComplete): 3,
	},
}

func undecodable(e *events.Event, field, problem string, err error) error {
	return &events.DecodeError{Source: e.Source, ID: e.ID, Type: e.Type, GoType: "events.Position",
		Field: field, Problem: problem, Err: err}
}
