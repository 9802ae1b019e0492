package twilioevent_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/twilioevent"
)

func TestParser(t *testing.T) {
	p := twilioevent.NewParser()
	tests := []struct {
		name, body, token string
		typ, id           string
		wantErr           bool
	}{
		// The unsigned I-Twilio-Idempotency-Token never becomes the ID: a
		// replay with a fresh token must be a duplicate.
		{name: "sms with token", body: "MessageSid=SM1&MessageStatus=delivered", token: "tok-1", typ: "message.delivered", id: "SM1:delivered"},
		{name: "sms without token", body: "MessageSid=SM1&MessageStatus=sent", typ: "message.sent", id: "SM1:sent"},
		{name: "legacy SmsStatus", body: "MessageSid=SM1&SmsStatus=queued", typ: "message.queued", id: "SM1:queued"},
		{name: "call", body: "CallSid=CA1&CallStatus=no-answer", typ: "call.no-answer", id: "CA1:no-answer"},
		{name: "not a form", body: "MessageSid=SM1&x=%zz", wantErr: true},
		{name: "no sid", body: "MessageStatus=delivered", wantErr: true},
		{name: "no status", body: "MessageSid=SM1", wantErr: true},
		{name: "status that would forge a type", body: "MessageSid=SM1&MessageStatus=a.b", wantErr: true},
		{name: "wildcard status", body: "CallSid=CA1&CallStatus=*", wantErr: true},
		{name: "bad timestamp", body: "CallSid=CA1&CallStatus=completed&Timestamp=yesterday", wantErr: true},
		{name: "NUL in the sid", body: "MessageSid=SM%00x&MessageStatus=sent", wantErr: true},
		{name: "invalid UTF-8 in the sid", body: "MessageSid=SM%FFx&MessageStatus=sent", wantErr: true},
		{name: "huge sid", body: "MessageSid=SM" + strings.Repeat("1", events.MaxIDBytes) + "&MessageStatus=sent", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/twilio", strings.NewReader(tt.body))
			if tt.token != "" {
				r.Header.Set("I-Twilio-Idempotency-Token", tt.token)
			}
			e, err := p.Parse(r, []byte(tt.body))
			if tt.wantErr {
				if !errors.Is(err, events.ErrMalformedEvent) {
					t.Fatalf("err = %v, want ErrMalformedEvent", err)
				}
				if strings.Contains(err.Error(), "yesterday") {
					t.Errorf("error %q echoes a value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Type != tt.typ || e.ID != tt.id {
				t.Errorf("type %q ID %q, want %q %q", e.Type, e.ID, tt.typ, tt.id)
			}
			if !e.Time.IsZero() {
				t.Errorf("a callback without Timestamp has no time, got %v", e.Time)
			}
			if string(e.Data) != tt.body {
				t.Errorf("Data %q", e.Data)
			}
		})
	}
}

// ReserveEasy documents its Twilio SMS status callback as the form
// MessageSid, SmsSid, AccountSid, From, To, MessageStatus, ApiVersion:
// every value is found in MessageStatus.
func TestReserveEasySMSCallback(t *testing.T) {
	form := url.Values{
		"MessageSid": {"SM9f8e7d6c5b4a39281706f5e4d3c2b1a0"}, "SmsSid": {"SM9f8e7d6c5b4a39281706f5e4d3c2b1a0"},
		"AccountSid": {"AC7d0b2a9c4e1f3a5b6c8d0e2f4a6b8c0d"}, "From": {"+15557654321"}, "To": {"+15551234567"},
		"MessageStatus": {"delivered"}, "ApiVersion": {"2010-04-01"},
	}.Encode()
	e, err := twilioevent.NewParser().Parse(nil, []byte(form))
	if err != nil {
		t.Fatal(err)
	}
	m, err := twilioevent.MessageDelivered.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ field, got, want string }{
		{"MessageSid", m.MessageSid, "SM9f8e7d6c5b4a39281706f5e4d3c2b1a0"},
		{"SmsSid", m.SmsSid, "SM9f8e7d6c5b4a39281706f5e4d3c2b1a0"},
		{"AccountSid", m.AccountSid, "AC7d0b2a9c4e1f3a5b6c8d0e2f4a6b8c0d"},
		{"From", m.From, "+15557654321"},
		{"To", m.To, "+15551234567"},
		{"MessageStatus", m.MessageStatus, "delivered"},
		{"ApiVersion", m.APIVersion, "2010-04-01"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.field, c.got, c.want)
		}
	}
	if e.ID != "SM9f8e7d6c5b4a39281706f5e4d3c2b1a0:delivered" {
		t.Errorf("ID %q", e.ID)
	}
}

