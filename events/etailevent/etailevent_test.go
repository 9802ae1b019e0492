package etailevent_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/events/etailevent"
)

// documentedPaymentSucceeded is Etail Depot's documented payment.succeeded
// event, byte for byte (DESIGN.md, "The payloads exactly as the senders
// document them").
const documentedPaymentSucceeded = `{"id":"evt_1234567890","type":"payment.succeeded","created":1640995200,"data":{"object":{"id":"pay_1234567890","amount":10000,"currency":"USD","status":"succeeded","customer":{"id":"cust_12345","email":"customer@example.com"}}},"request":{"id":"req_1234567890","idempotency_key":null}}`

// TestDocumentedPaymentSucceeded decodes the documented example verbatim
// and finds every documented value in the typed results. (Before Payment
// and Envelope followed the documentation, the customer object and the
// request were dropped.)
func TestDocumentedPaymentSucceeded(t *testing.T) {
	e, err := etailevent.NewParser().Parse(nil, []byte(documentedPaymentSucceeded))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "evt_1234567890" || e.Type != "payment.succeeded" || e.Key() != "etail:evt_1234567890" {
		t.Errorf("ID %q type %q key %q", e.ID, e.Type, e.Key())
	}
	if want := time.Unix(1640995200, 0); !e.Time.Equal(want) {
		t.Errorf("Time %v, want %v", e.Time, want)
	}
	p, err := etailevent.PaymentSucceeded.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	want := etailevent.Payment{ID: "pay_1234567890", Amount: 10000, Currency: "USD", Status: "succeeded",
		Customer: etailevent.Customer{ID: "cust_12345", Email: "customer@example.com"}}
	if p.ID != want.ID || p.Amount != want.Amount || p.Currency != want.Currency || p.Status != want.Status || p.Customer != want.Customer {
		t.Errorf("decoded %+v\nwant %+v", *p, want)
	}
	env, err := etailevent.EnvelopeOf(e)
	if err != nil {
		t.Fatal(err)
	}
	if env.Request.ID != "req_1234567890" || env.Request.IdempotencyKey != nil {
		t.Errorf("request %+v, want req_1234567890 without an idempotency key", env.Request)
	}
	// Every documented field of the object has a place in Payment.
	dec := json.NewDecoder(strings.NewReader(string(e.Data)))
	dec.DisallowUnknownFields()
	var strict etailevent.Payment
	if err := dec.Decode(&strict); err != nil {
		t.Errorf("a documented field has no place in Payment: %v", err)
	}
}

func TestEnvelopeIdempotencyKey(t *testing.T) {
	body := strings.Replace(documentedPaymentSucceeded, `"idempotency_key":null`, `"idempotency_key":"order-12345-1"`, 1)
	e, err := etailevent.NewParser().Parse(nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	env, err := etailevent.EnvelopeOf(e)
	if err != nil {
		t.Fatal(err)
	}
	if k := env.Request.IdempotencyKey; k == nil || *k != "order-12345-1" {
		t.Errorf("idempotency key %v", k)
	}
}
