package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/hookkit/hookkit/events/internal/eventtime"
	"github.com/hookkit/hookkit/events/internal/jsonscan"
)

// JSONConfig describes where a JSON event body keeps its envelope. Paths
// are dotted keys from the top-level object, such as "data.object".
type JSONConfig struct {
	// Source names the sender in every Event ("stripe", "etail", ...).
	Source string
	// IDHeaders are headers that carry the event ID, read before the ID
	// path: Standard Webhooks' webhook-id. The first of them present in
	// the request decides, even when it is empty (the event then has no ID
	// from a header); of a repeated header, the first value. List only
	// headers the verifier signs, in the order it reads them, so that the
	// ID is the value that was signed: a later header, present but
	// unsigned, must never be able to stand in for an earlier one.
	IDHeaders []string
	// ID is the path of the event ID (a string or a number).
	ID string
	// Type is the path of the event type, a string. Required.
	Type string
	// Time is the path of the event time: a number of Unix seconds, or an
	// RFC 3339 string. Optional; without it Event.Time is zero.
	Time string
	// Data is the path of the payload; empty means the whole body.
	Data string
	// DeriveID gives events that carry no ID (neither header nor path) a
	// stable one computed from their content: "sha256:" followed by the
	// first 32 hex digits of SHA-256 over the type, a zero byte, the time
	// as sent, a zero byte, and the payload with insignificant whitespace
	// removed. A retry of the same event derives the same ID; two events
	// that differ in type, time or payload derive different ones.
	DeriveID bool
}

// JSONParser parses JSON event bodies as a JSONConfig describes. It finds
// the envelope in one validating pass over the body, without decoding the
// payload: a Type decodes that, once, when a handler asks for it. A
// JSONParser is safe for concurrent use.
type JSONParser struct {
	cfg       JSONConfig
	idHeaders []string
	paths     []jsonscan.Path
	// Indexes into paths; -1 when not configured.
	id, typ, tm, data int
}

// NewJSONParserSafely is NewJSONParser returning its error instead of
// panicking, for configurations chosen at run time: an error wrapping
// ErrInvalidConfig if cfg has no Source, no type path, a malformed path, or
// no way to find an ID.
func NewJSONParserSafely(cfg JSONConfig) (*JSONParser, error) {
	p := &JSONParser{cfg: cfg, id: -1, typ: -1, tm: -1, data: -1}
	if cfg.Source == "" {
		return nil, fmt.Errorf("events: JSONConfig needs a Source: %w", ErrInvalidConfig)
	}
	if cfg.Type == "" {
		return nil, fmt.Errorf("events: %s: JSONConfig needs a Type path: %w", cfg.Source, ErrInvalidConfig)
	}
	if cfg.ID == "" && len(cfg.IDHeaders) == 0 && !cfg.DeriveID {
		return nil, fmt.Errorf("events: %s: JSONConfig needs an ID path, ID headers or DeriveID: %w", cfg.Source, ErrInvalidConfig)
	}
	for _, h := range cfg.IDHeaders {
		p.idHeaders = append(p.idHeaders, textproto.CanonicalMIMEHeaderKey(h))
	}
	for _, f := range []struct {
		path string
		idx  *int
	}{{cfg.ID, &p.id}, {cfg.Type, &p.typ}, {cfg.Time, &p.tm}, {cfg.Data, &p.data}} {
		if f.path == "" {
			continue
		}
		path, err := jsonscan.ParsePath(f.path)
		if err != nil {
			return nil, fmt.Errorf("events: %s: %w", cfg.Source, err)
		}
		*f.idx = len(p.paths)
		p.paths = append(p.paths, path)
	}
	return p, nil
}

// NewJSONParser returns a parser for cfg, a configuration fixed in code
// (such as the provider packages' presets): like regexp.MustCompile, it
// panics on one that cannot work; NewJSONParserSafely returns the error.
func NewJSONParser(cfg JSONConfig) *JSONParser {
	p, err := NewJSONParserSafely(cfg)
	if err != nil {
		panic(err)
	}
	return p
}

// Source returns the Source every Event of this parser carries.
func (p *JSONParser) Source() string { return p.cfg.Source }

func (p *JSONParser) malformed(format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", p.cfg.Source, fmt.Sprintf(format, args...), ErrMalformedEvent)
}

