package twilioevent

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/internal/catalog"
	"github.com/hookkit/hookkit/events/internal/eventtime"
)

// Source is the Source of every Twilio event.
const Source = "twilio"

// Parser parses Twilio status callbacks, posted as forms.
//
//   - A callback with MessageSid and MessageStatus (SMS, MMS, WhatsApp) has
//     Type "message." + MessageStatus: message.queued, message.sent,
//     message.delivered, message.undelivered, message.failed, ...
//   - One with CallSid and CallStatus has Type "call." + CallStatus:
//     call.completed, call.busy, call.no-answer, call.failed,
//     call.canceled, ...
//   - ID is the SID and the status joined by a colon ("SM123:delivered"):
//     the same on every retry of one callback, distinct for each status
//     change of a message or call, and taken only from the signed form.
//     Twilio's I-Twilio-Idempotency-Token header is deliberately not used:
//     Twilio does not sign it and its signatures carry no timestamp, so a
//     captured callback re-sent with a fresh token would otherwise get a
//     new key and run its handler again.
//   - Time is the callback's Timestamp parameter when it has one (voice),
//     in UTC, otherwise zero. A Timestamp whose zone is outside RFC 3339's
//     range (Go's parser takes "+2400", which no encoder writes back) is
//     malformed.
//   - Data is the form body itself; its Types decode it.
//
// A Parser is safe for concurrent use.
type Parser struct{}

// NewParser returns a Parser.
func NewParser() *Parser { return &Parser{} }

func malformed(format string, args ...any) error {
	return fmt.Errorf("twilio: %s: %w", fmt.Sprintf(format, args...), events.ErrMalformedEvent)
}

// Source returns Source: the sender whose callbacks p parses.
func (p *Parser) Source() string { return Source }

