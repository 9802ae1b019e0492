package events

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Kind is an event type as code knows it: the type's name and how its
// payload decodes into T. A handler registered for a
// Kind[*stripe.PaymentIntent] receives a *stripe.PaymentIntent, with no any
// and no cast in its code:
//
//	var PaymentSucceeded = events.NewKind[*stripe.PaymentIntent]("payment_intent.succeeded")
//	pi, err := PaymentSucceeded.Decode(e)
//
// (Event.Type is the name as a string; a Kind is that name with its Go
// type.) A Kind is a small value, safe to copy and to use concurrently.
type Kind[T any] struct {
	def *kindDef[T]
}

type kindDef[T any] struct {
	name   string
	decode func(data []byte) (T, error)
}

// Type is the former name of Kind.
//
// Deprecated: use Kind; Type remains because hookkit's public contract
// names it.
type Type[T any] = Kind[T]

// NewKind returns the kind of event type name whose payload (Event.Data) is
// JSON to decode into T with encoding/json. T is usually a pointer to a
// struct, such as *stripe.PaymentIntent.
func NewKind[T any](name string) Kind[T] {
	return NewKindFunc(name, func(data []byte) (T, error) {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return v, jsonError{err}
		}
		return v, nil
	})
}

// NewType is the former name of NewKind.
//
// Deprecated: use NewKind; NewType remains because hookkit's public
// contract names it.
func NewType[T any](name string) Type[T] { return NewKind[T](name) }

// NewKindFunc returns the kind of event type name whose payload decode
// turns into a T: for payloads that are not JSON (Twilio's forms) or that
// need more than encoding/json. decode's error text reaches logs and dead
// letters: it must name the field and the problem, never quote a value.
func NewKindFunc[T any](name string, decode func(data []byte) (T, error)) Kind[T] {
	return Kind[T]{def: &kindDef[T]{name: name, decode: decode}}
}

// Name returns the event type's name.
func (k Kind[T]) Name() string {
	if k.def == nil {
		return ""
	}
	return k.def.name
}

// Decode decodes e's payload into a T. The value is decoded once per event
// and Kind: later calls return the same value (so handlers must not modify
// it) and error. An event of another type, or a payload that does not
// decode (a *DecodeError), is an error wrapping ErrUndecodable. An Event is
// not safe for concurrent Decode calls.
func (k Kind[T]) Decode(e *Event) (T, error) {
	var zero T
	if k.def == nil || k.def.decode == nil {
		return zero, fmt.Errorf("events.Kind %q has no decoder: %w", k.Name(), ErrUndecodable)
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

// Named is what every Kind is, whatever its Go type: a name.
type Named interface{ Name() string }

// Names returns the names of kinds, sorted: what a provider package's
// Catalog returns.
func Names(kinds ...Named) []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name()
	}
	slices.Sort(names)
	return names
}
