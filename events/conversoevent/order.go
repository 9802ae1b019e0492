package conversoevent

import (
	"errors"
	"strings"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/internal/jsonscan"
)

// Ordering is the default ordering of GoConverso's booking events (see
// events.Order), for events of either parser. GoConverso retries a
// delivery after 1 min, 5 min, 30 min, 2 h and 24 h and does not keep
// order, so a booking.confirmed can arrive before its booking.created, and
// a retried booking.rescheduled after the booking.cancelled that followed
// it.
//
// The object is the booking_id of the event's data. The position's At is
// the event's timestamp in milliseconds (Event.Time): every GoConverso
// event carries the time it happened, to the millisecond
// ("2026-02-01T14:30:00.000Z" in its documented example), so the
// timestamp is the order of a booking's changes. Rank orders two events of one booking in
// the same millisecond, by the booking's life as GoConverso names it:
//
//	booking.created < booking.confirmed < booking.rescheduled < booking.cancelled
//
// Every other event is about an existing booking, so created comes first;
// a booking is confirmed before its time is changed; no event GoConverso
// names changes a cancelled booking, so cancelled comes last. Another booking.*
// event ranks 0 at its timestamp.
//
// booking.reminder is not ordered (its object is empty): a reminder does
// not change the booking, and ordering it would let a reminder that
// arrives before a delayed booking.rescheduled of an earlier millisecond
// make that reschedule stale, losing the booking's new time. A reminder's
// handler reads the booking's state from the host's own records (and
// sends nothing for a cancelled booking). Events that are not booking.*
// events are not ordered either.
//
// A booking event without a booking_id string, or without a timestamp, is
// an error wrapping events.ErrUndecodable.
func Ordering(e *events.Event) (object string, pos events.Position, err error) {
	if !strings.HasPrefix(e.Type, "booking.") || e.Type == BookingReminder.Name() {
		return "", pos, nil
	}
	v, err := bookingFields.Find(e.Data)
	if err != nil {
		return "", pos, undecodable(e, "data", err.Error(), err)
	}
	id, err := v.Text(0)
	if err != nil {
		return "", pos, undecodable(e, "booking_id", err.Error(), err)
	}
	if e.Time.IsZero() {
		return "", pos, undecodable(e, "timestamp", "absent: the event has no time to order it by", errNoTime)
	}
	return string(id), events.Position{At: e.Time.UnixMilli(), Rank: bookingRank[e.Type]}, nil
}

var bookingFields = jsonscan.NewLookup("booking_id")

var errNoTime = errors.New("no timestamp")

// The ranks of the booking events within one millisecond.
var bookingRank = map[string]int{
	BookingCreated.Name():     1,
	BookingConfirmed.Name():   2,
	BookingRescheduled.Name(): 3,
	BookingCancelled.Name():   4,
}

func undecodable(e *events.Event, field, problem string, err error) error {
	return &events.DecodeError{Source: e.Source, ID: e.ID, Type: e.Type, GoType: "events.Position",
		Field: field, Problem: problem, Err: err}
}
