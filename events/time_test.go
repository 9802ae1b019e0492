package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/standardevent"
)

// H2 (issue 27): Go's time.Parse takes a +24:00 offset, and json.Marshal
// then refuses the time ("timezone hour outside of range"), so one signed
// Standard Webhooks delivery with such a timestamp failed every batch it
// joined, on every retry. A parser refuses such a time as malformed (400),
// naming the field and not the value, and returns every time it accepts in
// UTC. On the old parser the attack values parsed.
func TestEventTimeOutsideRFC3339IsMalformed(t *testing.T) {
	p := standardevent.NewParser("goconverso")
	parse := func(ts string) (*events.Event, error) {
		body := []byte(`{"type":"booking.reminder","timestamp":"` + ts + `","data":{"booking_id":"12345"}}`)
		r := httptest.NewRequest(http.MethodPost, "/webhooks/bookings", bytes.NewReader(body))
		r.Header.Set("Webhook-Id", "msg_2pQx7Lk9Vb3Nw3Rt5Yc8Hd1Zf")
		return p.Parse(r, body)
	}
	for _, ts := range []string{
		"2024-01-01T00:00:00+24:00", // the attack
		"2024-01-01T00:00:00-24:00",
		"2024-01-01T00:00:00+00:60",
		"2024-01-01T00:00:00+23:60",
		"2024-01-01T00:00:00.123456789+24:00",
	} {
		_, err := parse(ts)
		if !errors.Is(err, events.ErrMalformedEvent) {
			t.Errorf("timestamp %s: parsed (err %v), want ErrMalformedEvent", ts, err)
			continue
		}
		if !strings.Contains(err.Error(), `"timestamp"`) || !strings.Contains(err.Error(), "offset") || strings.Contains(err.Error(), ts[19:]) {
			t.Errorf("timestamp %s: error %q should name the field and the problem, not the value", ts, err)
		}
	}
	for ts, want := range map[string]time.Time{
		"2024-01-01T00:00:00+23:59":      time.Date(2023, 12, 31, 0, 1, 0, 0, time.UTC),
		"2024-01-01T00:00:00-23:59":      time.Date(2024, 1, 1, 23, 59, 0, 0, time.UTC),
		"2026-11-23T09:03:00.5+01:00":    time.Date(2026, 11, 23, 8, 3, 0, 500_000_000, time.UTC),
		"2026-11-23T08:03:00.000Z":       time.Date(2026, 11, 23, 8, 3, 0, 0, time.UTC),
		"9999-12-31T23:59:59.999999999Z": time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		e, err := parse(ts)
		if err != nil {
			t.Errorf("timestamp %s: %v", ts, err)
			continue
		}
		if !e.Time.Equal(want) || e.Time.Location() != time.UTC {
			t.Errorf("timestamp %s: Time %v, want %v in UTC", ts, e.Time, want)
		}
		if _, err := json.Marshal(e.Time); err != nil {
			t.Errorf("timestamp %s: the parsed time does not encode: %v", ts, err)
		}
	}
}

// Unix seconds come back in UTC too, not in the process's local zone.
func TestUnixEventTimeIsUTC(t *testing.T) {
	for _, at := range []string{`1795420800`, `1795420800.25`} {
		e, err := events.NewJSONParser(events.JSONConfig{Source: "s", ID: "id", Type: "type", Time: "at"}).
			Parse(nil, []byte(`{"id":"1","type":"t","at":`+at+`}`))
		if err != nil {
			t.Fatal(err)
		}
		if e.Time.Location() != time.UTC {
			t.Errorf("%s: Time %v is in %v", at, e.Time, e.Time.Location())
		}
	}
}

// FuzzEventTimeEncodes: every time a parser accepts is in UTC and survives
// json.Marshal, the encoder a queue or store uses. The seed corpus holds the
// attack, which fails on the old parser.
func FuzzEventTimeEncodes(f *testing.F) {
	for _, at := range []string{
		`"2024-01-01T00:00:00+24:00"`, `"2024-01-01T00:00:00-24:00"`, `"2024-01-01T00:00:00+00:60"`,
		`"2026-11-23T08:00:00Z"`, `"2026-11-23T08:00:00.000+23:59"`, `"9999-12-31T23:59:59Z"`, `"0001-01-01T00:00:00Z"`,
		`1795420800`, `1795420800.999999999`, `253402300799`, `253402300800`, `-1`, `1e300`, `0`, `null`,
	} {
		f.Add([]byte(`{"id":"1","type":"t","at":` + at + `}`))
	}
	p := events.NewJSONParser(events.JSONConfig{Source: "s", ID: "id", Type: "type", Time: "at"})
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := p.Parse(nil, body)
		if err != nil {
			return
		}
		if e.Time.IsZero() {
			return
		}
		if e.Time.Location() != time.UTC {
			t.Fatalf("%s: Time %v is not in UTC", body, e.Time)
		}
		if _, err := json.Marshal(e.Time); err != nil {
			t.Fatalf("%s: Time %v does not encode: %v", body, e.Time, err)
		}
	})
}
