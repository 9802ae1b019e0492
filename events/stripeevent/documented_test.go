package stripeevent_test

import (
	"os"
	"testing"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/events/stripeevent"
)

// GoConverso documents that its checkout.session.completed carries
// customer, customer_email, mode, payment_status, status, subscription,
// metadata {user_id, plan}, amount_total and currency: each is found in
// stripe-go's CheckoutSession.
func TestGoConversoCheckoutSessionCompleted(t *testing.T) {
	body := []byte(`{"id":"evt_1PgC0nvErSo01","object":"event","api_version":"2023-10-16","created":1795420805,"type":"checkout.session.completed",
		"data":{"object":{"id":"cs_test_b1GoConverso","object":"checkout.session","customer":"cus_Q8gc0nvErS0","customer_email":"owner@salon.example",
		"mode":"subscription","payment_status":"paid","status":"complete","subscription":"sub_1PgC0nvErSoPro",
		"metadata":{"user_id":"550e8400-e29b-41d4-a716-446655440000","plan":"pro"},"amount_total":2900,"currency":"usd"}},
		"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null}}`)
	e, err := stripeevent.NewParser().Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	s, err := stripeevent.CheckoutSessionCompleted.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"customer", s.Customer.ID, "cus_Q8gc0nvErS0"},
		{"customer_email", s.CustomerEmail, "owner@salon.example"},
		{"mode", s.Mode, stripe.CheckoutSessionModeSubscription},
		{"payment_status", s.PaymentStatus, stripe.CheckoutSessionPaymentStatusPaid},
		{"status", s.Status, stripe.CheckoutSessionStatusComplete},
		{"subscription", s.Subscription.ID, "sub_1PgC0nvErSoPro"},
		{"metadata.user_id", s.Metadata["user_id"], "550e8400-e29b-41d4-a716-446655440000"},
		{"metadata.plan", s.Metadata["plan"], "pro"},
		{"amount_total", s.AmountTotal, int64(2900)},
		{"currency", s.Currency, stripe.CurrencyUSD},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.field, c.got, c.want)
		}
	}
}

// ReserveEasy documents that its payment_intent.succeeded carries the
// booking in metadata.booking_id: the recorded delivery has it, and it
// decodes.
func TestReserveEasyPaymentIntentBookingID(t *testing.T) {
	body, err := os.ReadFile("../../testdata/stripe/payment_intent.succeeded.json")
	if err != nil {
		t.Fatal(err)
	}
	e, err := stripeevent.NewParser().Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	pi, err := stripeevent.PaymentIntentSucceeded.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	if pi.Metadata["booking_id"] != "12345" || pi.Status != stripe.PaymentIntentStatusSucceeded {
		t.Errorf("metadata %v status %q", pi.Metadata, pi.Status)
	}
}
