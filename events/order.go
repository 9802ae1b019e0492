package events

import (
	"cmp"
	"errors"
	"strconv"
)

// Position is where an event stands in the life of the object it is about:
// a later position is a later state of the object. Senders do not keep
// order (Stripe, Twilio and GoConverso all say so), so a host that applies
// events as they arrive can end in an older state than the sender's; an
// ordering guard compares each event's Position with the last one applied
// for its object instead.
type Position struct {
	// At is a time or a version, larger when newer: Stripe's created in
	// seconds, GoConverso's timestamp in milliseconds, Twilio's
	// SequenceNumber. Zero when the sender gives none.
	At int64
	// Rank is the event's status in its object's lifecycle, larger when
	// later (a delivered message ranks above a sent one). It orders events
	// whose At is equal or absent: two events in one second, or Twilio's
	// message callbacks, which carry no time at all.
	Rank int
}

// Compare returns -1 if p is older than q, +1 if newer and 0 if equal:
// At first, then Rank.
//
// The guard's rule, which every Order is written for: an event runs unless
// its position is strictly older than the last one applied for its object
// (p.Compare(last) < 0: it is stale, acknowledged and never run), and the
// position it ran at is recorded with the handler's writes. Equal
// positions both run, in the order they arrive: a tie must never drop an
// event that may be the newer one. Where a tie can hide a real change (two
// updates of one object in the same second, with the same status), the
// position cannot tell which came last; the sound answer is to read the
// object from its sender.
func (p Position) Compare(q Position) int {
	if c := cmp.Compare(p.At, q.At); c != 0 {
		return c
	}
	return cmp.Compare(p.Rank, q.Rank)
}

// Order says which object an event is about and the event's Position for
// that object. It is a pure function of the event (no I/O): an ordering
// guard calls it, through Of, for every event of the types it guards.
//
// object names the object within its Source (the guard keys positions by
// Source and object), such as a Stripe payment intent's "pi_..." or a
// Twilio message's "message:SM...". An empty object means the event is
// about no ordered object: it is not guarded and moves no position. An
// error means the payload cannot give its object or position: it wraps
// ErrUndecodable (retrying cannot fix a signed payload), and its text
// names the field and never quotes a value, since it reaches logs and
// dead letters.
//
// The provider packages hold each sender's Order with its reasons
// (stripeevent.Ordering, twilioevent.Ordering, conversoevent.Ordering,
// etailevent.Ordering); a host writes its own for any other sender.
type Order func(e *Event) (object string, pos Position, err error)

// Of returns o(e), checked as a guard needs it: an object must be valid
// UTF-8 without control characters and at most MaxIDBytes long (it
// becomes a key in a store, as an event ID does), and an error that does
// not wrap ErrUndecodable is wrapped in a *DecodeError that does. A nil
// Order orders nothing: Of returns an empty object.
func (o Order) Of(e *Event) (object string, pos Position, err error) {
	if o == nil {
		return "", Position{}, nil
	}
	object, pos, err = o(e)
	switch {
	case err != nil:
		if !errors.Is(err, ErrUndecodable) {
			err = newDecodeError(e, positionType, err)
		}
		return "", Position{}, err
	case object == "":
		return "", Position{}, nil
	case len(object) > MaxIDBytes:
		return "", Position{}, &DecodeError{Source: e.Source, ID: e.ID, Type: e.Type, GoType: positionType,
			Problem: "the object key is " + strconv.Itoa(len(object)) + " bytes, limit " + strconv.Itoa(MaxIDBytes), Err: errObject}
	case !storable(object):
		return "", Position{}, &DecodeError{Source: e.Source, ID: e.ID, Type: e.Type, GoType: positionType,
			Problem: "the object key holds a control character or invalid UTF-8", Err: errObject}
	}
	return object, pos, nil
}

// positionType is what an Order's errors say the payload was decoded into.
const positionType = "events.Position"

var errObject = errors.New("events: object key not storable")
