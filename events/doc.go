// Package events turns a verified webhook body into an [Event] — ID, [Type],
// Source, Time, and the raw payload — and decodes that payload into a typed
// Go value only when a handler asks for it.
//
// # Parsers
//
// A [Parser] reads a delivery:
//
//	type Parser interface {
//		Parse(r *http.Request, body []byte) (*Event, error)
//	}
//
// The provider packages hold ready ones: events/stripeevent,
// events/twilioevent, events/standardevent, events/etailevent and
// events/conversoevent. [JSONParser], configured with the dotted paths of a
// body's ID, type, time and payload ([JSONConfig]), covers most other JSON
// senders. A body that is not an event of its source's shape is an error
// wrapping [ErrMalformedEvent], saying what was missing or wrong; a dispatcher
// answers it 400.
//
// [JSONParser] does not decode the body to find the envelope: one validating
// pass over the bytes records where the ID, type and time are and where the
// payload starts and ends, accepting only documents encoding/json accepts,
// and refusing those that encoding/json would read differently (a key that
// differs from an envelope key only in case). A parse allocates the [Event]
// and one string for ID and type together. Every parser bounds the ID and
// type it returns ([MaxIDBytes], [MaxTypeBytes]; see [Event.Validate]),
// and takes them exactly as signed: an ID or type holding invalid UTF-8 or
// a lone surrogate escape is malformed, never decoded with U+FFFD in their
// place, where two signed IDs would become one key. Every time a parser
// returns is in UTC, within the years 1970 to 9999 and, when sent as text,
// with an offset within RFC 3339's range (Go's time.Parse also takes
// +24:00, which json.Marshal then refuses): a time any encoder and store
// accepts.
//
// # Types: event types with their Go type
//
// Type[T] names an event type and says how its payload decodes:
//
//	var DepositPaid = events.NewType[*stripe.PaymentIntent]("payment_intent.succeeded")
//
//	pi, err := DepositPaid.Decode(e) // a *stripe.PaymentIntent; no any, no cast
//
// The payload is decoded once per event and Type, when first asked for; a
// payload that does not decode into T is a *DecodeError wrapping
// [ErrUndecodable] (retrying cannot fix it, so a dispatcher dead-letters it),
// whose message names the field and the problem but never a payload value.
// Package dispatch registers handlers by [Type], so a handler receives T
// directly. Each provider package declares the Types its senders send and
// lists their names in its Catalog function.
//
// # Ordering
//
// Senders do not keep order, and retry on their own schedules: a Stripe
// subscription's deletion can arrive before the update that preceded it, a
// Twilio "sent" after "delivered". An [Order] says which object an event
// is about and the event's [Position] for that object, a time or version
// (At) and a rank in the object's status lattice (Rank) for events whose
// At is equal or absent. An ordering guard runs an event unless its
// position is strictly older than the last one applied for its object
// ([Position.Compare] < 0), records the new position with the handler's
// writes, and answers an older event as stale without running it. Equal
// positions both run: a tie never drops an event that may be the newer
// one.
//
// Each provider package holds its sender's Order, with the reasons for
// its choices: stripeevent.Ordering, twilioevent.Ordering,
// conversoevent.Ordering and etailevent.Ordering. A host writes its own
// for any other sender; [Order.Of] checks what any Order returns (an
// object a store can keep as a key; an error wrapping [ErrUndecodable]).
// The JSON ones read the object's id and status in one pass of the same
// scanner the parser uses, without decoding the payload.
//
// # Fixtures
//
// Package events/fixture reads and writes recorded deliveries (raw body plus
// headers); the repository's testdata holds one for every type in the
// provider catalogs.
package events
