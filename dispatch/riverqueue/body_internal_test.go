package riverqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/riverqueue/river"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
)

// A body that is text is stored as it arrived, a JSON string of exactly its
// bytes; any other body base64-encoded. Either reads back as the bytes
// verified, with the payload where it was.
func TestBodyStoredAsItArrived(t *testing.T) {
	for _, c := range []struct {
		name string
		body []byte
		data []byte // within body, or nil
		text bool
	}{
		{"JSON", []byte(`{"id":"evt_1", "type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","name":"Zoë <&>"}}}` + "\n"), []byte(`{"object":{"id":"pi_1","name":"Zoë <&>"}}`), true},
		{"JSON with a \\u escape", []byte(`{"id":"evt_1","type":"t","data":{"note":"\u00e9\ud83d\ude00"}}`), []byte(`{"note":"\u00e9\ud83d\ude00"}`), true},
		{"form", []byte("MessageSid=SM1&MessageStatus=delivered&Body=caf%C3%A9+%26+more"), nil, true},
		{"empty", []byte{}, nil, true},
		{"not UTF-8", []byte("MessageSid=SM1&Body=\xff\xfe"), nil, false},
		{"a NUL", []byte("{\"id\":\"evt_1\"}\x00"), nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &events.Event{Source: "stripe", ID: "evt_1", Type: "payment_intent.succeeded", Body: c.body, Data: c.data}
			args, err := argsOf(e).insertable()
			if err != nil {
				t.Fatal(err)
			}
			encoded, err := json.Marshal(args) // as River encodes what a batch inserts
			if err != nil {
				t.Fatal(err)
			}
			var stored map[string]any
			if err := json.Unmarshal(encoded, &stored); err != nil {
				t.Fatalf("%s: %v", encoded, err)
			}
			if got := stored["body_encoding"] == bodyText; got != c.text {
				t.Errorf("stored as text %t, want %t: %s", got, c.text, encoded)
			}
			if c.text && stored["body"] != string(c.body) {
				t.Errorf("body stored as %q, want the body as it arrived", stored["body"])
			}
			var back jobArgs
			if err := json.Unmarshal(encoded, &back); err != nil {
				t.Fatal(err)
			}
			got := back.event()
			if !bytes.Equal(got.Body, c.body) || !bytes.Equal(got.Data, c.data) || got.Key() != e.Key() {
				t.Errorf("read back body %q data %q key %s, want %q %q %s", got.Body, got.Data, got.Key(), c.body, c.data, e.Key())
			}
		})
	}
}

// Jobs queued by a version that stored every body base64-encoded are read
// as they were, in encoding/json's key order and in jsonb's: a rolling
// upgrade runs them with the bytes verified. An encoding this version does
// not know fails the job (River retries it) instead of running it with
// the wrong body.
func TestOldJobsStillRead(t *testing.T) {
	body := `{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}`
	const old64 = "eyJpZCI6ImV2dF8xIiwidHlwZSI6InBheW1lbnRfaW50ZW50LnN1Y2NlZWRlZCIsImRhdGEiOnsib2JqZWN0Ijp7ImlkIjoicGlfMSJ9fX0="
	for _, encoded := range []string{
		`{"key":"stripe:evt_1","source":"stripe","id":"evt_1","type":"payment_intent.succeeded","time":"2024-01-01T00:00:00Z","header":{"Content-Type":["application/json"]},"body":"` + old64 + `","data_start":55,"data_end":79}`,
		`{"id": "evt_1", "key": "stripe:evt_1", "body": "` + old64 + `", "time": "2024-01-01T00:00:00Z", "type": "payment_intent.succeeded", "header": {"Content-Type": ["application/json"]}, "source": "stripe", "data_end": 79, "data_start": 55}`,
	} {
		var args jobArgs
		if err := json.Unmarshal([]byte(encoded), &args); err != nil {
			t.Fatalf("%s: %v", encoded, err)
		}
		e := args.event()
		if string(e.Body) != body || string(e.Data) != `{"object":{"id":"pi_1"}}` || e.Key() != "stripe:evt_1" ||
			e.Header.Get("Content-Type") != "application/json" || e.Time.Year() != 2024 {
			t.Errorf("an old job read as body %q data %q key %s header %v time %s", e.Body, e.Data, e.Key(), e.Header, e.Time)
		}
		if key, err := argsKey([]byte(encoded)); err != nil || key != "stripe:evt_1" {
			t.Errorf("argsKey of an old job: %q, %v", key, err)
		}
	}
	var args jobArgs
	if err := json.Unmarshal([]byte(`{"key":"stripe:evt_1","body":"{}","body_encoding":"zstd"}`), &args); err == nil {
		t.Errorf("an unknown body encoding read as %q", args.Body)
	}
}

