package jsonscan_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hookkit/hookkit/events/internal/jsonscan"
)

func TestLookupText(t *testing.T) {
	l := jsonscan.NewLookup("id", "object.status")
	for _, c := range []struct {
		doc        string
		id, status string
		idErr      error
		statusErr  error
		findErr    bool
	}{
		{doc: `{"id":"sub_1","object":{"status":"active"}}`, id: "sub_1", status: "active"},
		{doc: `{"object":{"status":"a"},"id":"x","id":"sub_2"}`, id: "sub_2", status: "a"}, // the last of a repeated key
		{doc: `{"id":"caf\u00e9","object":{"status":"\u0061"}}`, id: "café", status: "a"},
		{doc: `{"id":"café"}`, id: "café", statusErr: jsonscan.ErrAbsent},
		{doc: `{"id":null,"object":null}`, idErr: jsonscan.ErrAbsent, statusErr: jsonscan.ErrAbsent},
		{doc: `{"id":12,"object":{"status":["a"]}}`, idErr: jsonscan.ErrNotString, statusErr: jsonscan.ErrNotString},
		{doc: `{"id":"a\ud800","object":{"status":"\udc00"}}`, idErr: jsonscan.ErrInexact, statusErr: jsonscan.ErrInexact},
		{doc: "{\"id\":\"a\xff\"}", idErr: jsonscan.ErrInexact, statusErr: jsonscan.ErrAbsent},
		{doc: `{"Id":"x","id":"y"}`, findErr: true}, // encoding/json would read "Id" as id
		{doc: `{"id":"x"`, findErr: true},
		{doc: `["id"]`, findErr: true},
		{doc: `{"id":"x"} {}`, findErr: true},
	} {
		v, err := l.Find([]byte(c.doc))
		if c.findErr {
			if err == nil {
				t.Errorf("%s: Find succeeded", c.doc)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.doc, err)
			continue
		}
		for _, f := range []struct {
			i    int
			want string
			err  error
		}{{0, c.id, c.idErr}, {1, c.status, c.statusErr}} {
			got, err := v.Text(f.i)
			if !errors.Is(err, f.err) || string(got) != f.want {
				t.Errorf("%s: Text(%d) = %q, %v; want %q, %v", c.doc, f.i, got, err, f.want, f.err)
			}
		}
	}
}

func TestNewLookupRefusesWhatCannotWork(t *testing.T) {
	for _, paths := range [][]string{nil, {"a", "b", "c", "d", "e", "f", "g", "h", "i"}, {"a..b"}, {""}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewLookup(%q) did not panic", paths)
				}
			}()
			jsonscan.NewLookup(paths...)
		}()
	}
}

// FuzzLookup holds Find and Text to encoding/json: a document Find
// accepts is one json.Unmarshal accepts, and a string Text returns is the
// string encoding/json decodes there (the last of a repeated key, as
// both read it), returned only when it holds valid UTF-8 and no lone
// surrogate.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{
		`{"id":"pi_1","object":"payment_intent","status":"succeeded","data":{"object":{"id":"x"}}}`,
		`{"booking_id":"b7e8f9a0-1234","data":{"object":{"id":"\u0041"}}}`,
		`{"id":"a","id":"b"}`, `{"id":1}`, `{"id":null}`, `{"ID":"a"}`, `{"id":"\ud83d\ude00"}`,
		`{"data":{"object":{"id":"\ud800"}}}`, "{\"id\":\"\xc3\"}", `{"id":"a\"b"}`, `{}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	l := jsonscan.NewLookup("id", "data.object.id")
	f.Fuzz(func(t *testing.T, doc []byte) {
		v, err := l.Find(doc)
		if err != nil {
			return
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(doc, &top); err != nil {
			t.Fatalf("Find accepted a document encoding/json refuses: %v", err)
		}
		var nested json.RawMessage
		if data, ok := top["data"]; ok {
			var d map[string]json.RawMessage
			if json.Unmarshal(data, &d) == nil {
				if o, ok := d["object"]; ok {
					var obj map[string]json.RawMessage
					if json.Unmarshal(o, &obj) == nil {
						nested = obj["id"]
					}
				}
			}
		}
		for i, raw := range []json.RawMessage{top["id"], nested} {
			got, err := v.Text(i)
			var want *string
			if raw != nil {
				json.Unmarshal(raw, &want) // nil for null; an error for a non-string
			}
			switch {
			case raw == nil || string(raw) == "null":
				if !errors.Is(err, jsonscan.ErrAbsent) {
					t.Fatalf("path %d absent or null, Text = %q, %v", i, got, err)
				}
			case raw[0] != '"':
				if !errors.Is(err, jsonscan.ErrNotString) {
					t.Fatalf("path %d not a string, Text = %q, %v", i, got, err)
				}
			case err == nil:
				if want == nil || string(got) != *want {
					t.Fatalf("path %d: Text = %q, encoding/json reads %v", i, got, want)
				}
			case errors.Is(err, jsonscan.ErrInexact):
				// encoding/json decodes it with U+FFFD for what is invalid.
				if want != nil && utf8.ValidString(*want) && !strings.ContainsRune(*want, utf8.RuneError) {
					t.Fatalf("path %d: Text refused a string encoding/json reads exactly as %q", i, *want)
				}
			default:
				t.Fatalf("path %d: unexpected error %v", i, err)
			}
		}
	})
}
