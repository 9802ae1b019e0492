// Package stripeevent parses Stripe webhook events and names the ones a
// payments backend handles as Types decoding into stripe-go v76 types.
//
// Verification (package verify) and decoding are separate: the parser reads
// the envelope (id, type, created, the span of data.object) whatever the
// event's api_version, and a handler's Type decodes data.object into,
// say, a *stripe.PaymentIntent only when the handler runs. An api_version
// newer or older than stripe-go's therefore never blocks a delivery, as it
// does with webhook.ConstructEvent; fields stripe-go does not know are
// ignored, as encoding/json ignores them.
//
// Ordering positions an event for an ordering guard: its object
// (data.object.id), its created second, and its status's rank where the
// object type's statuses have an order that never goes back. It says where
// two events of one second cannot be ordered from the events alone, and
// re-fetching the object from Stripe is the only sound answer.
package stripeevent
