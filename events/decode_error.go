package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookkit/hookkit/internal/logtext"
)

// DecodeError is a payload that does not decode into its Type's Go type.
// Its message names the event, the Go type, the field and the problem, and
// never a value from the payload: the message reaches logs and dead
// letters, and payload values (amounts, phone numbers, names) must not. The
// decoder's own error, whose text may quote the payload, stays reachable
// through errors.As; errors.Is(err, ErrUndecodable) holds.
type DecodeError struct {
	Source, ID, Type string
	// GoType is the type decoded into, such as "*stripe.PaymentIntent".
	GoType string
	// Field is the dotted path of the field that failed, when known.
	Field string
	// Problem says what was wrong, in words that quote no payload value.
	Problem string
	// Err is the decoder's error. Its text may quote the payload: do not
	// log it.
	Err error
}

// Error returns "<source> event <id> (<type>) into <GoType>: field <f>:
// <problem>: events: payload does not decode".
func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString(e.Source + " event " + e.ID + " (" + e.Type + ") into " + e.GoType + ": ")
	if e.Field != "" {
		b.WriteString("field " + e.Field + ": ")
	}
	b.WriteString(e.Problem + ": " + ErrUndecodable.Error())
	return b.String()
}

// Unwrap returns ErrUndecodable and the decoder's error.
func (e *DecodeError) Unwrap() []error { return []error{ErrUndecodable, e.Err} }

// maxProblem bounds the text a custom decode function contributes.
const maxProblem = 200

// jsonError marks an error out of encoding/json (or a type's UnmarshalJSON),
// whose text cannot be trusted to leave the payload out.
type jsonError struct{ err error }

func (j jsonError) Error() string { return j.err.Error() }
func (j jsonError) Unwrap() error { return j.err }

func newDecodeError(e *Event, goType string, err error) *DecodeError {
	d := &DecodeError{Source: e.Source, ID: e.ID, Type: e.Type, GoType: goType, Err: err}
	var (
		own       *DecodeError
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
		timeErr   *time.ParseError
		fromJSON  jsonError
	)
	switch {
	case errors.As(err, &own):
		d.Field, d.Problem = own.Field, logtext.Clip(own.Problem, maxProblem)
	case errors.As(err, &typeErr):
		// Value is "number 77.77", "string", "bool": keep the kind only.
		kind, _, _ := strings.Cut(typeErr.Value, " ")
		d.Field = typeErr.Field
		d.Problem = "a JSON " + kind + " cannot be a Go " + typeErr.Type.String()
	case errors.As(err, &syntaxErr):
		d.Problem = "invalid JSON at offset " + strconv.FormatInt(syntaxErr.Offset, 10)
	case errors.As(err, &timeErr):
		d.Problem = "a time not in the layout " + strconv.Quote(timeErr.Layout)
	case errors.As(err, &fromJSON):
		d.Problem = fmt.Sprintf("the payload does not fit the type (%T)", innermost(err))
	default:
		// A NewTypeFunc decoder's own words, documented as quoting no value.
		d.Problem = logtext.Clip(err.Error(), maxProblem)
	}
	return d
}

func innermost(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// DecodeJSON decodes data (e's body, or a part of it) into v with
// encoding/json and reports a failure as a *DecodeError, which quotes no
// payload value. Provider packages use it for the parts of a body a typed
// key does not cover.
func DecodeJSON(e *Event, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return newDecodeError(e, fmt.Sprintf("%T", v), jsonError{err})
	}
	return nil
}
