package twilioevent_test

import (
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
				require.ErrorIs(t, err, events.ErrMalformedEvent)
				assert.NotContains(t, err.Error(), "yesterday", "errors never echo a value")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.typ, e.Type)
			assert.Equal(t, tt.id, e.ID)
			assert.True(t, e.Time.IsZero(), "a callback without Timestamp has no time")
			assert.Equal(t, tt.body, string(e.Data))
		})
	}
}

func TestDecodeCallStatusRejectsBadNumbers(t *testing.T) {
	_, err := twilioevent.DecodeCallStatus([]byte("CallSid=CA1&CallDuration=long"))
	require.Error(t, err)
	_, err = twilioevent.CallCompleted.Decode(&events.Event{Type: "call.completed", Data: []byte("CallSid=CA1&CallDuration=long")})
	require.ErrorIs(t, err, events.ErrUndecodable)
}

// FuzzParser: whatever the form, Parse never panics; what it accepts is a
// status callback whose ID and type come from the signed form and are
// bounded; what it refuses wraps ErrMalformedEvent and quotes no value.
func FuzzParser(f *testing.F) {
	forms, err := filepath.Glob("../../testdata/twilio/*.form")
	require.NoError(f, err)
	for _, name := range forms {
		body, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(body)
	}
	for _, s := range []string{"MessageSid=SM1&SmsStatus=sent", "CallSid=CA1&CallStatus=a%2Eb", "MessageSid=&CallSid=C&CallStatus=x",
		"MessageSid=SM1&MessageStatus=sent&Timestamp=Mon%2C+23+Nov+2026+08%3A15%3A00+%2B0000", "a=%zz", ";", ""} {
		f.Add([]byte(s))
	}
	p := twilioevent.NewParser()
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := p.Parse(nil, body)
		form, formErr := url.ParseQuery(string(body))
		if err != nil {
			require.ErrorIs(t, err, events.ErrMalformedEvent)
			return
		}
		require.NoError(t, formErr, "accepted a body url.ParseQuery refuses")
		require.NoError(t, e.Validate())
		assert.Equal(t, body, e.Data)
		sid, status := form.Get("MessageSid"), form.Get("MessageStatus")
		prefix := "message."
		if sid == "" {
			sid, status, prefix = form.Get("CallSid"), form.Get("CallStatus"), "call."
		} else if status == "" {
			status = form.Get("SmsStatus")
		}
		assert.Equal(t, sid+":"+status, e.ID)
		assert.Equal(t, prefix+status, e.Type)
		assert.NotContains(t, status, ".")
	})
}
