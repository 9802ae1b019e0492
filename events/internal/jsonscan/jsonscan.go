// Package jsonscan is the events packages' validating JSON scanner: it
// finds the values at a few dotted paths in one pass, without building
// maps or decoding anything it does not need. Package events reads a
// webhook's envelope with it (id, type, time and the span of the payload);
// the provider packages read an event's object and status with a Lookup.
// It accepts exactly the documents encoding/json accepts, so a body it
// passes is a body json.Unmarshal can decode, and it refuses a document
// whose keys encoding/json would read differently (a key that differs from
// a looked-up key only in case).
package jsonscan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hookkit/hookkit/internal/configerr"
)

// maxDepth bounds nesting, as encoding/json does, so a hostile body cannot
// exhaust the stack.
const maxDepth = 10000

// MaxPaths is how many paths one scan can look for (a bit mask holds them).
const MaxPaths = 8

// Span is the raw bytes of a value found at a path: data[Start:End]. A path
// that was not found has End 0 (no value can end at offset 0).
type Span struct{ Start, End int }

// Found reports whether the path was found.
func (s Span) Found() bool { return s.End > 0 }

// Path is a dotted path split into its keys.
type Path []string

// ParsePath splits a dotted path ("data.object") into its keys; an empty
// path is nil, and an empty key is an error wrapping ErrInvalidConfig.
func ParsePath(p string) (Path, error) {
	if p == "" {
		return nil, nil
	}
	parts := strings.Split(p, ".")
	for _, k := range parts {
		if k == "" {
			return nil, fmt.Errorf("path %q has an empty key: %w", p, configerr.ErrInvalidConfig)
		}
	}
	return parts, nil
}

var errSyntax = errors.New("invalid JSON")

// Byte classes for the hot loops.
var (
	isSpace       [256]bool
	stringSpecial [256]bool // ends the run of plain string bytes
)

func init() {
	for _, c := range " \t\r\n" {
		isSpace[c] = true
	}
	for c := 0; c < 0x20; c++ {
		stringSpecial[c] = true
	}
	stringSpecial['"'] = true
	stringSpecial['\\'] = true
}

// scanner walks one document.
type scanner struct {
	data  []byte
	pos   int
	paths []Path
	spans [MaxPaths]Span // inline, so a scan allocates nothing
	err   error
}

func (s *scanner) fail(what string) error {
	if s.err == nil {
		s.err = fmt.Errorf("%w at offset %d: %s", errSyntax, s.pos, what)
	}
	return s.err
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) && isSpace[s.data[s.pos]] {
		s.pos++
	}
}

// Scan finds paths (at most MaxPaths) in data, which must be a JSON
// object, and returns the span of each, in order. Of a repeated key, the
// last value counts, as with encoding/json. Its errors say what is wrong
// and where, never quoting the document.
func Scan(data []byte, paths []Path) ([MaxPaths]Span, error) {
	s := scanner{data: data, paths: paths}
	s.skipSpace()
	if s.pos >= len(data) || data[s.pos] != '{' {
		return s.spans, s.fail("the document is not a JSON object")
	}
	all := uint32(1)<<len(paths) - 1
	if err := s.object(0, all); err != nil {
		return s.spans, err
	}
	s.skipSpace()
	if s.pos != len(data) {
		return s.spans, s.fail("data after the top-level object")
	}
	return s.spans, s.err // an ambiguous key (see match), found on the way
}

// object scans an object at s.pos whose keys at depth are candidates for the
// paths in mask.
func (s *scanner) object(depth int, mask uint32) error {
	if depth >= maxDepth {
		return s.fail("nested too deeply")
	}
	s.pos++ // '{'
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.fail("expected a string key")
		}
		keyStart := s.pos + 1
		escaped, err := s.str()
		if err != nil {
			return err
		}
		key := s.data[keyStart : s.pos-1]
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.fail("expected ':' after a key")
		}
		s.pos++
		s.skipSpace()

		var hit, deeper uint32
		if mask != 0 {
			hit, deeper = s.match(key, escaped, depth, mask)
		}
		for i := range s.paths {
			if deeper&(1<<i) != 0 {
				s.spans[i] = Span{} // a repeated key: its last value counts
			}
		}
		start := s.pos
		if deeper != 0 && s.pos < len(s.data) && s.data[s.pos] == '{' {
			err = s.object(depth+1, deeper)
		} else {
			err = s.value(depth + 1)
		}
		if err != nil {
			return err
		}
		for i := range s.paths {
			if hit&(1<<i) != 0 {
				s.spans[i] = Span{start, s.pos}
			}
		}
		if done, err := s.separator('}'); done || err != nil {
			return err
		}
	}
}

// match returns the paths of mask whose key at depth is key: those that end
// here (hit) and those that continue below (deeper). It reports a key that
// equals a path's key only when case is ignored as ambiguous: encoding/json
// (and so stripe-go, and a typed decode of the body) matches keys
// case-insensitively with the last one winning, so {"id":"a","ID":"b"}
// would be read as "a" here and "b" there. Such a key fails the scan: match
// records the error, and the scan, which goes on to validate the rest,
// returns it at the end, so that object's hot loop stays as it was without
// this check.
func (s *scanner) match(raw []byte, escaped bool, depth int, mask uint32) (hit, deeper uint32) {
	key := raw
	if escaped {
		var ok bool
		if key, ok = unquoteBytes(raw, false); !ok {
			return 0, 0
		}
	}
	for i, p := range s.paths {
		if mask&(1<<i) == 0 {
			continue
		}
		if p[depth] != string(key) {
			if foldEqual(p[depth], key) {
				s.fail("a key differs from a key looked for only in case, which encoding/json would read as that key")
				return 0, 0
			}
			continue
		}
		if len(p) == depth+1 {
			hit |= 1 << i
		} else {
			deeper |= 1 << i
		}
	}
	return hit, deeper
}

