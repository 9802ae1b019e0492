package dispatch

import (
	"context"
	"net/http"
	"time"
)

// Delivery is one request an Endpoint answered, for an Archive: what came
// in, what it was, and what the sender was told.
type Delivery struct {
	Received time.Time
	Duration time.Duration
	Method   string
	Host     string
	Target   string // the request target: path and query as received
	// Pattern is the http.ServeMux pattern the request matched
	// (http.Request.Pattern), if any: a bounded name for the route.
	Pattern string
	Header  http.Header
	// Body is the raw body; nil if it was not read (over the limit).
	Body []byte
	// Verified reports whether the signature held. Archives are told of
	// deliveries that did not verify only with WithArchiveRejected.
	Verified bool
	// EventSource names the sender: from the start when the Endpoint's
	// parser names it (a Source method, as hookkit's parsers have),
	// otherwise once the body parsed. EventID and EventType are set once
	// the body parsed.
	EventSource, EventID, EventType string
	// Route is the pattern of the handler the event was routed to
	// ("payment_intent.*", "*"); empty when none was.
	Route  string
	Status int
	// Outcome is how the delivery ended.
	Outcome Outcome
	// Err is the error behind a non-2xx status or a dead letter.
	Err error
	// SenderGone reports that the sender had hung up (the request's
	// context had ended) before it was answered: Status is what it would
	// have been told, and never received. Its retry, if it sends one,
	// finds what this delivery did (a processed event is a duplicate).
	SenderGone bool
	// Timings break Duration down by step; they are measured only when
	// observers are installed (Router.Observe).
	Timings Timings

	// run guards Acceptance.Run (runIdle, runBusy, runWaited, runClosed),
	// with sync/atomic: an Acceptor may not run the handler once Accept has
	// returned, when observers and archives read the delivery.
	run int32
	// read is what Acceptance.Position read for the delivery's event,
	// which Acceptance.Run hands to its Ordered handler: the Order runs
	// once per delivery.
	read readPosition
}

const (
	runIdle   int32 = iota
	runBusy         // a run is under way
	runWaited       // a run is under way, and closeAcceptance waits for it
	runClosed       // Accept has returned: no more runs
)

// Archive is told of every delivery whose signature verified (and, with
// WithArchiveRejected, of the others), after the sender has been answered: for debugging and auditing ("what exactly did Stripe send
// us at 03:12?"). Archive must not keep d.Body or d.Header beyond the call
// without copying, and should be quick; it cannot fail the delivery.
type Archive interface {
	Archive(ctx context.Context, d *Delivery)
}
