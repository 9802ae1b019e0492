package riverqueue

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

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
	// Body is the raw body as verified (stored as storedArgs says). The
	// payload (Event.Data) is Body[DataStart:DataEnd] when it lies in
	// Body, as the JSON parsers' does, or Data.
	Body      []byte `json:"body"`
	DataStart int    `json:"data_start,omitempty"`
	DataEnd   int    `json:"data_end,omitempty"`
	Data      []byte `json:"data,omitempty"`

	// base64 stores Body base64-encoded even when it is text, as every
	// job was stored before BodyEncoding "text" (BenchmarkJobArgs).
	base64 bool
}

// storedArgs is jobArgs as the database holds it. A body that is text —
// valid UTF-8 without a NUL, as every body the senders document is (JSON,
// a form) — is stored as it arrived, a JSON string of exactly its bytes,
// with BodyEncoding "text": no base64 to encode and decode, and a third
// less to write. Any other body is base64 (encoding/json's []byte), with
// no BodyEncoding, as every job queued before this encoding existed is:
// those are read as they were. A JSON body is not stored as a JSON value:
// PostgreSQL's jsonb would reorder its keys and drop its white space and
// duplicate keys, and the handler's Event.Body would no longer be the bytes
// whose signature was verified (nor Data where DataStart says). A version
// that predates "text" fails to decode such a job (its body is not
// base64), so River retries it until a version that reads it runs it.
//
// It is also what a batch inserts (insertable): a plain struct, with no
// MarshalJSON, that River's encoding (json.Marshal) encodes field by field
// once. Through jobArgs' MarshalJSON, encoding/json would scan and copy
// the encoding made beforehand again (it compacts whatever a MarshalJSON
// returns): for a 2 KiB body, the largest cost of a batch's encoding.
type storedArgs struct {
	Key          string      `json:"key" river:"unique"`
	Source       string      `json:"source"`
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Time         *time.Time  `json:"time,omitempty"`
	Header       http.Header `json:"header,omitempty"`
	Body         string      `json:"body"`
	BodyEncoding string      `json:"body_encoding,omitempty"`
	DataStart    int         `json:"data_start,omitempty"`
	DataEnd      int         `json:"data_end,omitempty"`
	Data         []byte      `json:"data,omitempty"`
}

// bodyText is storedArgs.BodyEncoding for a body stored as it arrived.
const bodyText = "text"

// Kind implements river.JobArgs.
func (jobArgs) Kind() string { return Kind }

// Kind implements river.JobArgs: a batch inserts storedArgs, and the
// worker reads them as jobArgs, of the same kind.
func (storedArgs) Kind() string { return Kind }

// MarshalJSON encodes a as the database holds it.
func (a jobArgs) MarshalJSON() ([]byte, error) { return json.Marshal(a.stored()) }

// stored is a as the database holds it.
func (a jobArgs) stored() storedArgs {
	s := storedArgs{Key: a.Key, Source: a.Source, ID: a.ID, Type: a.Type, Time: a.Time, Header: a.Header,
		DataStart: a.DataStart, DataEnd: a.DataEnd, Data: a.Data}
	if !a.base64 && isText(a.Body) {
		s.Body, s.BodyEncoding = string(a.Body), bodyText
	} else {
		s.Body = base64.StdEncoding.EncodeToString(a.Body)
	}
	return s
}

// isText reports whether body can be stored as a JSON string of exactly its
// bytes that jsonb accepts: valid UTF-8 (encoding/json would replace what
// is not), without a NUL (jsonb refuses \u0000).
func isText(body []byte) bool { return bytes.IndexByte(body, 0) < 0 && utf8.Valid(body) }

// UnmarshalJSON reads the args as stored, in either encoding of the body.
func (a *jobArgs) UnmarshalJSON(data []byte) error {
	var s storedArgs
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	*a = jobArgs{Key: s.Key, Source: s.Source, ID: s.ID, Type: s.Type, Time: s.Time, Header: s.Header,
		DataStart: s.DataStart, DataEnd: s.DataEnd, Data: s.Data}
	switch s.BodyEncoding {
	case bodyText:
		a.Body = []byte(s.Body)
	case "":
		body, err := base64.StdEncoding.DecodeString(s.Body)
		if err != nil {
			return fmt.Errorf("riverqueue: job %s: body: %w", s.Key, err)
		}
		a.Body = body
	default:
		return fmt.Errorf("riverqueue: job %s: body encoding %q is not one this version reads", s.Key, s.BodyEncoding)
	}
	return nil
}

// insertable returns a as a batch inserts it (its stored form), or says
// why it cannot be stored: an error wrapping events.ErrMalformedEvent,
// since no retry of the same delivery can change it. A time that JSON
// cannot hold (a year past 9999, an offset of 24 hours, which time.Parse
// accepts) fails River's encoding, the args' only field whose encoding
// can fail; a NUL in a string encodes, but PostgreSQL's jsonb refuses it.
// Checked here, each delivery's fault stays its own, instead of failing
// the batch it would have joined.
func (a jobArgs) insertable() (storedArgs, error) {
	err := nulFree(&a)
	if err == nil && a.Time != nil {
		_, err = a.Time.MarshalJSON()
	}
	if err != nil {
		return storedArgs{}, fmt.Errorf("riverqueue: %s event %s cannot be stored: %w: %w", a.Source, a.ID, err, events.ErrMalformedEvent)
	}
	return a.stored(), nil
}

// asBase64 returns s with its body base64-encoded, if it was stored as
// text; false if it already was base64.
func (s storedArgs) asBase64() (storedArgs, bool) {
	if s.BodyEncoding != bodyText {
		return s, false
	}
	s.Body, s.BodyEncoding = base64.StdEncoding.EncodeToString([]byte(s.Body)), ""
	return s, true
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
