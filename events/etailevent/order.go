package etailevent

import (
	"errors"
	"strings"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/internal/jsonscan"
)

// Ordering is the default ordering of Etail Depot events (see events.Order),
// the same shape as Stripe's: the object is data.object.id (Etail Depot's
// ids carry their kind, as pay_ and cust_ in its documented example; an
// event whose object has no id is not guarded), and the position's At is
// the event's created, in seconds.
//
// Rank orders two events of one object in the same second by the
// object's status (data.object.status), for the two kinds of object whose
// statuses Etail Depot names:
//
//	payment  failed < succeeded < refunded
//	order    created < fulfilled < cancelled
//
// Etail Depot documents these statuses but not their transitions, so the
// order is the one every payment and order flow has: a failed payment may
// be retried and succeed, a succeeded one is never reported failed
// afterwards, and a refund follows the payment it returns; an order is
// created, then fulfilled, and may be cancelled after fulfilment (a
// return), never fulfilled after a cancellation. The kind is the event
// type's prefix (payment., order.). Other kinds (account, card,
// transaction), and a status not listed, rank 0: two of their events in
// one second both run, in the order they arrive.
//
// An id or status that is not a string (or holds invalid UTF-8), or a
// data.object that is not a JSON object, is an error wrapping
// events.ErrUndecodable.
func Ordering(e *events.Event) (object string, pos events.Position, err error) {
	v, err := objectFields.Find(e.Data)
	if err != nil {
		return "", pos, undecodable(e, "data.object", err.Error(), err)
	}
	id, err := v.Text(0)
	switch {
	case errors.Is(err, jsonscan.ErrAbsent):
		return "", pos, nil
	case err != nil:
		return "", pos, undecodable(e, "data.object.id", err.Error(), err)
	case e.Time.IsZero():
		return "", pos, undecodable(e, "created", "absent: the event has no time to order it by", errNoTime)
	}
	kind, _, _ := strings.Cut(e.Type, ".")
	if lattice, ok := statusRanks[kind]; ok {
		status, err := v.Text(1)
		switch {
		case err == nil:
			pos.Rank = lattice[string(status)]
		case !errors.Is(err, jsonscan.ErrAbsent):
			return "", pos, undecodable(e, "data.object.status", err.Error(), err)
		}
	}
	pos.At = e.Time.Unix()
	return string(id), pos, nil
}

var objectFields = jsonscan.NewLookup("id", "status")

var errNoTime = errors.New("no created time")

var statusRanks = map[string]map[string]int{
	"payment": {"failed": 1, "succeeded": 2, "refunded": 3},
	"order":   {"created": 1, "fulfilled": 2, "cancelled": 3},
}

func undecodable(e *events.Event, field, problem string, err error) error {
	return &events.DecodeError{Source: e.Source, ID: e.ID, Type: e.Type, GoType: "events.Position",
		Field: field, Problem: problem, Err: err}
}
