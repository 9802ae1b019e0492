package jsonscan

import (
	"errors"
	"fmt"
)

// Why a value at a path is not the string asked for. The texts quote no
// value: a caller puts them in a DecodeError's Problem.
var (
	ErrAbsent    = errors.New("absent or null")
	ErrNotString = errors.New("not a JSON string")
	ErrInexact   = errors.New("a string holding invalid UTF-8 or a lone surrogate escape")
)

// Lookup is a fixed set of dotted paths to find in many documents, such as
// the id and status of an event's object. A Lookup is safe for concurrent
// use.
type Lookup struct{ paths []Path }

// NewLookup returns the Lookup of paths. Lookups are fixed in code, so an
// invalid one (more than MaxPaths paths, an empty key) panics, as
// regexp.MustCompile does.
func NewLookup(paths ...string) *Lookup {
	if len(paths) == 0 || len(paths) > MaxPaths {
		panic(fmt.Sprintf("jsonscan: a Lookup takes 1 to %d paths, not %d", MaxPaths, len(paths)))
	}
	l := &Lookup{}
	for _, p := range paths {
		path, err := ParsePath(p)
		if err != nil || path == nil {
			panic(fmt.Sprintf("jsonscan: invalid path %q", p))
		}
		l.paths = append(l.paths, path)
	}
	return l
}

// Values are the values a Lookup found in one document, by the index of
// their path in NewLookup's arguments.
type Values struct {
	data  []byte
	spans [MaxPaths]Span
}

// Find scans data, which must be a JSON object, in one validating pass
// (see Scan) and returns the values at l's paths. It allocates nothing.
func (l *Lookup) Find(data []byte) (Values, error) {
	spans, err := Scan(data, l.paths)
	if err != nil {
		return Values{}, err
	}
	return Values{data: data, spans: spans}, nil
}

// Raw returns the raw JSON of the value at path i, a slice of the
// document, or nil when the path was not found.
func (v *Values) Raw(i int) []byte {
	s := v.spans[i]
	if !s.Found() {
		return nil
	}
	return v.data[s.Start:s.End]
}

// Text returns the contents of the JSON string at path i, decoded as
// encoding/json decodes it but exactly: a string holding invalid UTF-8 or
// a lone surrogate escape is ErrInexact, never decoded with U+FFFD in their
// place (two different ids would become one). A string without escapes
// or non-ASCII bytes is returned as a slice of the document, without
// allocating. A path absent or null is ErrAbsent; another JSON value is
// ErrNotString.
func (v *Values) Text(i int) ([]byte, error) {
	raw := v.Raw(i)
	switch {
	case raw == nil || string(raw) == "null":
		return nil, ErrAbsent
	case raw[0] != '"':
		return nil, ErrNotString
	}
	inner := raw[1 : len(raw)-1]
	if PlainASCII(inner) {
		return inner, nil
	}
	b, ok := unquoteBytes(inner, true)
	if !ok {
		return nil, ErrInexact
	}
	return b, nil
}
