package headers_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hookkit/hookkit/dispatch/internal/headers"
)

func TestKept(t *testing.T) {
	h := http.Header{
		"Content-Type":               {"application/json"},
		"Webhook-Id":                 {"msg_1"},
		"Stripe-Signature":           {"t=1,v1=ab"},
		"X-Twilio-Signature":         {"sig"},
		"Webhook-Signature":          {"v1,sig"},
		"Authorization":              {"Bearer x"},
		"Cookie":                     {"session=1"},
		"I-Twilio-Idempotency-Token": {"tok"},
		"X-Api-Key":                  {"k"},
	}
	assert.Equal(t, http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg_1"}}, headers.Kept(h))
}