func TestDecodeCallStatusRejectsBadNumbers(t *testing.T) {
	if _, err := twilioevent.DecodeCallStatus([]byte("CallSid=CA1&CallDuration=long")); err == nil {
		t.Error("CallDuration=long decoded")
	}
	_, err := twilioevent.CallCompleted.Decode(&events.Event{Type: "call.completed", Data: []byte("CallSid=CA1&CallDuration=long")})
	if !errors.Is(err, events.ErrUndecodable) {
		t.Errorf("err = %v, want ErrUndecodable", err)
	}
}

// FuzzParser: whatever the form, Parse never panics; what it accepts is a
// status callback whose ID and type come from the signed form and are
// bounded; what it refuses wraps ErrMalformedEvent and quotes no value.
func FuzzParser(f *testing.F) {
	forms, err := filepath.Glob("../../testdata/twilio/*.form")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range forms {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	for _, s := range []string{"MessageSid=SM1&SmsStatus=sent", "CallSid=CA1&CallStatus=a%2Eb", "MessageSid=&CallSid=C&CallStatus=x",
		"MessageSid=SM1&MessageStatus=sent&Timestamp=Mon%2C+23+Nov+2026+08%3A15%3A00+%2B0000", "a=%zz", ";", "",
		"CallSid=CA1&CallStatus=completed&Timestamp=Mon%2C+01+Jan+2024+00%3A00%3A00+%2B2400",
		"CallSid=CA1&CallStatus=completed&Timestamp=Mon%2C+01+Jan+2024+00%3A00%3A00+-2400"} {
		f.Add([]byte(s))
	}
	p := twilioevent.NewParser()
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := p.Parse(nil, body)
		form, formErr := url.ParseQuery(string(body))
		if err != nil {
			if !errors.Is(err, events.ErrMalformedEvent) {
				t.Fatalf("err = %v, want ErrMalformedEvent", err)
			}
			return
		}
		if formErr != nil {
			t.Fatalf("accepted a body url.ParseQuery refuses: %v", formErr)
		}
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		if string(e.Data) != string(body) {
			t.Fatalf("Data %q, body %q", e.Data, body)
		}
		sid, status := form.Get("MessageSid"), form.Get("MessageStatus")
		prefix := "message."
		if sid == "" {
			sid, status, prefix = form.Get("CallSid"), form.Get("CallStatus"), "call."
		} else if status == "" {
			status = form.Get("SmsStatus")
		}
		if e.ID != sid+":"+status || e.Type != prefix+status {
			t.Fatalf("ID %q type %q, want %q %q", e.ID, e.Type, sid+":"+status, prefix+status)
		}
		if strings.Contains(status, ".") {
			t.Fatalf("status %q holds a '.'", status)
		}
		if !e.Time.IsZero() && e.Time.Location() != time.UTC {
			t.Fatalf("Time %v is not in UTC", e.Time)
		}
		if _, err := json.Marshal(e.Time); err != nil {
			t.Fatalf("Time %v does not encode: %v", e.Time, err)
		}
	})
}

// H2 (issue 27): a signed callback whose Timestamp has a +24:00 zone parsed
// (Go's time.Parse takes it), then json.Marshal of its time failed, and the
// River batch it joined failed with it, for every innocent delivery in the
// batch and for itself on every retry. Now it is malformed, and DecodeCall
// Status refuses it too; a zone in range comes back in UTC. The old parser
// accepted the attack values.
func TestTimestampOutsideRFC3339Range(t *testing.T) {
	for _, ts := range []string{"Mon, 01 Jan 2024 00:00:00 +2400", "Mon, 01 Jan 2024 00:00:00 -2400", "Mon, 01 Jan 2024 00:00:00 +2459"} {
		form := url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}, "Timestamp": {ts}}.Encode()
		_, err := twilioevent.NewParser().Parse(nil, []byte(form))
		if !errors.Is(err, events.ErrMalformedEvent) {
			t.Errorf("Timestamp %q: parsed (err %v), want ErrMalformedEvent", ts, err)
		} else if !strings.Contains(err.Error(), "Timestamp") || strings.Contains(err.Error(), ts[len(ts)-5:]) {
			t.Errorf("error %q should name the parameter, not its value", err)
		}
		if _, err := twilioevent.DecodeCallStatus([]byte(form)); err == nil {
			t.Errorf("DecodeCallStatus took Timestamp %q", ts)
		}
	}
	form := url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}, "Timestamp": {"Mon, 01 Jan 2024 00:00:00 +2359"}}.Encode()
	e, err := twilioevent.NewParser().Parse(nil, []byte(form))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2023, 12, 31, 0, 1, 0, 0, time.UTC)
	if !e.Time.Equal(want) || e.Time.Location() != time.UTC {
		t.Errorf("Time %v, want %v in UTC", e.Time, want)
	}
	c, err := twilioevent.CallCompleted.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	if c.Timestamp != e.Time {
		t.Errorf("Timestamp %v, event Time %v", c.Timestamp, e.Time)
	}
}