// A row the database refuses when its body is stored as text (a character
// a non-UTF-8 database cannot hold) is written once more base64-encoded,
// and answered by what that write did, not 400.
func TestRefusedTextBodyIsWrittenAsBase64(t *testing.T) {
	var tries []string
	b := &batcher{
		refused: func(err error) bool { return refusedRow(err, false) },
		insert: func(_ context.Context, params []river.InsertManyParams) ([]bool, error) {
			stored := params[0].Args.(storedArgs)
			var back jobArgs
			if encoded, err := json.Marshal(stored); err != nil || json.Unmarshal(encoded, &back) != nil || string(back.Body) != `{"name":"Zoë"}` {
				t.Fatalf("written as %+v: does not read back", stored)
			}
			tries = append(tries, stored.BodyEncoding)
			if stored.BodyEncoding == bodyText {
				return nil, sqlState("22P05") // untranslatable character
			}
			return []bool{true}, nil
		},
	}
	args, err := argsOf(&events.Event{Source: "stripe", ID: "evt_1", Type: "t", Body: []byte(`{"name":"Zoë"}`), Header: http.Header{}}).insertable()
	if err != nil {
		t.Fatal(err)
	}
	r := &ackRequest{key: args.Key, params: river.InsertManyParams{Args: args}, done: make(chan dispatch.Result, 1)}
	b.write(context.Background(), []job{{params: r.params, deliveries: []*ackRequest{r}}})
	if res := <-r.done; res.Outcome != dispatch.OutcomeQueued || len(tries) != 2 || tries[1] != "" {
		t.Errorf("outcome %s after writes as %q, want queued after text then base64", res.Outcome, tries)
	}
}

// BenchmarkJobArgs measures what a delivery's job args cost before River
// writes them: the args of the recorded 2 KiB payment_intent.succeeded
// event (compacted, as Stripe sends it) checked (insertable), then encoded
// as River does (json.Marshal of the args), with the body
// stored as text and, beside it, base64-encoded as every job stored it
// before; it reports the size of the args the database stores.
//
//	go test -run '^$' -bench JobArgs -benchmem ./dispatch/riverqueue
func BenchmarkJobArgs(b *testing.B) {
	raw, err := os.ReadFile("../../testdata/stripe/payment_intent.succeeded.json")
	if err != nil {
		b.Fatal(err)
	}
	var body bytes.Buffer
	if err := json.Compact(&body, raw); err != nil {
		b.Fatal(err)
	}
	e, err := stripeevent.NewParser().Parse(nil, body.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	e.Header = http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Stripe-Signature": {"t=1795420801,v1=" + strings.Repeat("0", 64)}}
	for _, encoding := range []string{"text", "base64"} {
		b.Run(encoding, func(b *testing.B) {
			var size int
			b.ReportAllocs()
			for b.Loop() {
				args := argsOf(e)
				if encoding == "base64" {
					args.base64 = true
				}
				insert, err := args.insertable()
				if err != nil {
					b.Fatal(err)
				}
				stored, err := json.Marshal(insert) // River's
				if err != nil {
					b.Fatal(err)
				}
				size = len(stored)
			}
			b.ReportMetric(float64(size), "args-bytes")
		})
	}
}
