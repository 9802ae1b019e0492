package conversoevent

import (
	"time"

	"github.com/hookkit/hookkit/events"
)

// Source is the Source of GoConverso events parsed by NewParser.
const Source = "goconverso"

// Config returns the generic JSON parser's configuration for GoConverso
// booking events: {"event", "timestamp" (RFC 3339), "data"}. The events
// carry no ID, so the parser derives one from the event name, timestamp and
// data (see events.JSONConfig.DeriveID): a retry of the same event gets the
// same ID, and so is deduplicated.
func Config() events.JSONConfig {
	return events.JSONConfig{
		Source:   Source,
		Type:     "event",
		Time:     "timestamp",
		Data:     "data",
		DeriveID: true,
	}
}

// NewParser returns a parser for Config().
func NewParser() *events.JSONParser { return events.MustJSONParser(Config()) }

// Booking is the data of every booking.* event.
type Booking struct {
	BookingID   string    `json:"booking_id"`
	Status      string    `json:"status"` // pending, confirmed, cancelled, rescheduled
	ClientName  string    `json:"client_name"`
	ClientPhone string    `json:"client_phone"`
	ClientEmail string    `json:"client_email"`
	Service     string    `json:"service"`
	Location    string    `json:"location"`
	StartsAt    time.Time `json:"starts_at"`
	EndsAt      time.Time `json:"ends_at"`
	// PreviousStartsAt is the old start of a rescheduled booking.
	PreviousStartsAt *time.Time `json:"previous_starts_at,omitempty"`
	// Reason is why a booking was cancelled or rescheduled, if given.
	Reason string `json:"reason,omitempty"`
}

// The Types of GoConverso's booking events. The same kinds decode
// these events when they arrive as Standard Webhooks (whose "data" has the
// same shape).
var (
	BookingCreated     = events.NewType[*Booking]("booking.created")
	BookingConfirmed   = events.NewType[*Booking]("booking.confirmed")
	BookingCancelled   = events.NewType[*Booking]("booking.cancelled")
	BookingRescheduled = events.NewType[*Booking]("booking.rescheduled")
	BookingReminder    = events.NewType[*Booking]("booking.reminder")
)

// Catalog returns the names of the Types above, sorted.
func Catalog() []string {
	return events.Names(BookingCreated, BookingConfirmed, BookingCancelled, BookingRescheduled, BookingReminder)
}
