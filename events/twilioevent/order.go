package twilioevent

import (
	"errors"
	"net/url"
	"strconv"

	"github.com/hookkit/hookkit/events"
)

// Ordering is the default ordering of Twilio's status callbacks (see
// events.Order): which message or call a callback is about, and where its
// status stands in that message's or call's life. Twilio sends each status
// change as its own request and does not promise they arrive in order; a
// "sent" that arrives after "delivered" must not put the message back to
// sent.
//
// Messages: the object is "message:" + MessageSid. Message callbacks carry
// no time, so the position is the status's rank alone (At is 0), in the
// order a message moves through the statuses Twilio documents:
//
//	accepted < scheduled < queued < sending < sent < delivered < read
//	                                        < canceled < failed < undelivered
//
// failed, undelivered and canceled are final: nothing after them applies,
// so they rank above every other status and the final state is the same
// whatever the arrival order. A message reaches one of them at most, but
// if two were ever reported the order between them follows the pipeline:
// canceled (a scheduled message withdrawn before it was queued), failed
// (Twilio could not send it), undelivered (the carrier's receipt, the last
// word on a message Twilio sent). A delivered or read message that is
// later reported failed or undelivered ends failed or undelivered.
//
// Calls: the object is "call:" + CallSid. A call's callbacks carry
// SequenceNumber, which Twilio documents as the order in which the events
// fired, starting from 0 (their Timestamp has whole seconds, and several
// callbacks of one call often share a second): At is SequenceNumber. The
// status's rank orders two callbacks with the same SequenceNumber, or
// callbacks without one (At 0, before every numbered callback of their
// call: Twilio numbers the progress callbacks a host subscribes to, and
// without a subscription sends only the final one, so the callbacks of
// one call are either all numbered or alone):
//
//	queued < initiated < ringing < in-progress
//	       < canceled < no-answer < busy < failed < completed
//
// A call ends in exactly one of the five terminal statuses, which rank
// above the others; completed, the only one that follows an answered
// call, ranks highest, and the fixed order of the rest decides only
// between two terminal callbacks claiming one SequenceNumber, which
// Twilio does not send.
//
// A status Twilio adds later, or one this list does not name, ranks 0,
// below every known status: it never hides a known one, and one that
// arrives after a known status of its object is stale. A callback with
// neither MessageSid nor CallSid, or a SequenceNumber that is not a whole
// number, is an error wrapping events.ErrUndecodable.
func Ordering(e *events.Event) (object string, pos events.Position, err error) {
	form, err := url.ParseQuery(string(e.Data))
	if err != nil {
		return "", pos, undecodable(e, "", "the body is not a form", err)
	}
	if sid := form.Get("MessageSid"); sid != "" {
		status := form.Get("MessageStatus")
		if status == "" {
			status = form.Get("SmsStatus")
		}
		return "message:" + sid, events.Position{Rank: messageRank[status]}, nil
	}
	sid := form.Get("CallSid")
	if sid == "" {
		return "", pos, undecodable(e, "MessageSid", "neither MessageSid nor CallSid: the callback names no message or call", errNoSid)
	}
	pos.Rank = callRank[form.Get("CallStatus")]
	if v := form.Get("SequenceNumber"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return "", events.Position{}, undecodable(e, "SequenceNumber", "not a whole number", errSequence)
		}
		pos.At = n
	}
	return "call:" + sid, pos, nil
}

var (
	errNoSid    = errors.New("no SID")
	errSequence = errors.New("malformed SequenceNumber")
)

func undecodable(e *events.Event, field, problem string, err error) error {
	return &events.DecodeError{Source: e.Source, ID: e.ID, Type: e.Type, GoType: "events.Position",
		Field: field, Problem: problem, Err: err}
}

// The ranks of message statuses (Twilio's Message resource lists them).
var messageRank = map[string]int{
	"accepted":    1,
	"scheduled":   2,
	"queued":      3,
	"sending":     4,
	"sent":        5,
	"delivered":   6,
	"read":        7,
	"canceled":    8,
	"failed":      9,
	"undelivered": 10,
}

// The ranks of call statuses (Twilio's Call resource lists them).
var callRank = map[string]int{
	"queued":      1,
	"initiated":   2,
	"ringing":     3,
	"in-progress": 4,
	"canceled":    5,
	"no-answer":   6,
	"busy":        7,
	"failed":      8,
	"completed":   9,
}
