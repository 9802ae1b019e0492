package conversoevent_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
)

// documentedCreated is GoConverso's documented booking.created payload,
// byte for byte (DESIGN.md, "The payloads exactly as the senders document
// them").
const documentedCreated = `{"event":"booking.created","timestamp":"2026-02-01T14:30:00.000Z","data":{"booking_id":"b7e8f9a0-1234-5678-abcd-ef0123456789","professional_id":"550e8400-e29b-41d4-a716-446655440000","client_name":"John Smith","client_email":"john@example.com","client_phone":"+1-555-0100","service":{"id":"svc_abc123","name":"Haircut","price":35.00,"duration":30,"currency":"USD"},"scheduled_at":"2026-02-05T10:00:00.000Z","status":"confirmed","notes":"First time client, prefers short on sides"}}`

// TestDocumentedBookingCreated decodes the documented example verbatim and
// finds every documented value in the typed result. (Before Booking
// followed the documentation it failed: "field service: a JSON object
// cannot be a Go string".)
func TestDocumentedBookingCreated(t *testing.T) {
	e, err := conversoevent.NewParser().Parse(nil, []byte(documentedCreated))
	if err != nil {
		t.Fatal(err)
	}
	if e.Type != "booking.created" || e.Source != "goconverso" {
		t.Errorf("type %q source %q", e.Type, e.Source)
	}
	if want := time.Date(2026, 2, 1, 14, 30, 0, 0, time.UTC); !e.Time.Equal(want) {
		t.Errorf("Time %v, want %v", e.Time, want)
	}
	if !strings.HasPrefix(e.ID, "sha256:") {
		t.Errorf("ID %q is not derived", e.ID)
	}
	b, err := conversoevent.BookingCreated.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	want := conversoevent.Booking{
		BookingID:      "b7e8f9a0-1234-5678-abcd-ef0123456789",
		ProfessionalID: "550e8400-e29b-41d4-a716-446655440000",
		ClientName:     "John Smith",
		ClientEmail:    "john@example.com",
		ClientPhone:    "+1-555-0100",
		Service: conversoevent.Service{
			ID: "svc_abc123", Name: "Haircut", Price: "35.00", Duration: 30, Currency: "USD",
		},
		ScheduledAt: time.Date(2026, 2, 5, 10, 0, 0, 0, time.UTC),
		Status:      "confirmed",
		Notes:       "First time client, prefers short on sides",
	}
	if !b.ScheduledAt.Equal(want.ScheduledAt) {
		t.Errorf("ScheduledAt %v, want %v", b.ScheduledAt, want.ScheduledAt)
	}
	got := *b
	got.ScheduledAt = want.ScheduledAt
	if got != want {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
	}
	if cents, err := b.Service.Price.Minor(2); err != nil || cents != 3500 {
		t.Errorf("price in cents: %d, %v; want 3500", cents, err)
	}
	// Every documented field, and no other, is in the Go type: a decode of
	// the payload with unknown fields refused proves nothing is dropped.
	dec := json.NewDecoder(strings.NewReader(string(e.Data)))
	dec.DisallowUnknownFields()
	var strict conversoevent.Booking
	if err := dec.Decode(&strict); err != nil {
		t.Errorf("a documented field has no place in Booking: %v", err)
	}
}

