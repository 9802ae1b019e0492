package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/events"
)

type deposit struct {
	ID     string            `json:"id"`
	Amount int64             `json:"amount"`
	Meta   map[string]string `json:"metadata"`
}

func TestTypeDecodesOnce(t *testing.T) {
	calls := 0
	depositPaid := events.NewTypeFunc("deposit.paid", func(data []byte) (*deposit, error) {
		calls++
		var d deposit
		return &d, json.Unmarshal(data, &d)
	})
	e := &events.Event{ID: "evt_1", Type: "deposit.paid", Source: "test", Data: []byte(`{"id":"dep_1","amount":5000,"metadata":{"booking_id":"12345"}}`)}
	first, err := depositPaid.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	if want := (&deposit{ID: "dep_1", Amount: 5000, Meta: map[string]string{"booking_id": "12345"}}); !reflect.DeepEqual(first, want) {
		t.Errorf("decoded %+v, want %+v", first, want)
	}
	second, err := depositPaid.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	if second != first || calls != 1 {
		t.Errorf("decoded %d times (same value: %v); want once, then remembered", calls, second == first)
	}

	// Another key of the same name is another decoder.
	other := events.NewType[*deposit]("deposit.paid")
	third, err := other.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, third) || first == third {
		t.Errorf("another Type's decode: %+v (same pointer: %v)", third, first == third)
	}
}

func TestTypeDecodeErrors(t *testing.T) {
	depositPaid := events.NewType[*deposit]("deposit.paid")
	e := &events.Event{ID: "evt_1", Type: "deposit.paid", Source: "test", Data: []byte(`{"amount":"five thousand"}`)}
	_, err := depositPaid.Decode(e)
	if !errors.Is(err, events.ErrUndecodable) || !strings.Contains(err.Error(), "evt_1") {
		t.Fatalf("err = %v, want ErrUndecodable naming evt_1", err)
	}
	if _, again := depositPaid.Decode(e); again != err {
		t.Errorf("the failure is not remembered: %v then %v", err, again)
	}

	_, err = depositPaid.Decode(&events.Event{ID: "evt_2", Type: "deposit.refunded", Data: []byte(`{}`)})
	if !errors.Is(err, events.ErrUndecodable) {
		t.Errorf("a key decoded another type: %v", err)
	}

	var zero events.Type[*deposit]
	if _, err = zero.Decode(e); !errors.Is(err, events.ErrUndecodable) || zero.Name() != "" {
		t.Errorf("zero Type: %v, name %q", err, zero.Name())
	}

	noDecoder := events.NewTypeFunc[*deposit]("deposit.paid", nil)
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("a Type without a decoder panicked: %v", p)
			}
		}()
		_, err = noDecoder.Decode(e)
	}()
	if !errors.Is(err, events.ErrUndecodable) || !strings.Contains(err.Error(), `"deposit.paid" has no decoder`) {
		t.Errorf("a Type without a decoder: %v", err)
	}
}

// A payload that does not decode names the field and the problem, never a
// value: the message reaches logs and dead letters.
func TestDecodeErrorQuotesNoValue(t *testing.T) {
	type booking struct {
		Amount int64     `json:"amount"`
		When   time.Time `json:"when"`
		Paid   bool      `json:"paid"`
	}
	kind := events.NewType[*booking]("booking.paid")
	tests := []struct {
		name, data, secret, field, problem string
	}{
		{"fraction into an integer", `{"amount": 4242.4242}`, "4242.4242", "amount", "a JSON number cannot be a Go int64"},
		{"string into a bool", `{"paid": "yes-4242"}`, "yes-4242", "paid", "a JSON string cannot be a Go bool"},
		{"not a time", `{"when": "tuesday-4242"}`, "tuesday-4242", "", `a time not in the layout`},
		{"broken JSON", `{"amount": 42,}`, "42", "", "invalid JSON at offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &events.Event{Source: "test", ID: "evt_1", Type: "booking.paid", Data: []byte(tt.data)}
			_, err := kind.Decode(e)
			if !errors.Is(err, events.ErrUndecodable) {
				t.Fatalf("err = %v, want ErrUndecodable", err)
			}
			if strings.Contains(err.Error(), tt.secret) || !strings.Contains(err.Error(), tt.problem) {
				t.Errorf("error %q: should say %q and not quote %q", err, tt.problem, tt.secret)
			}
			var de *events.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%T is not a *DecodeError", err)
			}
			if de.Field != tt.field || de.GoType != "*events_test.booking" || de.Err == nil {
				t.Errorf("field %q GoType %q Err %v; want field %q and the decoder's own error kept", de.Field, de.GoType, de.Err, tt.field)
			}
		})
	}
	var typeErr *json.UnmarshalTypeError
	if _, err := kind.Decode(&events.Event{Type: "booking.paid", Data: []byte(`{"amount": "x"}`)}); !errors.As(err, &typeErr) {
		t.Errorf("errors.As does not reach encoding/json's error: %v", err)
	}
}

// A decoder may report its own field and problem as a *DecodeError, words
// that quote no value; Decode keeps them (conversoevent's scheduled_at
// does this).
func TestDecoderOwnDecodeError(t *testing.T) {
	kind := events.NewTypeFunc("slot.booked", func([]byte) (*deposit, error) {
		return nil, &events.DecodeError{Field: "slot.start", Problem: "a time outside the opening hours"}
	})
	_, err := kind.Decode(&events.Event{Source: "test", ID: "evt_1", Type: "slot.booked", Data: []byte(`{"slot":{"start":"03:00"}}`)})
	var de *events.DecodeError
	if !errors.As(err, &de) || !errors.Is(err, events.ErrUndecodable) {
		t.Fatalf("err = %v", err)
	}
	if de.Field != "slot.start" || de.Problem != "a time outside the opening hours" || de.ID != "evt_1" {
		t.Errorf("field %q problem %q ID %q", de.Field, de.Problem, de.ID)
	}
	if want := "test event evt_1 (slot.booked) into *events_test.deposit: field slot.start: a time outside the opening hours: events: payload does not decode"; err.Error() != want {
		t.Errorf("error %q\nwant %q", err, want)
	}
}