// Parse implements Parser. r may be nil (no headers).
func (p *JSONParser) Parse(r *http.Request, body []byte) (*Event, error) {
	spans, err := jsonscan.Scan(body, p.paths)
	if err != nil {
		return nil, p.malformed("body is not an event object: %v", err)
	}
	e := &Event{Source: p.cfg.Source, Body: body}
	if r != nil {
		e.Header = r.Header
		for _, h := range p.idHeaders {
			if v := r.Header[h]; len(v) > 0 {
				e.ID = v[0]
				break
			}
		}
	}

	typ := spans[p.typ]
	if !typ.Found() || body[typ.Start] != '"' || typ.End-typ.Start < 3 {
		return nil, p.malformed("no event type (a non-empty string) at %q", p.cfg.Type)
	}
	var idSpan jsonscan.Span
	if e.ID == "" && p.id >= 0 {
		idSpan = spans[p.id]
		if idSpan.Found() && body[idSpan.Start] != '"' && !isNumber(body[idSpan.Start]) {
			return nil, p.malformed("event ID at %q is neither a string nor a number", p.cfg.ID)
		}
	}
	if err := p.setIDAndType(e, body, idSpan, typ); err != nil {
		return nil, err
	}

	if p.data >= 0 {
		d := spans[p.data]
		if !d.Found() {
			return nil, p.malformed("no payload at %q", p.cfg.Data)
		}
		e.Data = body[d.Start:d.End]
	} else {
		e.Data = body
	}
	e.jsonData = e.Data // Scan validated the whole body

	var rawTime []byte
	if p.tm >= 0 && spans[p.tm].Found() {
		rawTime = body[spans[p.tm].Start:spans[p.tm].End]
		t, err := parseTime(rawTime)
		if err != nil {
			return nil, p.malformed("event time at %q is %s", p.cfg.Time, err.Error())
		}
		e.Time = t
	}

	if e.ID == "" {
		if !p.cfg.DeriveID {
			return nil, p.malformed("no event ID at %q", p.cfg.ID)
		}
		e.ID = deriveID(e.Type, rawTime, e.Data)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}

func isNumber(c byte) bool { return c == '-' || ('0' <= c && c <= '9') }

// setIDAndType decodes the type, and the ID when it comes from the body,
// into strings that share one allocation in the common case (plain ASCII).
func (p *JSONParser) setIDAndType(e *Event, body []byte, id, typ jsonscan.Span) error {
	typRaw := body[typ.Start+1 : typ.End-1]
	var idRaw []byte
	idQuoted := id.Found() && body[id.Start] == '"'
	switch {
	case idQuoted:
		idRaw = body[id.Start+1 : id.End-1]
	case id.Found():
		idRaw = body[id.Start:id.End] // a number, as written
	}
	if jsonscan.PlainASCII(typRaw) && jsonscan.PlainASCII(idRaw) {
		var b strings.Builder
		b.Grow(len(idRaw) + len(typRaw))
		b.Write(idRaw)
		b.Write(typRaw)
		all := b.String()
		if id.Found() {
			e.ID = all[:len(idRaw)]
		}
		e.Type = all[len(idRaw):]
	} else {
		t, ok := jsonscan.ExactStringValue(body[typ.Start:typ.End])
		if !ok {
			return p.malformed("event type at %q holds invalid UTF-8 or a lone surrogate escape", p.cfg.Type)
		}
		e.Type = t
		if idQuoted {
			if e.ID, ok = jsonscan.ExactStringValue(body[id.Start:id.End]); !ok {
				return p.malformed("event ID at %q holds invalid UTF-8 or a lone surrogate escape", p.cfg.ID)
			}
		} else if id.Found() {
			e.ID = string(idRaw)
		}
	}
	if e.Type == "" {
		return p.malformed("empty event type at %q", p.cfg.Type)
	}
	return nil
}

// errTime is why a time does not parse; its text quotes no value.
type errTime string

func (e errTime) Error() string { return string(e) }

// parseTime reads Unix seconds (an integer or a decimal) or an RFC 3339
// string, and returns the time in UTC, within the years 1970 to 9999 and,
// for a string, with an offset within RFC 3339's range: a time every
// encoder and store accepts (package eventtime says why). Its errors say
// what the value is not, never what it is.
func parseTime(raw []byte) (time.Time, error) {
	if raw[0] == '"' {
		s, ok := jsonscan.StringValue(raw)
		if !ok {
			return time.Time{}, errTime("not a valid string")
		}
		return eventtime.ParseRFC3339(s)
	}
	if string(raw) == "null" {
		return time.Time{}, nil
	}
	if !isNumber(raw[0]) {
		return time.Time{}, errTime("neither Unix seconds nor an RFC 3339 string")
	}
	var n int64
	integer := len(raw) <= 18
	for _, c := range raw {
		if c < '0' || c > '9' {
			integer = false
			break
		}
		n = n*10 + int64(c-'0')
	}
	if integer {
		return eventtime.Sane(time.Unix(n, 0))
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f < 0 || f >= float64(maxUnixSeconds) {
		return time.Time{}, errTime("a number out of range for an event time")
	}
	sec := int64(f)
	return eventtime.Sane(time.Unix(sec, int64((f-float64(sec))*1e9)))
}

// maxUnixSeconds is the start of year 10000, past every time eventtime
// accepts.
const maxUnixSeconds = 253402300800

// deriveID computes the stable ID documented on JSONConfig.DeriveID.
func deriveID(typ string, rawTime, data []byte) string {
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		compact.Reset()
		compact.Write(data) // scanned as valid already; keep the bytes
	}
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write(rawTime)
	h.Write([]byte{0})
	h.Write(compact.Bytes())
	return "sha256:" + hex.EncodeToString(h.Sum(nil)[:16])
}
