package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/hookkit/hookkit/events"
)

// selfDecoding decodes itself, as stripe-go's types do, counting the
// payloads it was given.
type selfDecoding struct {
	Amount int64
	Name   string
}

var unmarshalCalls int

func (s *selfDecoding) UnmarshalJSON(data []byte) error {
	unmarshalCalls++
	type plain selfDecoding
	return json.Unmarshal(data, (*plain)(s))
}

// valueDecoding is a struct type whose pointer decodes it.
type valueDecoding struct{ selfDecoding }

// A payload the JSON parser validated goes to a self-decoding type's
// UnmarshalJSON directly, giving the value json.Unmarshal gives; a payload
// a host replaced after parsing goes through json.Unmarshal as before, so
// an invalid one never reaches UnmarshalJSON; null leaves a pointer nil.
func TestValidatedPayloadDecodesDirectly(t *testing.T) {
	p := events.NewJSONParser(events.JSONConfig{Source: "etail", ID: "id", Type: "type", Data: "data.object"})
	byPointer := events.NewType[*selfDecoding]("payment.succeeded")
	byValue := events.NewType[valueDecoding]("payment.succeeded")
	parse := func(body, replace string) *events.Event {
		e, err := p.Parse(nil, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if replace != "" {
			e.Data = []byte(replace)
		}
		return e
	}
	for _, c := range []struct {
		name, body, replace string // replace: Data after parsing, when a host replaces it
		want                *selfDecoding
	}{
		{"validated", `{"id":"evt_1","type":"payment.succeeded","data":{"object": {"Amount":10000,"Name":"Zoë"} }}`, "", &selfDecoding{Amount: 10000, Name: "Zoë"}},
		{"replaced", `{"id":"evt_1","type":"payment.succeeded","data":{"object":{}}}`, `{"Amount":5}`, &selfDecoding{Amount: 5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := byPointer.Decode(parse(c.body, c.replace))
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("by pointer: %+v, %v; want %+v", got, err, c.want)
			}
			gotValue, err := byValue.Decode(parse(c.body, c.replace))
			if err != nil || gotValue.selfDecoding != *c.want {
				t.Errorf("by value: %+v, %v; want %+v", gotValue, err, *c.want)
			}
		})
	}
	t.Run("null", func(t *testing.T) {
		got, err := byPointer.Decode(parse(`{"id":"evt_1","type":"payment.succeeded","data":{"object":null}}`, ""))
		if err != nil || got != nil {
			t.Errorf("got %+v, %v; want nil, as json.Unmarshal leaves it", got, err)
		}
	})
	t.Run("replaced, invalid", func(t *testing.T) {
		unmarshalCalls = 0
		got, err := byPointer.Decode(parse(`{"id":"evt_1","type":"payment.succeeded","data":{"object":{}}}`, `{"Amount":`))
		if !errors.Is(err, events.ErrUndecodable) || unmarshalCalls != 0 {
			t.Errorf("got %+v, %v after %d UnmarshalJSON calls; want an error wrapping ErrUndecodable, UnmarshalJSON never called", got, err, unmarshalCalls)
		}
	})
}
