package conversoevent

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/internal/catalog"
	"github.com/hookkit/hookkit/events/internal/eventtime"
	"github.com/hookkit/hookkit/events/standardevent"
)

// Source is the Source of GoConverso events, whichever parser reads them.
const Source = "goconverso"

// Config returns the generic JSON parser's configuration for GoConverso
// booking events signed with an HMAC of the body: {"event", "timestamp"
// (RFC 3339), "data"}. The events carry no ID, so the parser derives one
// from the event name, timestamp and data (see events.JSONConfig.DeriveID):
// a retry of the same event gets the same ID, and so is deduplicated. It
// reads no header: with an HMAC of the body only, no header is signed, so
// none may choose the event's key.
func Config() events.JSONConfig {
	return events.JSONConfig{
		Source:   Source,
		Type:     "event",
		Time:     "timestamp",
		Data:     "data",
		DeriveID: true,
	}
}

// NewParser returns a parser for Config(): GoConverso's bodies signed with
// an HMAC (verify.NewHMAC), their IDs derived from their content.
func NewParser() *events.JSONParser { return events.NewJSONParser(Config()) }

// NewStandardParser returns a parser for GoConverso's bodies, {"event",
// "timestamp", "data"} as Config reads them, signed with Standard Webhooks
// (verify.NewStandard): the event's ID is the message ID the signature
// covers, read from the webhook-id (or svix-id) header exactly as
// standardevent reads it, never derived from the body.
func NewStandardParser() *events.JSONParser {
	cfg := standardevent.Config(Source)
	cfg.Type = "event"
	return events.NewJSONParser(cfg)
}

// Booking is the data of every booking.* event, decoded as GoConverso
// documents it:
//
//	{"booking_id", "professional_id", "client_name", "client_email",
//	 "client_phone", "service": {"id", "name", "price", "duration",
//	 "currency"}, "scheduled_at", "status", "notes"}
//
// GoConverso documents this object with its booking.created example and
// names booking.confirmed, booking.cancelled, booking.rescheduled and
// booking.reminder without a payload of their own; hookkit decodes them
// into the same type. The documentation shows no further fields: no
// previous time for a rescheduled booking, no reason for a cancelled one,
// so Booking has none (a host that needs the old time keeps it itself). A
// field GoConverso sends beyond these stays in Event.Data.
type Booking struct {
	BookingID      string `json:"booking_id"`
	ProfessionalID string `json:"professional_id"`
	ClientName     string `json:"client_name"`
	ClientEmail    string `json:"client_email"`
	// ClientPhone is the number as GoConverso has it; the documented
	// example writes "+1-555-0100", not E.164, so normalise it before
	// comparing it with a Twilio callback's To.
	ClientPhone string  `json:"client_phone"`
	Service     Service `json:"service"`
	// ScheduledAt is when the appointment starts, in UTC. It must be an
	// RFC 3339 time whose offset is within RFC 3339's range: Go's own
	// parser takes "+24:00", which no encoder writes back (see
	// UnmarshalJSON).
	ScheduledAt time.Time `json:"scheduled_at"`
	// Status is the booking's status as GoConverso reports it. The
	// documented example shows "confirmed"; the documentation lists no
	// other values, so none is assumed here.
	Status string `json:"status"`
	// Notes is free text about the booking ("First time client, ...").
	Notes string `json:"notes"`
}

// UnmarshalJSON decodes a booking as encoding/json does, except for
// scheduled_at: an RFC 3339 string whose offset is within -23:59 to
// +23:59 and whose year is 1970 to 9999, returned in UTC, so that every
// encoder and store takes the decoded booking. Anything else there is a
// *events.DecodeError naming the field; a Type's Decode reports it as
// undecodable.
func (b *Booking) UnmarshalJSON(data []byte) error {
	type plain Booking // without this method
	v := struct {
		*plain
		ScheduledAt json.RawMessage `json:"scheduled_at"`
	}{plain: (*plain)(b)}
	if err := json.Unmarshal(data, &v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) { // name the field as the body does
			typeErr.Field = strings.TrimPrefix(typeErr.Field, "plain.")
		}
		return err
	}
	if len(v.ScheduledAt) == 0 || string(v.ScheduledAt) == "null" {
		return nil // absent or null: left as it was, as encoding/json does
	}
	var s string
	if err := json.Unmarshal(v.ScheduledAt, &s); err != nil {
		return &events.DecodeError{Field: "scheduled_at", Problem: "not a JSON string holding an RFC 3339 time", Err: err}
	}
	t, err := eventtime.ParseRFC3339(s)
	if err != nil {
		return &events.DecodeError{Field: "scheduled_at", Problem: err.Error(), Err: err}
	}
	b.ScheduledAt = t
	return nil
}

// Service is a booking's service, as GoConverso documents it.
type Service struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Price is the price in Currency's major unit, exactly as sent
	// (35.00); Price.Minor(2) gives cents.
	Price Decimal `json:"price"`
	// Duration is the appointment's length in minutes.
	Duration int `json:"duration"`
	// Currency is the ISO 4217 code, such as "USD".
	Currency string `json:"currency"`
}

// The Types of GoConverso's booking events. They decode the events
// whichever way GoConverso signs them (NewParser, NewStandardParser).
var (
	BookingCreated     = events.NewType[*Booking]("booking.created")
	BookingConfirmed   = events.NewType[*Booking]("booking.confirmed")
	BookingCancelled   = events.NewType[*Booking]("booking.cancelled")
	BookingRescheduled = events.NewType[*Booking]("booking.rescheduled")
	BookingReminder    = events.NewType[*Booking]("booking.reminder")
)

// Catalog returns the names of the Types above, sorted.
func Catalog() []string {
	return catalog.Names(BookingCreated, BookingConfirmed, BookingCancelled, BookingRescheduled, BookingReminder)
}
