package events

import (
	"encoding/json"
	"fmt"
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
}

// NewType returns the Type of event type name whose payload (Event.Data) is
// JSON to decode into T with encoding/json. T is usually a pointer to a
// struct, such as *stripe.PaymentIntent.
func NewType[T any](name string) Type[T] {
	return NewTypeFunc(name, func(data []byte) (T, error) {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return v, jsonError{err}
		}
		return v, nil
	})
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
	v, err := k.def.decode(e.Data)
	if err != nil {
		err = newDecodeError(e, fmt.Sprintf("%T", v), err)
	}
	e.memoKey, e.memo, e.memoErr = any(k.def), v, err
	return v, err
}
