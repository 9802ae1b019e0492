package riverqueue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookkit/hookkit/dispatch/riverqueue/internal/headers"
	"github.com/hookkit/hookkit/events"
)

// Kind is the River job kind of a queued webhook event.
const Kind = "hookkit.webhook"

var errNUL = errors.New("a NUL character, which PostgreSQL's jsonb cannot store")

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

	// encoded is the args' JSON, made and checked before the job joins a
	// batch (storable); River's own encoding then returns it.
	encoded []byte
}

// Kind implements river.JobArgs.
func (jobArgs) Kind() string { return Kind }

// MarshalJSON returns the encoding storable made, or encodes a.
func (a jobArgs) MarshalJSON() ([]byte, error) {
	if a.encoded != nil {
		return a.encoded, nil
	}
	type plain jobArgs // without this method
	return json.Marshal(plain(a))
}

// storable encodes a as the database will store it, or says why it
// cannot be: an error wrapping events.ErrMalformedEvent, since no retry of
// the same delivery can change it. A time that JSON cannot hold (a year
// past 9999, an offset of 24 hours, which time.Parse accepts) fails the
// encoding; a NUL in a string encodes, but PostgreSQL's jsonb refuses it.
// Checked here, each delivery's fault stays its own, instead of failing
// the batch it would have joined.
func (a *jobArgs) storable() error {
	encoded, err := json.Marshal(a)
	if err == nil {
		err = nulFree(a)
	}
	if err != nil {
		return fmt.Errorf("riverqueue: %s event %s cannot be stored: %w: %w", a.Source, a.ID, err, events.ErrMalformedEvent)
	}
	a.encoded = encoded
	return nil
}

// nulFree reports a NUL in the args' strings, which jsonb cannot hold.
func nulFree(a *jobArgs) error {
	for _, s := range []string{a.Key, a.Source, a.ID, a.Type} {
		if strings.IndexByte(s, 0) >= 0 {
			return errNUL
		}
	}
	for name, values := range a.Header {
		if strings.IndexByte(name, 0) >= 0 {
			return errNUL
		}
		for _, v := range values {
			if strings.IndexByte(v, 0) >= 0 {
				return errNUL
			}
		}
	}
	return nil
}

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
