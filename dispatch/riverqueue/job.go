package riverqueue

import (
	"bytes"
	"net/http"
	"time"

	"github.com/hookkit/hookkit/dispatch/internal/headers"
	"github.com/hookkit/hookkit/events"
)

// Kind is the River job kind of a queued webhook event.
const Kind = "hookkit.webhook"

// jobArgs is a verified, parsed event as a River job carries it. Only Key
// makes a job unique: two deliveries of one event are one job.
type jobArgs struct {
	Key    string      `json:"key" river:"unique"`
	Source string      `json:"source"`
	ID     string      `json:"id"`
	Type   string      `json:"type"`
	Time   *time.Time  `json:"time,omitempty"`
	Header http.Header `json:"header,omitempty"`
	// Body is the raw body as verified. The payload (Event.Data) is
	// Body[DataStart:DataEnd] when it lies in Body, as the JSON parsers'
	// does, or Data.
	Body      []byte `json:"body"`
	DataStart int    `json:"data_start,omitempty"`
	DataEnd   int    `json:"data_end,omitempty"`
	Data      []byte `json:"data,omitempty"`
}

// Kind implements river.JobArgs.
func (jobArgs) Kind() string { return Kind }

func argsOf(e *events.Event) jobArgs {
	a := jobArgs{Key: e.Key(), Source: e.Source, ID: e.ID, Type: e.Type, Header: headers.Kept(e.Header), Body: e.Body}
	if !e.Time.IsZero() {
		t := e.Time
		a.Time = &t
	}
	switch i := bytes.Index(e.Body, e.Data); {
	case len(e.Data) == 0:
	case i >= 0:
		a.DataStart, a.DataEnd = i, i+len(e.Data)
	default:
		a.Data = e.Data
	}
	return a
}

func (a jobArgs) event() *events.Event {
	e := &events.Event{Source: a.Source, ID: a.ID, Type: a.Type, Header: a.Header, Body: a.Body, Data: a.Data}
	if a.Time != nil {
		e.Time = *a.Time
	}
	if a.Data == nil && a.DataEnd > a.DataStart && a.DataEnd <= len(a.Body) {
		e.Data = a.Body[a.DataStart:a.DataEnd]
	}
	return e
}