// foldEqual reports whether a and b are equal under Unicode case folding,
// as encoding/json compares keys (so "ſ" matches "s" and the Kelvin sign
// "k"). It runs for every key against every path key at its level, so the
// common case, keys that start with different letters, is decided by the
// first byte, and ASCII keys are compared without allocating.
func foldEqual(a string, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	if x, y := a[0], b[0]; x < utf8.RuneSelf && y < utf8.RuneSelf && lowerASCII(x) != lowerASCII(y) {
		return false
	}
	if len(a) == len(b) {
		i := 0
		for ; i < len(b) && a[i] < utf8.RuneSelf && b[i] < utf8.RuneSelf; i++ {
			if lowerASCII(a[i]) != lowerASCII(b[i]) {
				return false
			}
		}
		if i == len(b) {
			return true
		}
	} else if PlainASCII([]byte(a)) && PlainASCII(b) {
		return false // ASCII folds byte for byte, so the lengths would be equal
	}
	return strings.EqualFold(a, string(b)) // multi-byte runes: rare
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// value validates and skips any value at s.pos.
func (s *scanner) value(depth int) error {
	if s.pos >= len(s.data) {
		return s.fail("expected a value")
	}
	switch c := s.data[s.pos]; {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{':
		return s.object(depth, 0)
	case c == '[':
		return s.array(depth)
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.fail("unexpected character")
}

func (s *scanner) array(depth int) error {
	if depth >= maxDepth {
		return s.fail("nested too deeply")
	}
	s.pos++ // '['
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for {
		s.skipSpace()
		if err := s.value(depth + 1); err != nil {
			return err
		}
		if done, err := s.separator(']'); done || err != nil {
			return err
		}
	}
}

// separator consumes what follows a member or element: a comma, or the
// closing bracket (done).
func (s *scanner) separator(closing byte) (done bool, err error) {
	s.skipSpace()
	if s.pos >= len(s.data) {
		return false, s.fail("unterminated object or array")
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return false, nil
	case closing:
		s.pos++
		return true, nil
	}
	return false, s.fail("expected ',' or '" + string(closing) + "'")
}

// str skips a string at s.pos (on its opening quote) and reports whether it
// holds escapes.
func (s *scanner) str() (escaped bool, err error) {
	i := s.pos + 1
	for {
		for i < len(s.data) && !stringSpecial[s.data[i]] {
			i++
		}
		if i >= len(s.data) {
			s.pos = i
			return false, s.fail("unterminated string")
		}
		switch c := s.data[i]; {
		case c == '"':
			s.pos = i + 1
			return escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(s.data) {
				s.pos = i
				return false, s.fail("unterminated escape")
			}
			switch s.data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(s.data) || !isHex4(s.data[i+2:i+6]) {
					s.pos = i
					return false, s.fail(`invalid \u escape`)
				}
				i += 6
			default:
				s.pos = i
				return false, s.fail("invalid escape")
			}
		default:
			s.pos = i
			return false, s.fail("control character in a string")
		}
	}
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func (s *scanner) number() error {
	d, i := s.data, s.pos
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return s.fail("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return s.fail("invalid number")
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return s.fail("invalid number")
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return nil
}

func (s *scanner) literal(word string) error {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return s.fail("invalid literal")
	}
	s.pos += len(word)
	return nil
}

// unquoteBytes decodes the contents of a JSON string (without its quotes)
// that holds escapes. Invalid UTF-8 and lone surrogates become U+FFFD, as
// with encoding/json, unless strict, when they make the string invalid.
func unquoteBytes(raw []byte, strict bool) ([]byte, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			r, size := utf8.DecodeRune(raw[i:])
			if strict && r == utf8.RuneError && size == 1 {
				return nil, false
			}
			out = utf8.AppendRune(out, r)
			i += size
			continue
		}
		if i+1 >= len(raw) {
			return nil, false
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			out = append(out, raw[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(raw[i+2:])
			if !ok {
				return nil, false
			}
			i += 6
			if 0xD800 <= r && r < 0xDC00 { // a high surrogate: pair it if a low one follows
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if lo, ok := hex4(raw[i+2:]); ok && 0xDC00 <= lo && lo < 0xE000 {
						r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
						i += 6
					}
				}
			}
			if 0xD800 <= r && r < 0xE000 {
				if strict {
					return nil, false
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return nil, false
		}
		i += 2
	}
	return out, true
}

// PlainASCII reports whether a string's raw bytes need no decoding.
func PlainASCII(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 || !isHex4(b[:4]) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(n), err == nil
}

// StringValue returns the Go string a raw JSON string value (with quotes)
// stands for, decoded as encoding/json decodes it.
func StringValue(raw []byte) (string, bool) { return decodeString(raw, false) }

// ExactStringValue is StringValue for a value that becomes a key (an event
// ID or type): a string holding invalid UTF-8 or a lone surrogate escape is
// invalid instead of decoded with U+FFFD in their place, where the signed
// IDs "evt_\ud800" and "evt_\udc00" would become one key and the second
// event would be taken for a duplicate of the first.
func ExactStringValue(raw []byte) (string, bool) { return decodeString(raw, true) }

func decodeString(raw []byte, strict bool) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			b, ok := unquoteBytes(inner, strict)
			return string(b), ok
		}
	}
	return string(inner), true
}
