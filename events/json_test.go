package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/verify"
)

func stripeLike(t testing.TB) *events.JSONParser {
	t.Helper()
	p, err := events.NewJSONParserSafely(events.JSONConfig{Source: "stripe", ID: "id", Type: "type", Time: "created", Data: "data.object"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mustMalformed fails t unless err wraps ErrMalformedEvent.
func mustMalformed(t testing.TB, err error, what string) {
	t.Helper()
	if !errors.Is(err, events.ErrMalformedEvent) {
		t.Fatalf("%s: err = %v, want ErrMalformedEvent", what, err)
	}
}

// Keys that differ from an envelope key only in case would be read one way
// here and another by encoding/json (case-insensitive, last one wins), and
// so by stripe-go and the typed decode: such bodies are refused.
func TestJSONParserRefusesKeysThatDifferOnlyInCase(t *testing.T) {
	p := stripeLike(t)
	for name, body := range map[string]string{
		"id and ID":           `{"id":"evt_a","ID":"evt_b","type":"x.y","created":1,"data":{"object":{}}}`,
		"ID before id":        `{"ID":"evt_b","id":"evt_a","type":"x.y","created":1,"data":{"object":{}}}`,
		"type and TYPE":       `{"id":"evt_a","type":"x.y","TYPE":"charge.refunded","created":1,"data":{"object":{}}}`,
		"data and Data":       `{"id":"evt_a","type":"x.y","created":1,"data":{"object":{"amount":1}},"Data":{"object":{"amount":9}}}`,
		"object and Object":   `{"id":"evt_a","type":"x.y","created":1,"data":{"object":{},"Object":{"amount":9}}}`,
		"escaped ID":          `{"id":"evt_a","\u0049D":"evt_b","type":"x.y","created":1,"data":{"object":{}}}`,
		"only the wrong case": `{"Id":"evt_b","type":"x.y","created":1,"data":{"object":{}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.Parse(nil, []byte(body))
			mustMalformed(t, err, name)
		})
	}
	// encoding/json folds as Unicode does: the Kelvin sign is a "k".
	kinds, err := events.NewJSONParserSafely(events.JSONConfig{Source: "s", ID: "id", Type: "kind"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = kinds.Parse(nil, []byte("{\"id\":\"a\",\"kind\":\"x\",\"\u212aind\":\"y\"}"))
	mustMalformed(t, err, "Kelvin sign")

	// Case differences elsewhere in the body are the payload's business.
	e, err := p.Parse(nil, []byte(`{"id":"evt_a","type":"x.y","created":1,"data":{"object":{"id":1,"ID":2}},"Livemode":true,"livemode":false}`))
	if err != nil || e.ID != "evt_a" {
		t.Fatalf("%v, %v", e, err)
	}
}

func TestJSONParser(t *testing.T) {
	p := stripeLike(t)
	tests := []struct {
		name     string
		body     string
		wantErr  bool
		id, typ  string
		data     string
		unixTime int64
	}{
		{name: "envelope", body: `{"id":"evt_1","type":"payment_intent.succeeded","created":1795420801,"data":{"object":{"id":"pi_1","amount":5000}}}`,
			id: "evt_1", typ: "payment_intent.succeeded", data: `{"id":"pi_1","amount":5000}`, unixTime: 1795420801},
		{name: "fields in any order, pretty", body: "{\n  \"type\": \"charge.refunded\",\n  \"data\": {\n    \"previous_attributes\": {\"refunded\": false},\n    \"object\": [1, 2]\n  },\n  \"created\": 5,\n  \"id\": \"evt_2\"\n}\n",
			id: "evt_2", typ: "charge.refunded", data: `[1, 2]`, unixTime: 5},
		{name: "unknown api_version and fields", body: `{"id":"evt_3","api_version":"2099-01-01.future","type":"x.y","created":1,"data":{"object":{}},"new_field":[true,null,{"a":-1.5e3}]}`,
			id: "evt_3", typ: "x.y", data: `{}`, unixTime: 1},
		{name: "escaped strings", body: `{"id":"evt_\u0034","type":"a\/b","created":1,"data":{"object":"\u00e9"}}`,
			id: "evt_4", typ: "a/b", data: `"\u00e9"`, unixTime: 1},
		{name: "escaped keys", body: `{"\u0069d":"evt_5","type":"t","created":1,"data":{"obj\u0065ct":null}}`,
			id: "evt_5", typ: "t", data: `null`, unixTime: 1},
		{name: "numeric id", body: `{"id":42,"type":"t","created":1,"data":{"object":1}}`, id: "42", typ: "t", data: "1", unixTime: 1},
		{name: "repeated key: last wins", body: `{"id":"a","id":"b","type":"t","data":{"object":1},"data":{"object":2}}`,
			id: "b", typ: "t", data: "2"},
		{name: "no time", body: `{"id":"a","type":"t","data":{"object":1}}`, id: "a", typ: "t", data: "1"},
		{name: "not JSON", body: `id=evt_1&type=x`, wantErr: true},
		{name: "array document", body: `[{"id":"a","type":"t"}]`, wantErr: true},
		{name: "empty body", body: ``, wantErr: true},
		{name: "trailing data", body: `{"id":"a","type":"t","data":{"object":1}} {}`, wantErr: true},
		{name: "invalid JSON deep in the payload", body: `{"id":"a","type":"t","data":{"object":{"x":[1,2,}}}`, wantErr: true},
		{name: "control character in a string", body: "{\"id\":\"a\nb\",\"type\":\"t\",\"data\":{\"object\":1}}", wantErr: true},
		{name: "no type", body: `{"id":"a","data":{"object":1}}`, wantErr: true},
		{name: "type not a string", body: `{"id":"a","type":7,"data":{"object":1}}`, wantErr: true},
		{name: "empty type", body: `{"id":"a","type":"","data":{"object":1}}`, wantErr: true},
		{name: "no id", body: `{"type":"t","data":{"object":1}}`, wantErr: true},
		{name: "id an object", body: `{"id":{},"type":"t","data":{"object":1}}`, wantErr: true},
		{name: "no payload", body: `{"id":"a","type":"t","data":{}}`, wantErr: true},
		{name: "data not an object", body: `{"id":"a","type":"t","data":"object"}`, wantErr: true},
		{name: "bad time", body: `{"id":"a","type":"t","created":"yesterday","data":{"object":1}}`, wantErr: true},
		// Times no sender's clock gives: 1e300 would overflow into 1677.
		{name: "time 1e300", body: `{"id":"a","type":"t","created":1e300,"data":{"object":1}}`, wantErr: true},
		{name: "time before 1970", body: `{"id":"a","type":"t","created":-1,"data":{"object":1}}`, wantErr: true},
		{name: "time past 9999", body: `{"id":"a","type":"t","created":253402300800,"data":{"object":1}}`, wantErr: true},
		{name: "RFC 3339 time in year 1", body: `{"id":"a","type":"t","created":"0001-01-01T00:00:00Z","data":{"object":1}}`, wantErr: true},
		// Bytes no store can hold: PostgreSQL's text refuses a NUL.
		{name: "NUL in the id", body: `{"id":"evt\u0000x","type":"t","data":{"object":1}}`, wantErr: true},
		{name: "NUL in the type", body: `{"id":"a","type":"t\u0000","data":{"object":1}}`, wantErr: true},
		{name: "C1 control in the id", body: `{"id":"evt\u0085x","type":"t","data":{"object":1}}`, wantErr: true},
		{name: "escape in the type", body: `{"id":"a","type":"t\u001b[2J","data":{"object":1}}`, wantErr: true},
		{name: "line separator in the id", body: `{"id":"a\u2028b","type":"t","data":{"object":1}}`, wantErr: true},
		// encoding/json decodes invalid UTF-8 and a lone surrogate escape
		// to U+FFFD, so "evt_\ud800" and "evt_\udc00" would be one key and
		// the second event a "duplicate" never run (L3, issue 27): in an ID
		// or a type they are malformed instead. Elsewhere in the body they
		// are the payload's business.
		{name: "invalid UTF-8 in the id", body: "{\"id\":\"a\xffb\",\"type\":\"t\",\"data\":{\"object\":1}}", wantErr: true},
		{name: "lone surrogate in the id", body: `{"id":"a\ud800b","type":"t","data":{"object":1}}`, wantErr: true},
		{name: "lone low surrogate in the id", body: `{"id":"evt_\udc00","type":"t","data":{"object":1}}`, wantErr: true},
		{name: "high surrogate then no low one", body: `{"id":"evt_\ud800\u0041","type":"t","data":{"object":1}}`, wantErr: true},
		{name: "surrogate encoded in UTF-8", body: "{\"id\":\"evt_\xed\xa0\x80\",\"type\":\"t\",\"data\":{\"object\":1}}", wantErr: true},
		{name: "truncated UTF-8 in the type", body: "{\"id\":\"a\",\"type\":\"t\xc3\",\"data\":{\"object\":1}}", wantErr: true},
		{name: "lone surrogate in the type", body: `{"id":"a","type":"t\udfff","data":{"object":1}}`, wantErr: true},
		{name: "surrogate pair in the id", body: `{"id":"evt_\ud83d\ude00","type":"t","data":{"object":1}}`, id: "evt_\U0001F600", typ: "t", data: "1"},
		{name: "an escaped U+FFFD is a character", body: `{"id":"evt_\ufffd","type":"t","data":{"object":1}}`, id: "evt_\ufffd", typ: "t", data: "1"},
		{name: "lone surrogate in the payload", body: `{"id":"a","type":"t","data":{"object":"\ud800"}}`, id: "a", typ: "t", data: `"\ud800"`},
		{name: "non-ASCII id", body: `{"id":"évt_1","type":"t","data":{"object":1}}`, id: "évt_1", typ: "t", data: "1"},
		{name: "deep nesting", body: `{"id":"a","type":"t","data":{"object":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			e, err := p.Parse(nil, body)
			if tt.wantErr {
				mustMalformed(t, err, tt.name)
				if !strings.HasPrefix(err.Error(), "stripe: ") {
					t.Errorf("error %q does not name the source", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.ID != tt.id || e.Type != tt.typ || e.Source != "stripe" || e.Key() != "stripe:"+tt.id {
				t.Errorf("ID %q type %q source %q key %q; want %q %q", e.ID, e.Type, e.Source, e.Key(), tt.id, tt.typ)
			}
			if string(e.Data) != tt.data || string(e.Body) != tt.body {
				t.Errorf("Data %q Body %q", e.Data, e.Body)
			}
			if tt.unixTime != 0 && e.Time.Unix() != tt.unixTime || tt.unixTime == 0 && !e.Time.IsZero() {
				t.Errorf("Time %v, want Unix %d", e.Time, tt.unixTime)
			}
		})
	}
}

func TestJSONParserTimeFormats(t *testing.T) {
	p, err := events.NewJSONParserSafely(events.JSONConfig{Source: "s", ID: "id", Type: "type", Time: "at"})
	if err != nil {
		t.Fatal(err)
	}
	for at, want := range map[string]time.Time{
		`1795420800`:                       time.Unix(1795420800, 0),
		`1795420800.25`:                    time.Unix(1795420800, 250_000_000),
		`"2026-11-23T08:00:00Z"`:           time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC),
		`"2026-11-23T09:00:00.5+01:00"`:    time.Date(2026, 11, 23, 8, 0, 0, 500_000_000, time.UTC),
		`null`:                             {},
		`"2026-11-23T08:00:00.123456789Z"`: time.Date(2026, 11, 23, 8, 0, 0, 123456789, time.UTC),
	} {
		e, err := p.Parse(nil, []byte(`{"id":"1","type":"t","at":`+at+`}`))
		if err != nil {
			t.Fatalf("%s: %v", at, err)
		}
		if !want.Equal(e.Time) {
			t.Errorf("%s: got %v want %v", at, e.Time, want)
		}
	}
}

func TestJSONParserIDFromHeader(t *testing.T) {
	p, err := events.NewJSONParserSafely(events.JSONConfig{Source: "std", IDHeaders: []string{"webhook-id", "svix-id"}, Type: "type", Data: "data"})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"booking.created","data":{"booking_id":"1"}}`)
	parse := func(h http.Header) (*events.Event, error) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		for k, v := range h {
			r.Header[k] = v
		}
		return p.Parse(r, body)
	}
	for _, tt := range []struct {
		name string
		h    http.Header
		id   string // "" means malformed
	}{
		{"only the second header", http.Header{"Svix-Id": {"msg_svix"}}, "msg_svix"},
		{"the first configured header wins", http.Header{"Svix-Id": {"msg_svix"}, "Webhook-Id": {"msg_std"}}, "msg_std"},
		// The first header present decides: an empty one is no ID, never
		// a cue to read the next header, which its verifier did not sign.
		{"present but empty", http.Header{"Webhook-Id": {""}, "Svix-Id": {"msg_svix"}}, ""},
		{"repeated: the first value", http.Header{"Webhook-Id": {"msg_1", "msg_2"}}, "msg_1"},
		{"no ID anywhere", http.Header{}, ""},
	} {
		e, err := parse(tt.h)
		if tt.id == "" {
			mustMalformed(t, err, tt.name)
			continue
		}
		if err != nil || e.ID != tt.id {
			t.Errorf("%s: %v, %v; want ID %q", tt.name, e, err, tt.id)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Webhook-Id", "msg_std")
	e, err := p.Parse(r, body)
	if err != nil || !reflect.DeepEqual(e.Header, r.Header) {
		t.Errorf("Header %v, %v", e.Header, err)
	}
}

func TestJSONParserDerivedID(t *testing.T) {
	p, err := events.NewJSONParserSafely(events.JSONConfig{Source: "goconverso", Type: "event", Time: "timestamp", Data: "data", DeriveID: true})
	if err != nil {
		t.Fatal(err)
	}
	parse := func(body string) string {
		e, err := p.Parse(nil, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(e.ID, "sha256:") || len(e.ID) != len("sha256:")+32 {
			t.Fatalf("ID %q", e.ID)
		}
		return e.ID
	}
	a := parse(`{"event":"booking.created","timestamp":"2026-11-23T08:00:00Z","data":{"booking_id":"12345","status":"pending"}}`)
	if b := parse("{\n  \"event\": \"booking.created\",\n  \"timestamp\": \"2026-11-23T08:00:00Z\",\n  \"data\": {\"booking_id\": \"12345\", \"status\": \"pending\"}\n}"); b != a {
		t.Errorf("a retry with other whitespace derives %q, not %q", b, a)
	}
	for _, other := range []string{
		`{"event":"booking.confirmed","timestamp":"2026-11-23T08:00:00Z","data":{"booking_id":"12345","status":"pending"}}`,
		`{"event":"booking.created","timestamp":"2026-11-23T08:00:01Z","data":{"booking_id":"12345","status":"pending"}}`,
		`{"event":"booking.created","timestamp":"2026-11-23T08:00:00Z","data":{"booking_id":"12346","status":"pending"}}`,
	} {
		if parse(other) == a {
			t.Errorf("%s derives the same ID", other)
		}
	}
}

func TestNewJSONParserRefusesBadConfig(t *testing.T) {
	for _, tt := range []struct {
		name, says string
		cfg        events.JSONConfig
	}{
		{"no source", "needs a Source", events.JSONConfig{ID: "id", Type: "type"}},
		{"no type", "needs a Type path", events.JSONConfig{Source: "s", ID: "id"}},
		{"no id", "needs an ID path", events.JSONConfig{Source: "s", Type: "type"}},
		{"empty key", `path "a..b" has an empty key`, events.JSONConfig{Source: "s", ID: "id", Type: "a..b"}},
		{"trailing dot", `path "data." has an empty key`, events.JSONConfig{Source: "s", ID: "id", Type: "type", Data: "data."}},
		{"dot prefix", `path ".id" has an empty key`, events.JSONConfig{Source: "s", ID: ".id", Type: "type"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := events.NewJSONParserSafely(tt.cfg)
			if !errors.Is(err, events.ErrInvalidConfig) || !errors.Is(err, verify.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig (one sentinel for every constructor)", err)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
			defer func() {
				if p, ok := recover().(error); !ok || p.Error() != err.Error() {
					t.Errorf("NewJSONParser panicked with %v, want %v", p, err)
				}
			}()
			events.NewJSONParser(tt.cfg)
		})
	}
}

// FuzzJSONScan checks the envelope scanner against encoding/json: it
// accepts exactly the JSON objects json.Valid accepts, and finds at each
// path exactly the raw value encoding/json finds there.
func FuzzJSONScan(f *testing.F) {
	for _, s := range []string{
		`{"id":"evt_1","type":"t","created":1,"data":{"object":{"a":[1,2,{"b":null}]}}}`,
		`{"id":1e5,"type":"\u0074","data":{"object":"\ud83d\ude00"}}`,
		`{"id":"a","id":"b","type":"t","data":{"object":1},"data":2}`,
		`{"type":"t" , "id" : "x" , "data":{ "object" : [ ] } }`,
		`{"id":"\ud800","type":"t","data":{"object":0}}`,
		`{"id":"a","type":"t","data":{"object":-0.0e+1}}`,
		`{"id":"a","type":"t","data":{"object":01}}`,
		"{\"id\":\"a\xff\",\"type\":\"t\",\"data\":{\"object\":true}}",
		`{}`, `[]`, ` {"a":1} `, `{"a":1}x`, `{"a":"b\"}`, `{"a":tru}`,
	} {
		f.Add([]byte(s))
	}
	p, err := events.NewJSONParserSafely(events.JSONConfig{Source: "s", ID: "id", Type: "type", Data: "data.object", DeriveID: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := p.Parse(nil, body)
		valid := json.Valid(body) && bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{"))
		if !valid {
			if err == nil {
				t.Fatalf("accepted invalid JSON %q", body)
			}
			if !errors.Is(err, events.ErrMalformedEvent) {
				t.Fatalf("error %v does not wrap ErrMalformedEvent", err)
			}
			return
		}
		// What encoding/json finds at the paths.
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			t.Fatalf("encoding/json refuses what json.Valid accepts? %v", err)
		}
		var typ string
		typErr := json.Unmarshal(top["type"], &typ)
		var data map[string]json.RawMessage
		_ = json.Unmarshal(top["data"], &data)
		obj, hasObj := data["object"]
		if _, isString := top["type"]; !isString || typErr != nil || typ == "" || !hasObj || !bytes.HasPrefix(top["type"], []byte(`"`)) {
			if err == nil {
				t.Fatalf("accepted %q without a string type and data.object", body)
			}
			return
		}
		rawID, hasID := top["id"]
		if hasID && (bytes.HasPrefix(rawID, []byte("{")) || bytes.HasPrefix(rawID, []byte("[")) ||
			bytes.Equal(rawID, []byte("true")) || bytes.Equal(rawID, []byte("false")) || bytes.Equal(rawID, []byte("null"))) {
			if err == nil {
				t.Fatalf("accepted an ID that is neither string nor number: %q", rawID)
			}
			return
		}
		var id string
		if bytes.HasPrefix(rawID, []byte(`"`)) {
			_ = json.Unmarshal(rawID, &id)
		}
		if err != nil && unstorable(id+typ) {
			return // a control character, or invalid UTF-8 that encoding/json replaced
		}
		if err != nil && !caseCollision(top, data) {
			t.Fatalf("refused valid %q: %v", body, err)
		}
		if err != nil {
			return // a key that differs from an envelope key only in case
		}
		if e.Type != typ {
			t.Fatalf("type %q, encoding/json says %q", e.Type, typ)
		}
		if string(e.Data) != string(obj) {
			t.Fatalf("data.object %q, encoding/json says %q", e.Data, obj)
		}
		if hasID && bytes.HasPrefix(rawID, []byte(`"`)) {
			var id string
			if err := json.Unmarshal(rawID, &id); err == nil && id != "" && e.ID != id {
				t.Fatalf("id %q, encoding/json says %q", e.ID, id)
			}
		}
	})
}

// unstorable reports whether s, as encoding/json decoded it, holds what
// Event.Validate refuses: a control character, a line or paragraph
// separator, or U+FFFD (where encoding/json replaced invalid UTF-8).
func unstorable(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError
	})
}

// caseCollision reports whether a key of top or data equals an envelope key
// only when case is ignored, which the parser refuses.
func caseCollision(top, data map[string]json.RawMessage) bool {
	collides := func(m map[string]json.RawMessage, names ...string) bool {
		for k := range m {
			for _, n := range names {
				if k != n && strings.EqualFold(k, n) {
					return true
				}
			}
		}
		return false
	}
	return collides(top, "id", "type", "data") || collides(data, "object")
}

// FuzzEnvelopeAgreesWithStructDecode checks the envelope against what
// encoding/json reads into a struct, as stripe-go and the typed decode do
// (case-insensitive keys, last one wins, repeated objects merged): whatever
// the parser accepts, json.Unmarshal into the struct accepts, with the same
// ID, type, time and payload bytes.
func FuzzEnvelopeAgreesWithStructDecode(f *testing.F) {
	for _, s := range []string{
		`{"id":"evt_1","type":"t","created":1,"data":{"object":{"a":[1,2,{"b":null}]}}}`,
		`{"id":"a","ID":"b","type":"t","created":2,"data":{"object":1}}`,
		`{"id":"a","type":"t","Type":"u","data":{"object":1}}`,
		`{"id":"a","type":"t","data":{"object":1},"DATA":{"object":2}}`,
		`{"id":"a","type":"t","data":{"object":1,"OBJECT":2}}`,
		`{"id":"a","type":"t","data":{"object":1},"data":{"x":2}}`,
		`{"id":"a","type":"t","created":1.5,"data":{"object":null}}`,
		`{"id":7,"type":"t","created":"2026-11-23T08:00:00Z","data":{"object":"x"}}`,
		"{\"id\":\"a\",\"type\":\"t\",\"data\":{\"\u017fbject\":1,\"object\":2}}",
		`{"\u0069d":"a","type":"t","data":{"object":[]}}`,
	} {
		f.Add([]byte(s))
	}
	p, err := events.NewJSONParserSafely(events.JSONConfig{Source: "s", ID: "id", Type: "type", Time: "created", Data: "data.object"})
	if err != nil {
		f.Fatal(err)
	}
	type envelope struct {
		ID      json.RawMessage `json:"id"`
		Type    json.RawMessage `json:"type"`
		Created json.RawMessage `json:"created"`
		Data    struct {
			Object json.RawMessage `json:"object"`
		} `json:"data"`
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := p.Parse(nil, body)
		if err != nil {
			return // refusing is always safe; accepting must agree
		}
		var env envelope
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
		}
		var typ string
		if err := json.Unmarshal(env.Type, &typ); err != nil || typ != e.Type {
			t.Fatalf("type %q; encoding/json reads %s (%v)", e.Type, env.Type, err)
		}
		if string(env.Data.Object) != string(e.Data) {
			t.Fatalf("data.object %q; encoding/json reads %q", e.Data, env.Data.Object)
		}
		var id string
		if bytes.HasPrefix(env.ID, []byte(`"`)) {
			if err := json.Unmarshal(env.ID, &id); err != nil {
				t.Fatalf("id %s does not decode: %v", env.ID, err)
			}
		} else {
			id = string(env.ID)
		}
		if id != e.ID {
			t.Fatalf("id %q; encoding/json reads %q", e.ID, id)
		}
		var sec int64
		if json.Unmarshal(env.Created, &sec) == nil && len(env.Created) > 0 && e.Time.Unix() != sec {
			t.Fatalf("time %v; encoding/json reads %d", e.Time, sec)
		}
	})
}
