package events

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// Type is an event type as code knows it: the type's name and how its
// payload decodes into T. A handler registered for a
// Type[*stripe.PaymentIntent] receives a *stripe.PaymentIntent, with no any
// and no cast in its code:
//
//	var PaymentSucceeded = events.NewType[*stripe.PaymentIntent]("payment_intent.succeeded")
//	pi, err := PaymentSucceeded.Decode(e)
//
// (Event.Type is the name as a string; a Type is that name with its Go
// type.) A Type is a small value, safe to copy and to use concurrently.
type Type[T any] struct {
	def *typeDef[T]
}

type typeDef[T any] struct {
	name   string
	decode func(data []byte) (T, error)
	// decodeValid, when set, decodes JSON already validated (see
	// unmarshalValid).
	decodeValid func(data []byte) (T, error)
}

// NewType returns the Type of event type name whose payload (Event.Data) is
// JSON to decode into T with encoding/json. T is usually a pointer to a
// struct, such as *stripe.PaymentIntent.
func NewType[T any](name string) Type[T] {
	k := NewTypeFunc(name, func(data []byte) (T, error) {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return v, jsonError{err}
		}
		return v, nil
	})
	k.def.decodeValid = unmarshalValid[T]()
	return k
}

// unmarshalValid returns, for a T that decodes itself (its pointer, or T
// itself when a pointer, is a json.Unmarshaler, as stripe-go's types are),
// a decode of JSON a JSONParser has already validated that calls
// UnmarshalJSON directly; nil for any other T. json.Unmarshal would first
// validate the payload once more, then scan it once more to find where it
// ends, before handing the same bytes to UnmarshalJSON: two passes over
// the payload that decide nothing here.
func unmarshalValid[T any]() func(data []byte) (T, error) {
	unmarshaler := reflect.TypeFor[json.Unmarshaler]()
	t := reflect.TypeFor[T]()
	switch {
	case t.Kind() == reflect.Pointer && t.Implements(unmarshaler):
		elem := t.Elem()
		return func(data []byte) (T, error) {
			v := reflect.New(elem).Interface().(T) // as json.Unmarshal allocates a nil pointer's value
			if err := any(v).(json.Unmarshaler).UnmarshalJSON(data); err != nil {
				return v, jsonError{err}
			}
			return v, nil
		}
	case t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface && reflect.PointerTo(t).Implements(unmarshaler):
		return func(data []byte) (T, error) {
			var v T
			if err := any(&v).(json.Unmarshaler).UnmarshalJSON(data); err != nil {
				return v, jsonError{err}
			}
			return v, nil
		}
	}
	return nil
}

// NewTypeFunc returns the Type of event type name whose payload decode
// turns into a T: for payloads that are not JSON (Twilio's forms) or that
// need more than encoding/json. decode's error text reaches logs and dead
// letters: it must name the field and the problem, never quote a value.
func NewTypeFunc[T any](name string, decode func(data []byte) (T, error)) Type[T] {
	return Type[T]{def: &typeDef[T]{name: name, decode: decode}}
}

// Name returns the event type's name.
func (k Type[T]) Name() string {
	if k.def == nil {
		return ""
	}
	return k.def.name
}

// Decode decodes e's payload into a T. The value is decoded once per event
// and Type: later calls return the same value (so handlers must not modify
// it) and error. An event of another type, or a payload that does not
// decode (a *DecodeError), is an error wrapping ErrUndecodable. An Event is
// not safe for concurrent Decode calls.
func (k Type[T]) Decode(e *Event) (T, error) {
	var zero T
	if k.def == nil || k.def.decode == nil {
		return zero, fmt.Errorf("events.Type %q has no decoder: %w", k.Name(), ErrUndecodable)
	}
	if e.Type != k.def.name {
		return zero, fmt.Errorf("%s event %s is %q, not %q: %w", e.Source, e.ID, e.Type, k.def.name, ErrUndecodable)
	}
	if e.memoKey == any(k.def) {
		v, _ := e.memo.(T)
		return v, e.memoErr
	}
	decode := k.def.decode
	if k.def.decodeValid != nil && e.dataValidated() && string(e.Data) != "null" {
		// json.Unmarshal leaves a pointer nil for null, without calling
		// UnmarshalJSON: that case stays its own.
		decode = k.def.decodeValid
	}
	v, err := decode(e.Data)
	if err != nil {
		err = newDecodeError(e, fmt.Sprintf("%T", v), err)
	}
	e.memoKey, e.memo, e.memoErr = any(k.def), v, err
	return v, err
}
