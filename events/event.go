package events

import (
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookkit/hookkit/internal/configerr"
)

// Bounds on what a parser may take from a delivery. An event's ID becomes
// an idempotency key kept for days and its type a log field and a metric
// label, so neither may be as large as a hostile request can make them.
// Real IDs are far shorter (Stripe's evt_ IDs are 28 bytes, Svix's msg_
// IDs 31, UUIDs 36).
const (
	MaxIDBytes   = 256
	MaxTypeBytes = 256
)

// Event is one webhook delivery, parsed: what it is (ID, Type, Source,
// Time) and its bytes (Data, Body, Header), with the payload left raw until
// a handler asks for it as a typed value (see Type).
type Event struct {
	// ID identifies the event at its source, stable across the sender's
	// retries; with Source it is the deduplication key.
	ID string
	// Type is the event's name at its source, such as
	// "payment_intent.succeeded" or "message.delivered".
	Type string
	// Source names the sender ("stripe", "twilio", ...).
	Source string
	// Time is when the source says the event happened, in UTC (zero when
	// it does not say, as in Twilio's SMS status callbacks).
	Time time.Time
	// Data is the raw event object (Stripe's data.object, a form body for
	// Twilio), a slice of Body.
	Data []byte
	// Body is the whole raw body as received and verified.
	Body []byte
	// Header is the delivery's request header (shared, not copied).
	Header http.Header

	// The payload decoded by the last Type.Decode, so that it is decoded
	// once however many handlers ask for it.
	memoKey any
	memo    any
	memoErr error
	// jsonData is Data as a JSONParser validated it: while Data is still
	// that slice, Type's decode need not have encoding/json validate it
	// again.
	jsonData []byte
}

// dataValidated reports whether e.Data is the JSON a JSONParser validated.
func (e *Event) dataValidated() bool {
	return len(e.Data) > 0 && len(e.Data) == len(e.jsonData) && &e.Data[0] == &e.jsonData[0]
}

// Validate checks what every parser guarantees of an Event: a non-empty ID
// and type within MaxIDBytes and MaxTypeBytes, each valid UTF-8 without
// control characters (a NUL, which PostgreSQL's text cannot hold, or the C1
// controls some log readers obey). Without that check a signed
// "evt\u0000x" fails every store's insert, and its sender is answered 503
// and retries for days; with it, it is a 400. An error wraps
// ErrMalformedEvent and names the field, never its value.
func (e *Event) Validate() error {
	switch {
	case !storable(e.ID):
		return fmt.Errorf("%s: event ID holds a control character or invalid UTF-8: %w", e.Source, ErrMalformedEvent)
	case !storable(e.Type):
		return fmt.Errorf("%s: event type holds a control character or invalid UTF-8: %w", e.Source, ErrMalformedEvent)
	case e.ID == "":
		return fmt.Errorf("%s: empty event ID: %w", e.Source, ErrMalformedEvent)
	case len(e.ID) > MaxIDBytes:
		return fmt.Errorf("%s: event ID is %d bytes, limit %d: %w", e.Source, len(e.ID), MaxIDBytes, ErrMalformedEvent)
	case e.Type == "":
		return fmt.Errorf("%s: empty event type: %w", e.Source, ErrMalformedEvent)
	case len(e.Type) > MaxTypeBytes:
		return fmt.Errorf("%s: event type is %d bytes, limit %d: %w", e.Source, len(e.Type), MaxTypeBytes, ErrMalformedEvent)
	}
	return nil
}

// storable reports whether s is valid UTF-8 without control characters.
func storable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		} else if c >= utf8.RuneSelf {
			return storableRunes(s[i:])
		}
	}
	return true
}

func storableRunes(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// Key returns Source + ":" + ID, the key under which deliveries of this
// event are deduplicated.
func (e *Event) Key() string { return e.Source + ":" + e.ID }

// Parser turns a verified delivery into an Event.
type Parser interface {
	// Parse reads r's headers and body, the raw bytes as received. A body
	// that does not parse is an error wrapping ErrMalformedEvent that says
	// what was missing or wrong.
	Parse(r *http.Request, body []byte) (*Event, error)
}

// ParserFunc adapts a function to the Parser interface.
type ParserFunc func(r *http.Request, body []byte) (*Event, error)

// Parse calls f(r, body).
func (f ParserFunc) Parse(r *http.Request, body []byte) (*Event, error) { return f(r, body) }

var (
	// ErrMalformedEvent means a body is not an event of its source's shape:
	// not JSON (or not a form), or without an ID or type. The sender
	// should not retry it; it is answered 400.
	ErrMalformedEvent = errors.New("events: malformed event")
	// ErrUndecodable means an event's payload does not decode into the
	// Go type of its Type. Retrying cannot fix it; the dispatcher
	// dead-letters the event and answers 200.
	ErrUndecodable = errors.New("events: payload does not decode")
	// ErrInvalidConfig is wrapped by the error of a parser configuration
	// that cannot work (NewJSONParserSafely's); it is the one sentinel every
	// hookkit constructor wraps, verify.ErrInvalidConfig and
	// dispatch.ErrInvalidConfig included.
	ErrInvalidConfig = configerr.ErrInvalidConfig
)