func TestBookingTypesDecodeEveryBookingEvent(t *testing.T) {
	for _, k := range []events.Type[*conversoevent.Booking]{conversoevent.BookingCreated, conversoevent.BookingConfirmed,
		conversoevent.BookingCancelled, conversoevent.BookingRescheduled, conversoevent.BookingReminder} {
		body := strings.Replace(documentedCreated, `"booking.created"`, `"`+k.Name()+`"`, 1)
		e, err := conversoevent.NewParser().Parse(nil, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		b, err := k.Decode(e)
		if err != nil || b.Service.Name != "Haircut" {
			t.Errorf("%s: %v, %+v", k.Name(), err, b)
		}
	}
}

// A price that is not a number is undecodable, and the error names the
// field without quoting the value.
func TestBookingPriceNotANumber(t *testing.T) {
	for _, price := range []string{`"35.00"`, `true`, `{"amount":3500}`, `[35]`} {
		body := strings.Replace(documentedCreated, `"price":35.00`, `"price":`+price, 1)
		e, err := conversoevent.NewParser().Parse(nil, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		_, err = conversoevent.BookingCreated.Decode(e)
		var de *events.DecodeError
		if !errors.As(err, &de) || !errors.Is(err, events.ErrUndecodable) {
			t.Fatalf("price %s: %v", price, err)
		}
		if de.Field != "service.price" || strings.Contains(err.Error(), "35") {
			t.Errorf("price %s: field %q, error %q", price, de.Field, err)
		}
	}
	// null is a price the delivery does not carry.
	body := strings.Replace(documentedCreated, `"price":35.00`, `"price":null`, 1)
	e, err := conversoevent.NewParser().Parse(nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	b, err := conversoevent.BookingCreated.Decode(e)
	if err != nil || b.Service.Price != "" {
		t.Errorf("null price: %v, %q", err, b.Service.Price)
	}
}

func TestDecimalMinor(t *testing.T) {
	for _, tt := range []struct {
		d      conversoevent.Decimal
		digits int
		want   int64
		err    bool
	}{
		{"35.00", 2, 3500, false},
		{"35", 2, 3500, false},
		{"35.5", 2, 3550, false},
		{"0.10", 2, 10, false},
		{"19.99", 2, 1999, false},
		{"35.000", 2, 3500, false},
		{"-12.34", 2, -1234, false},
		{"-0", 2, 0, false},
		{"0e-40", 2, 0, false},
		{"3.5e1", 2, 3500, false},
		{"35E+0", 0, 35, false},
		{"3500e-2", 2, 3500, false},
		{"500", 0, 500, false},
		{"92233720368547758.07", 2, 9223372036854775807, false},
		{"0.001", 3, 1, false},
		{"35.005", 2, 0, true},
		{"92233720368547758.08", 2, 0, true},
		{"1e30", 2, 0, true},
		{"1e400", 2, 0, true},
		{"35.00", -1, 0, true},
		{"", 2, 0, true},
		{"abc", 2, 0, true},
		{"1.", 2, 0, true},
		{".5", 2, 0, true},
		{"01", 2, 0, true},
		{"+1", 2, 0, true},
		{"1e", 2, 0, true},
	} {
		got, err := tt.d.Minor(tt.digits)
		if tt.err {
			if !errors.Is(err, conversoevent.ErrPrice) {
				t.Errorf("%q.Minor(%d) = %d, %v; want an error wrapping ErrPrice", tt.d, tt.digits, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q.Minor(%d) = %d, %v; want %d", tt.d, tt.digits, got, err, tt.want)
		}
	}
}

func TestDecimalJSONRoundTrip(t *testing.T) {
	var s conversoevent.Service
	if err := json.Unmarshal([]byte(`{"price":35.10}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.Price.String() != "35.10" {
		t.Errorf("price %q, want the text as sent", s.Price)
	}
	out, err := json.Marshal(s)
	if err != nil || !strings.Contains(string(out), `"price":35.10`) {
		t.Errorf("%s, %v", out, err)
	}
	out, err = json.Marshal(conversoevent.Service{})
	if err != nil || !strings.Contains(string(out), `"price":null`) {
		t.Errorf("%s, %v", out, err)
	}
	if _, err := json.Marshal(conversoevent.Service{Price: "35,00"}); !errors.Is(err, conversoevent.ErrPrice) {
		t.Errorf("a Decimal that is not a number marshals: %v", err)
	}
}

// With an HMAC of the body nothing in the headers is signed, so the HMAC
// pairing's parser reads no header: a webhook-id or svix-id added to a
// captured delivery leaves its derived ID, and so its key, unchanged.
func TestHMACPairingReadsNoIDHeader(t *testing.T) {
	plain, err := conversoevent.NewParser().Parse(nil, []byte(documentedCreated))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/webhooks/goconverso", strings.NewReader(documentedCreated))
	r.Header.Set("Webhook-Id", "msg_chosen_by_anyone")
	r.Header.Set("Svix-Id", "msg_chosen_too")
	e, err := conversoevent.NewParser().Parse(r, []byte(documentedCreated))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != plain.ID || !strings.HasPrefix(e.ID, "sha256:") {
		t.Errorf("ID %q with unsigned headers, %q without", e.ID, plain.ID)
	}
}

// With Standard Webhooks the ID is the signed message ID; without one the
// delivery is malformed, never given a derived ID.
func TestStandardPairingTakesTheSignedID(t *testing.T) {
	for _, tt := range []struct {
		name    string
		headers map[string]string
		id      string
	}{
		{"webhook-id", map[string]string{"Webhook-Id": "msg_std"}, "msg_std"},
		{"svix-id", map[string]string{"Svix-Id": "msg_svix"}, "msg_svix"},
		{"both: svix-id, as the verifier reads it", map[string]string{"Svix-Id": "msg_svix", "Webhook-Id": "msg_std"}, "msg_svix"},
		{"an empty svix-id stands for no ID", map[string]string{"Svix-Id": "", "Webhook-Id": "msg_std"}, ""},
		{"none", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/webhooks/bookings", strings.NewReader(documentedCreated))
			for k, v := range tt.headers {
				r.Header[k] = []string{v}
			}
			e, err := conversoevent.NewStandardParser().Parse(r, []byte(documentedCreated))
			if tt.id == "" {
				if !errors.Is(err, events.ErrMalformedEvent) {
					t.Fatalf("ID %v, err %v; want ErrMalformedEvent", e, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.ID != tt.id || e.Key() != "goconverso:"+tt.id || e.Type != "booking.created" {
				t.Errorf("ID %q key %q type %q", e.ID, e.Key(), e.Type)
			}
			if _, err := conversoevent.BookingCreated.Decode(e); err != nil {
				t.Error(err)
			}
		})
	}
}

// H2 (issue 27) in a typed payload: Go's time.Time takes a +24:00 offset
// that json.Marshal then refuses, so a decoded Booking could not be
// encoded again (by a queue, a store, a host's own API). scheduled_at with
// such an offset is undecodable, named, and not quoted; in range, it comes
// back in UTC. (On the old Booking the attack value decoded.)
func TestScheduledAtOutsideRFC3339(t *testing.T) {
	decode := func(at string) (*conversoevent.Booking, error) {
		body := strings.Replace(documentedCreated, `"2026-02-05T10:00:00.000Z"`, at, 1)
		e, err := conversoevent.NewParser().Parse(nil, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return conversoevent.BookingCreated.Decode(e)
	}
	for _, at := range []string{`"2026-02-05T10:00:00+24:00"`, `"2026-02-05T10:00:00-24:00"`, `"2026-02-05T10:00:00+00:60"`,
		`"0001-02-05T10:00:00Z"`, `"tomorrow"`, `1770285600`} {
		_, err := decode(at)
		var de *events.DecodeError
		if !errors.As(err, &de) || !errors.Is(err, events.ErrUndecodable) {
			t.Errorf("scheduled_at %s: %v, want a DecodeError", at, err)
			continue
		}
		if de.Field != "scheduled_at" || strings.Contains(err.Error(), strings.Trim(at, `"`)) {
			t.Errorf("scheduled_at %s: field %q, error %q", at, de.Field, err)
		}
	}
	b, err := decode(`"2026-02-05T11:30:00+01:30"`)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 2, 5, 10, 0, 0, 0, time.UTC); !b.ScheduledAt.Equal(want) || b.ScheduledAt.Location() != time.UTC {
		t.Errorf("ScheduledAt %v, want %v in UTC", b.ScheduledAt, want)
	}
	if b, err = decode(`null`); err != nil || !b.ScheduledAt.IsZero() {
		t.Errorf("null scheduled_at: %v, %v", b, err)
	}
}

// FuzzBookingEncodes: whatever Booking decodes from a payload, json.Marshal
// encodes again, with ScheduledAt in UTC.
func FuzzBookingEncodes(f *testing.F) {
	f.Add([]byte(`{"booking_id":"1","scheduled_at":"2026-02-05T10:00:00+24:00"}`))
	f.Add([]byte(`{"booking_id":"1","scheduled_at":"2026-02-05T10:00:00.000Z","service":{"price":35.00}}`))
	f.Add([]byte(`{"scheduled_at":"9999-12-31T23:59:59-23:59","service":{"price":-1e-3}}`))
	f.Add([]byte(`{"scheduled_at":null,"status":"confirmed"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b conversoevent.Booking
		if err := json.Unmarshal(data, &b); err != nil {
			return
		}
		if !b.ScheduledAt.IsZero() && b.ScheduledAt.Location() != time.UTC {
			t.Fatalf("ScheduledAt %v is not in UTC", b.ScheduledAt)
		}
		if _, err := json.Marshal(b); err != nil {
			t.Fatalf("%s decodes into a Booking that does not encode: %v", data, err)
		}
	})
}