// Parse implements events.Parser. r may be nil (no headers). Errors name
// the parameter and the problem, never its value.
func (p *Parser) Parse(r *http.Request, body []byte) (*events.Event, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, malformed("body is not a form")
	}
	e := &events.Event{Source: Source, Data: body, Body: body}
	var sid, status string
	switch {
	case form.Get("MessageSid") != "":
		sid, status = form.Get("MessageSid"), form.Get("MessageStatus")
		if status == "" {
			status = form.Get("SmsStatus")
		}
		e.Type = "message." + status
	case form.Get("CallSid") != "":
		sid, status = form.Get("CallSid"), form.Get("CallStatus")
		e.Type = "call." + status
	default:
		return nil, malformed("neither MessageSid nor CallSid: not a status callback")
	}
	if status == "" {
		return nil, malformed("callback has no status")
	}
	if strings.ContainsAny(status, " .*") {
		return nil, malformed("status holds a space, '.' or '*', which no Twilio status does")
	}
	if r != nil {
		e.Header = r.Header
	}
	e.ID = sid + ":" + status
	if ts := form.Get("Timestamp"); ts != "" {
		t, err := eventtime.ParseRFC1123Z(ts)
		if err != nil {
			return nil, malformed("the Timestamp parameter is %v", err)
		}
		e.Time = t
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// MessageStatus is a message status callback.
type MessageStatus struct {
	MessageSid    string
	MessageStatus string // queued, sent, delivered, undelivered, failed, ...
	// SmsSid is the same SID under its older name, which Twilio still sends.
	SmsSid              string
	AccountSid          string
	MessagingServiceSid string
	From, To            string
	// ErrorCode is Twilio's error code for a failed or undelivered
	// message (such as "30003", unreachable handset); empty otherwise.
	ErrorCode    string
	ErrorMessage string
	APIVersion   string
	// Params holds every parameter as posted, including those above.
	Params url.Values
}

// CallStatus is a voice call status callback.
type CallStatus struct {
	CallSid        string
	CallStatus     string // initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled
	AccountSid     string
	From, To       string
	Direction      string
	CallbackSource string
	APIVersion     string
	// CallDuration is the call's length in seconds, on completed calls.
	CallDuration int
	// SequenceNumber orders the callbacks of one call.
	SequenceNumber int
	// Timestamp is the callback's Timestamp parameter, in UTC.
	Timestamp time.Time
	// Params holds every parameter as posted, including those above.
	Params url.Values
}

// DecodeMessageStatus decodes a message status callback's form.
func DecodeMessageStatus(data []byte) (*MessageStatus, error) {
	form, err := url.ParseQuery(string(data))
	if err != nil {
		return nil, errors.New("not a form")
	}
	m := &MessageStatus{
		MessageSid:          form.Get("MessageSid"),
		MessageStatus:       form.Get("MessageStatus"),
		SmsSid:              form.Get("SmsSid"),
		AccountSid:          form.Get("AccountSid"),
		MessagingServiceSid: form.Get("MessagingServiceSid"),
		From:                form.Get("From"),
		To:                  form.Get("To"),
		ErrorCode:           form.Get("ErrorCode"),
		ErrorMessage:        form.Get("ErrorMessage"),
		APIVersion:          form.Get("ApiVersion"),
		Params:              form,
	}
	if m.MessageStatus == "" {
		m.MessageStatus = form.Get("SmsStatus")
	}
	if m.MessageSid == "" {
		return nil, errors.New("no MessageSid")
	}
	return m, nil
}

// DecodeCallStatus decodes a call status callback's form.
func DecodeCallStatus(data []byte) (*CallStatus, error) {
	form, err := url.ParseQuery(string(data))
	if err != nil {
		return nil, errors.New("not a form")
	}
	c := &CallStatus{
		CallSid:        form.Get("CallSid"),
		CallStatus:     form.Get("CallStatus"),
		AccountSid:     form.Get("AccountSid"),
		From:           form.Get("From"),
		To:             form.Get("To"),
		Direction:      form.Get("Direction"),
		CallbackSource: form.Get("CallbackSource"),
		APIVersion:     form.Get("ApiVersion"),
		Params:         form,
	}
	if c.CallSid == "" {
		return nil, errors.New("no CallSid")
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"CallDuration", &c.CallDuration}, {"SequenceNumber", &c.SequenceNumber}} {
		if v := form.Get(f.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("%s is not a whole number", f.name)
			}
			*f.dst = n
		}
	}
	if ts := form.Get("Timestamp"); ts != "" {
		t, err := eventtime.ParseRFC1123Z(ts)
		if err != nil {
			return nil, fmt.Errorf("the Timestamp parameter is %v", err)
		}
		c.Timestamp = t
	}
	return c, nil
}

// MessageType returns the Type of message status callbacks with status.
func MessageType(status string) events.Type[*MessageStatus] {
	return events.NewTypeFunc("message."+status, DecodeMessageStatus)
}

// CallType returns the Type of call status callbacks with status.
func CallType(status string) events.Type[*CallStatus] {
	return events.NewTypeFunc("call."+status, DecodeCallStatus)
}

// The Types of the status callbacks a booking backend acts on. Add any
// other status in one line: twilioevent.MessageType("read").
var (
	MessageQueued      = MessageType("queued")
	MessageSent        = MessageType("sent")
	MessageDelivered   = MessageType("delivered")
	MessageUndelivered = MessageType("undelivered")
	MessageFailed      = MessageType("failed")

	CallCompleted = CallType("completed")
	CallBusy      = CallType("busy")
	CallNoAnswer  = CallType("no-answer")
	CallFailed    = CallType("failed")
	CallCanceled  = CallType("canceled")
)

// Catalog returns the names of the Types above, sorted.
func Catalog() []string {
	return catalog.Names(
		MessageQueued, MessageSent, MessageDelivered, MessageUndelivered, MessageFailed,
		CallCompleted, CallBusy, CallNoAnswer, CallFailed, CallCanceled,
	)
}
