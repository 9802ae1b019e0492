package headers_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/hookkit/hookkit/dispatch/internal/headers"
)

func TestKept(t *testing.T) {
	flood := http.Header{}
	for i := range 1000 {
		flood.Set(fmt.Sprintf("X-Flood-%d", i), strings.Repeat("x", 950))
	}
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{"what a re-run needs", http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg_1"}, "Svix-Id": {"msg_2"}},
			http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg_1"}, "Svix-Id": {"msg_2"}}},
		{"signatures under any name", http.Header{
			"Content-Type":          {"application/json"},
			"Stripe-Signature":      {"t=1,v1=ab"},
			"X-Twilio-Signature":    {"sig"},
			"Webhook-Signature":     {"v1,sig"},
			"Webhook-Timestamp":     {"1"},
			"Svix-Signature":        {"v1,sig"},
			"X-Shopify-Hmac-Sha256": {"c2ln"},
			"X-Webhook-Hmac":        {"ab"},
			"X-Hub-Signature-256":   {"sha256=ab"},
			"Etail-Signature":       {"ab"},
		}, http.Header{"Content-Type": {"application/json"}}},
		{"credentials", http.Header{
			"Authorization":              {"Bearer x"},
			"Cookie":                     {"session=1"},
			"X-Auth":                     {"k"},
			"X-Client-Cert":              {"-----BEGIN CERTIFICATE-----"},
			"I-Twilio-Idempotency-Token": {"tok"},
			"X-Api-Key":                  {"k"},
		}, http.Header{}},
		{"a header flood adds nothing", flood, http.Header{}},
		{"an oversized ID is dropped, not clipped", http.Header{"Webhook-Id": {strings.Repeat("m", headers.MaxValueBytes+1)}}, http.Header{}},
		{"one value each", http.Header{"Content-Type": {"application/json", "text/plain"}}, http.Header{"Content-Type": {"application/json"}}},
		{"lower-case names from a hand-built header", http.Header{"content-type": {"application/json"}}, http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := headers.Kept(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("headers.Kept(tt.in): got %v, want %v", got, tt.want)
			}
		})
	}
}
