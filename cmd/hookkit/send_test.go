package main

import (
	"strings"
	"testing"
)

// TestUniquer checks the IDs --unique gives: the top-level id of a JSON
// body (not an inner one, whatever the spacing), suffixed, the rest of the
// body byte for byte; the Standard Webhooks message ID; a Twilio SID.
func TestUniquer(t *testing.T) {
	tests := []struct {
		scheme, body string
		want         string // the 3rd delivery's body
		wantID       string // its message ID
	}{
		{"stripe", "{\n  \"object\": {\"id\": \"inner\"},\n  \"id\" :  \"evt_1\",\n  \"x\": \"é\"\n}",
			"{\n  \"object\": {\"id\": \"inner\"},\n  \"id\" :  \"evt_1_3\",\n  \"x\": \"é\"\n}", ""},
		{"etail", `{"id":"evt_<&>","type":"a"}`, `{"id":"evt_<&>_3","type":"a"}`, ""},
		{"twilio", "MessageSid=SM1&SmsSid=SM1&MessageStatus=sent", "MessageSid=SM1_3&SmsSid=SM1_3&MessageStatus=sent", ""},
		{"twilio", "CallSid=CA1&CallStatus=busy", "CallSid=CA1_3&CallStatus=busy", ""},
		{"standard", `{"event":"booking.created"}`, `{"event":"booking.created"}`, "msg_"},
	}
	for _, tt := range tests {
		s := scheme{name: tt.scheme}
		if tt.scheme == "etail" {
			s = scheme{name: "hmac", preset: "etail"}
		}
		u, err := newUniquer(s, []byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		got, id, err := u.delivery(2)
		if err != nil || string(got) != tt.want || !strings.HasPrefix(id, tt.wantID) || (tt.wantID != "" && !strings.HasSuffix(id, "_3")) {
			t.Errorf("%s: got %q, id %q, %v; want %q", tt.body, got, id, err, tt.want)
		}
	}
	for _, bad := range []string{`{"type":"a"}`, `[1]`, `{"id":7}`} {
		if _, err := newUniquer(scheme{name: "stripe"}, []byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
