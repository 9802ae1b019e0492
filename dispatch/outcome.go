package dispatch

import (
	"fmt"
	"net/http"
)

// Outcome is how a delivery, or one attempt at running its handler, ended.
// Every way is one of these constants; an Outcome says what the sender is
// told (Status) and why (Reason), and names the delivery in logs, metrics
// and archives (String).
type Outcome uint8

// The outcomes of a delivery. Attempts end OutcomeProcessed, OutcomeFailed,
// OutcomeDeadLettered, OutcomeStale or OutcomeKept.
const (
	// OutcomeProcessed: the handler succeeded. 200.
	OutcomeProcessed Outcome = iota + 1
	// OutcomeQueued: the event is in a durable queue; workers will run its
	// handler. 200.
	OutcomeQueued
	// OutcomeDuplicate: the event was processed already. 200.
	OutcomeDuplicate
	// OutcomeUnknownType: no handler for the event's type, not even "*";
	// acknowledged and logged. 200.
	OutcomeUnknownType
	// OutcomeDeadLettered: the handler failed permanently, or the payload
	// does not decode into its Type; the event is stored as a dead letter.
	// 200.
	OutcomeDeadLettered
	// OutcomeBusy: another delivery of the event is being processed. 409.
	OutcomeBusy
	// OutcomeFailed: the handler failed, panicked or timed out; the
	// sender's retry runs it again. 500.
	OutcomeFailed
	// OutcomeUnavailable: the idempotency store, the database or the queue
	// could not answer, or the Endpoint is shutting down. 503, with
	// Retry-After.
	OutcomeUnavailable
	// OutcomeRejectedSignature: the signature is missing, wrong or stale.
	// 400 (403 for Twilio).
	OutcomeRejectedSignature
	// OutcomeMalformed: the body is not an event of its sender's shape, or
	// could not be read. 400.
	OutcomeMalformed
	// OutcomeTooLarge: the body is over the limit. 413.
	OutcomeTooLarge
	// OutcomeReadTimeout: the body did not arrive within the read timeout.
	// 408.
	OutcomeReadTimeout
	// OutcomeMethodNotAllowed: not a POST. 405.
	OutcomeMethodNotAllowed
	// OutcomeRecovered: an event its sender never delivered, recovered from
	// the sender's own API (Endpoint.Recover, package dispatch/reconcile),
	// was accepted: its handler ran, or its job is queued. No sender waits
	// for it; its status is 200.
	OutcomeRecovered
	// OutcomeStale: the event is older than the last one applied for its
	// object (see Ordered); acknowledged and logged, never run. 200.
	OutcomeStale
	// OutcomeKept: the handler said its object is not here yet (ErrNotYet);
	// the event is kept durably and runs again when its object advances.
	// 200.
	OutcomeKept

	outcomeEnd
)

var outcomeText = [outcomeEnd]struct {
	name   string
	status int
	reason string // what the sender reads; never an internal error
}{
	OutcomeProcessed:         {"processed", http.StatusOK, ""},
	OutcomeQueued:            {"queued", http.StatusOK, ""},
	OutcomeDuplicate:         {"duplicate", http.StatusOK, ""},
	OutcomeUnknownType:       {"unknown-type", http.StatusOK, ""},
	OutcomeDeadLettered:      {"dead-lettered", http.StatusOK, ""},
	OutcomeBusy:              {"busy", http.StatusConflict, "event in progress"},
	OutcomeFailed:            {"failed", http.StatusInternalServerError, "processing failed"},
	OutcomeUnavailable:       {"unavailable", http.StatusServiceUnavailable, "temporarily unavailable"},
	OutcomeRejectedSignature: {"rejected-signature", http.StatusBadRequest, "invalid signature"},
	OutcomeMalformed:         {"malformed", http.StatusBadRequest, "malformed event"},
	OutcomeTooLarge:          {"too-large", http.StatusRequestEntityTooLarge, "body too large"},
	OutcomeReadTimeout:       {"read-timeout", http.StatusRequestTimeout, "body not received in time"},
	OutcomeMethodNotAllowed:  {"method-not-allowed", http.StatusMethodNotAllowed, "method not allowed"},
	OutcomeRecovered:         {"recovered", http.StatusOK, ""},
	OutcomeStale:             {"stale", http.StatusOK, ""},
	OutcomeKept:              {"kept", http.StatusOK, ""},
}

// Outcomes returns every Outcome, in order.
func Outcomes() []Outcome {
	all := make([]Outcome, 0, outcomeEnd-1)
	for o := OutcomeProcessed; o < outcomeEnd; o++ {
		all = append(all, o)
	}
	return all
}

func (o Outcome) valid() bool { return o > 0 && o < outcomeEnd }

// String returns the outcome's name: "processed", "dead-lettered", ...
func (o Outcome) String() string {
	if !o.valid() {
		return fmt.Sprintf("Outcome(%d)", uint8(o))
	}
	return outcomeText[o].name
}

// Status returns the HTTP status the sender is told: 200 for what it must
// not send again, 409 and 5xx for what it must retry, 4xx for what a retry
// cannot fix. A rejected signature says 400 here; the Endpoint answers a
// rejected Twilio signature 403, as Twilio asks (verify.StatusCode).
func (o Outcome) Status() int {
	if !o.valid() {
		return http.StatusInternalServerError
	}
	return outcomeText[o].status
}

// Reason is the short text the sender reads in {"error": ...}; empty for
// the outcomes answered 200. It never holds an internal error.
func (o Outcome) Reason() string {
	if !o.valid() {
		return "processing failed"
	}
	return outcomeText[o].reason
}
