package events

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// Type is a typed event key: an event type's name and how to decode its
// payload into T. A handler registered with a Type[*stripe.PaymentIntent]
// receives a *stripe.PaymentIntent, with no any and no cast in its code:
//
//	var PaymentSucceeded = events.NewType[*stripe.PaymentIntent]("payment_intent.succeeded")
//	pi, err := PaymentSucceeded.Decode(e)
//
// A Type is a small value, safe to copy and to use concurrently.
type Type[T any] struct {
	def *typeDef[T]
}

type typeDef[T any] struct {
	name   string
	decode func(data []byte) (T, error)
}

// NewType returns the key for event type name whose payload (Event.Data) is
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

// NewTypeFunc returns the key for event type name whose payload decode turns
// into a T: for payloads that are not JSON (Twilio's forms) or that need
// more than encoding/json. decode's error text reaches logs and dead
// letters: it must name the field and the problem, never quote a value.
func NewTypeFunc[T any](name string, decode func(data []byte) (T, error)) Type[T] {
	return Type[T]{def: &typeDef[T]{name: name, decode: decode}}
}

// Name returns the event type's name.
func (t Type[T]) Name() string {
	if t.def == nil {
		return ""
	}
	return t.def.name
}

// Decode decodes e's payload into a T. The value is decoded once per event
// and Type: later calls return the same value (so handlers must not modify
// it) and error. An event of another type, or a payload that does not
// decode, is an error wrapping ErrUndecodable. An Event is not safe for
// concurrent Decode calls.
func (t Type[T]) Decode(e *Event) (T, error) {
	var zero T
	if t.def == nil {
		return zero, fmt.Errorf("zero events.Type: %w", ErrUndecodable)
	}
	if e.Type != t.def.name {
		return zero, fmt.Errorf("%s event %s is %q, not %q: %w", e.Source, e.ID, e.Type, t.def.name, ErrUndecodable)
	}
	if e.memoKey == any(t.def) {
		v, _ := e.memo.(T)
		return v, e.memoErr
	}
	v, err := t.def.decode(e.Data)
	if err != nil {
		err = newDecodeError(e, fmt.Sprintf("%T", v), err)
	}
	e.memoKey, e.memo, e.memoErr = any(t.def), v, err
	return v, err
}

// DecodeAny is Decode for code that handles many types at once, such as a
// Registry; it implements Decoder.
func (t Type[T]) DecodeAny(e *Event) (any, error) { return t.Decode(e) }

// Decoder is what a Registry holds: any Type[T].
type Decoder interface {
	Name() string
	DecodeAny(e *Event) (any, error)
}

// Registry is the set of event types a source knows, by name, so that
// unknown types can be told from known ones, catalogs listed, and recorded
// fixtures decoded in tests. The zero value is empty and ready to use; a
// Registry is safe for concurrent use.
type Registry struct {
	mu     sync.RWMutex
	byName map[string]Decoder
}

// NewRegistry returns a Registry of types. Like regexp.MustCompile, it is
// meant for catalogs fixed in code and panics if two types share a name; use
// Add to handle that as an error.
func NewRegistry(types ...Decoder) *Registry {
	r := &Registry{}
	if err := r.Add(types...); err != nil {
		panic(err)
	}
	return r
}

// Add registers types. A name already registered is an error, and nothing
// is added.
func (r *Registry) Add(types ...Decoder) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, t := range types {
		name := t.Name()
		if name == "" {
			return fmt.Errorf("events: a type without a name")
		}
		if _, dup := r.byName[name]; dup || seen[name] {
			return fmt.Errorf("events: type %q registered twice", name)
		}
		seen[name] = true
	}
	if r.byName == nil {
		r.byName = make(map[string]Decoder, len(types))
	}
	for _, t := range types {
		r.byName[t.Name()] = t
	}
	return nil
}

// Lookup returns the type registered as name.
func (r *Registry) Lookup(name string) (Decoder, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.byName[name]
	return t, ok
}

// Known reports whether a type is registered as name.
func (r *Registry) Known(name string) bool {
	_, ok := r.Lookup(name)
	return ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Decode decodes e's payload with the type registered for e.Type; an
// unregistered type is an error wrapping ErrUnknownType.
func (r *Registry) Decode(e *Event) (any, error) {
	t, ok := r.Lookup(e.Type)
	if !ok {
		return nil, fmt.Errorf("%s event %s: %q: %w", e.Source, e.ID, e.Type, ErrUnknownType)
	}
	return t.DecodeAny(e)
}
