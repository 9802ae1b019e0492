package events_test

import (
	"bytes"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
)

// decoders maps kind names to their typed decode, for a test that decodes
// deliveries of many kinds.
type decoders map[string]func(*events.Event) (any, error)

func add[T any](d decoders, k events.Type[T]) decoders {
	d[k.Name()] = func(e *events.Event) (any, error) { return k.Decode(e) }
	return d
}

func stripeKinds() decoders {
	d := decoders{}
	add(d, stripeevent.PaymentIntentSucceeded)
	add(d, stripeevent.PaymentIntentPaymentFailed)
	add(d, stripeevent.ChargeRefunded)
	add(d, stripeevent.CheckoutSessionCompleted)
	add(d, stripeevent.CustomerSubscriptionCreated)
	add(d, stripeevent.CustomerSubscriptionUpdated)
	add(d, stripeevent.CustomerSubscriptionDeleted)
	add(d, stripeevent.InvoicePaymentSucceeded)
	return add(d, stripeevent.InvoicePaymentFailed)
}

func twilioKinds() decoders {
	d := decoders{}
	for _, k := range []events.Type[*twilioevent.MessageStatus]{twilioevent.MessageQueued, twilioevent.MessageSent,
		twilioevent.MessageDelivered, twilioevent.MessageUndelivered, twilioevent.MessageFailed} {
		add(d, k)
	}
	for _, k := range []events.Type[*twilioevent.CallStatus]{twilioevent.CallCompleted, twilioevent.CallBusy,
		twilioevent.CallNoAnswer, twilioevent.CallFailed, twilioevent.CallCanceled} {
		add(d, k)
	}
	return d
}

func bookingKinds() decoders {
	d := decoders{}
	for _, k := range []events.Type[*conversoevent.Booking]{conversoevent.BookingCreated, conversoevent.BookingConfirmed,
		conversoevent.BookingCancelled, conversoevent.BookingRescheduled, conversoevent.BookingReminder} {
		add(d, k)
	}
	return d
}

func etailKinds() decoders {
	d := decoders{}
	add(d, etailevent.PaymentSucceeded)
	add(d, etailevent.PaymentFailed)
	add(d, etailevent.PaymentRefunded)
	add(d, etailevent.OrderCreated)
	add(d, etailevent.OrderFulfilled)
	add(d, etailevent.OrderCancelled)
	add(d, etailevent.AccountUpdated)
	add(d, etailevent.CardIssued)
	return add(d, etailevent.TransactionCreated)
}

// TestRecordedFixtures parses every recorded delivery with its provider's
// parser, checks that it is the event its file is named after, decodes its
// payload with the provider's kinds, and fails if a catalog kind has no
// recording.
func TestRecordedFixtures(t *testing.T) {
	providers := []struct {
		dir     string
		parser  events.Parser
		catalog []string
		kinds   decoders
		source  string
		check   func(t *testing.T, e *events.Event, v any)
	}{
		{"stripe", stripeevent.NewParser(), stripeevent.Catalog(), stripeKinds(), "stripe", checkStripe},
		{"twilio", twilioevent.NewParser(), twilioevent.Catalog(), twilioKinds(), "twilio", checkTwilio},
		{"standard", conversoevent.NewStandardParser(), conversoevent.Catalog(), bookingKinds(), "goconverso", checkBooking},
		{"goconverso", conversoevent.NewParser(), conversoevent.Catalog(), bookingKinds(), "goconverso", checkBooking},
		{"etail", etailevent.NewParser(), etailevent.Catalog(), etailKinds(), "etail", checkEtail},
	}
	for _, p := range providers {
		t.Run(p.dir, func(t *testing.T) {
			recorded, err := fixture.Load(os.DirFS("../testdata"), p.dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(recorded) == 0 {
				t.Fatal("no recordings")
			}
			covered := map[string]bool{}
			for _, f := range recorded {
				t.Run(path.Base(f.Name), func(t *testing.T) {
					req, err := f.Request()
					if err != nil {
						t.Fatal(err)
					}
					e, err := p.parser.Parse(req, f.Body)
					if err != nil {
						t.Fatal(err)
					}
					if e.Type != path.Base(f.Name) {
						t.Errorf("type %q: a recording is named after its event type", e.Type)
					}
					if e.Source != p.source || e.ID == "" {
						t.Errorf("source %q ID %q", e.Source, e.ID)
					}
					// SMS status callbacks carry no time; everything else does.
					if strings.HasPrefix(e.Type, "message.") != e.Time.IsZero() {
						t.Errorf("Time %v", e.Time)
					}
					if !bytes.Equal(f.Body, e.Body) {
						t.Error("Body is not the recorded body")
					}
					if !slices.Contains(p.catalog, e.Type) {
						t.Fatalf("the catalog does not name %s", e.Type)
					}
					decode, ok := p.kinds[e.Type]
					if !ok {
						t.Fatalf("the test does not know kind %s", e.Type)
					}
					v, err := decode(e)
					if err != nil {
						t.Fatal(err)
					}
					p.check(t, e, v)
					covered[e.Type] = true
				})
			}
			if len(p.kinds) != len(p.catalog) {
				t.Errorf("the test decodes %d kinds, the catalog has %d", len(p.kinds), len(p.catalog))
			}
			for _, name := range p.catalog {
				if !covered[name] {
					t.Errorf("catalog type %s has no recorded delivery in testdata/%s", name, p.dir)
				}
			}
		})
	}
}

func checkStripe(t *testing.T, e *events.Event, v any) {
	recorded := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	if e.Time.Before(recorded) || e.Time.After(recorded.Add(2*time.Hour)) {
		t.Errorf("Time %v is not the event's created", e.Time)
	}
	env, err := stripeevent.EnvelopeOf(e)
	if err != nil {
		t.Fatal(err)
	}
	if env.APIVersion != "2023-10-16" {
		t.Errorf("api_version %q", env.APIVersion)
	}
	switch o := v.(type) {
	case *stripe.PaymentIntent:
		if o.Metadata["booking_id"] != "12345" || o.Amount != 5000 {
			t.Errorf("booking %q amount %d", o.Metadata["booking_id"], o.Amount)
		}
		if e.Type == "payment_intent.payment_failed" {
			if o.LastPaymentError == nil || o.LastPaymentError.DeclineCode != stripe.DeclineCode("insufficient_funds") {
				t.Errorf("last payment error %+v", o.LastPaymentError)
			}
		}
	case *stripe.Charge:
		if !o.Refunded || o.Metadata["booking_id"] != "12345" {
			t.Errorf("refunded %v booking %q", o.Refunded, o.Metadata["booking_id"])
		}
		if got := strings.Join(strings.Fields(string(env.Data.PreviousAttributes)), ""); got != `{"amount_refunded":0,"refunded":false}` {
			t.Errorf("previous_attributes %s", got)
		}
	case *stripe.CheckoutSession:
		if o.ClientReferenceID != "12345" || o.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid {
			t.Errorf("client_reference_id %q payment_status %q", o.ClientReferenceID, o.PaymentStatus)
		}
	case *stripe.Subscription:
		if o.ID != "sub_1OdQm2LkdIwHu7ixG9sKzR3w" || o.Items == nil || len(o.Items.Data) != 1 {
			t.Errorf("subscription %q items %+v", o.ID, o.Items)
		}
	case *stripe.Invoice:
		if o.Paid != (e.Type == "invoice.payment_succeeded") || o.Lines == nil || len(o.Lines.Data) == 0 {
			t.Errorf("paid %v lines %+v", o.Paid, o.Lines)
		}
	default:
		t.Fatalf("unexpected payload %T", v)
	}
	se, err := stripeevent.Event(e)
	if err != nil {
		t.Fatal(err)
	}
	if se.ID != e.ID {
		t.Errorf("stripe-go's event ID %q, parsed %q", se.ID, e.ID)
	}
}

func checkTwilio(t *testing.T, e *events.Event, v any) {
	if e.Header.Get("I-Twilio-Idempotency-Token") == e.ID {
		t.Error("the unsigned idempotency token is the ID")
	}
	switch o := v.(type) {
	case *twilioevent.MessageStatus:
		if e.Type != "message."+o.MessageStatus || e.ID != o.MessageSid+":"+o.MessageStatus {
			t.Errorf("type %q ID %q: the ID comes from the signed form", e.Type, e.ID)
		}
		if o.To != "+15551234567" {
			t.Errorf("To %q", o.To)
		}
		if (o.MessageStatus == "undelivered" || o.MessageStatus == "failed") && o.ErrorCode == "" {
			t.Error("no ErrorCode")
		}
	case *twilioevent.CallStatus:
		if e.Type != "call."+o.CallStatus || e.ID != o.CallSid+":"+o.CallStatus {
			t.Errorf("type %q ID %q: the ID comes from the signed form", e.Type, e.ID)
		}
		if e.Time != o.Timestamp {
			t.Errorf("Time %v, Timestamp %v", e.Time, o.Timestamp)
		}
		if o.CallStatus == "completed" && o.CallDuration != 74 {
			t.Errorf("CallDuration %d", o.CallDuration)
		}
	default:
		t.Fatalf("unexpected payload %T", v)
	}
}

// checkBooking checks one booking's life, consistent across its events:
// booked for Nov 25 at 10:00, moved to Nov 26 by booking.rescheduled.
func checkBooking(t *testing.T, e *events.Event, v any) {
	b, ok := v.(*conversoevent.Booking)
	if !ok {
		t.Fatalf("payload %T", v)
	}
	want := conversoevent.Booking{
		BookingID: "12345", ProfessionalID: "6f1c2b7e-3d4a-4e8b-9c0d-2a5b7e9f1c3d",
		ClientName: "Ana Ruiz", ClientEmail: "guest@example.com", ClientPhone: "+15551234567",
		Service:     conversoevent.Service{ID: "svc_dt60", Name: "Deep tissue massage", Price: "95.00", Duration: 60, Currency: "USD"},
		ScheduledAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		Status:      map[string]string{"booking.created": "pending", "booking.cancelled": "cancelled", "booking.rescheduled": "rescheduled"}[e.Type],
		Notes:       "First visit; prefers firm pressure",
	}
	if want.Status == "" {
		want.Status = "confirmed"
	}
	if e.Type != "booking.created" && e.Type != "booking.confirmed" {
		want.ScheduledAt = want.ScheduledAt.AddDate(0, 0, 1)
	}
	if !b.ScheduledAt.Equal(want.ScheduledAt) {
		t.Errorf("scheduled at %v, want %v", b.ScheduledAt, want.ScheduledAt)
	}
	got := *b
	got.ScheduledAt = want.ScheduledAt
	if got != want {
		t.Errorf("booking\n%+v\nwant\n%+v", got, want)
	}
}

func checkEtail(t *testing.T, e *events.Event, v any) {
	customer := etailevent.Customer{ID: "cust_7Rk2Pq9Lm4Xs", Email: "guest@example.com"}
	switch o := v.(type) {
	case *etailevent.Payment:
		if o.Metadata["booking_id"] != "12345" || e.Type != "payment."+o.Status || o.Customer != customer || o.Currency != "USD" {
			t.Errorf("payment %+v", *o)
		}
	case *etailevent.Order:
		if len(o.Items) != 2 || e.Type != "order."+o.Status || o.Customer != customer {
			t.Errorf("order %+v", *o)
		}
	case *etailevent.Account:
		if o.ID != "acct_3Fk8Lp2Qr6Ms" {
			t.Errorf("account %q", o.ID)
		}
	case *etailevent.Card:
		if o.Last4 != "0341" {
			t.Errorf("last4 %q", o.Last4)
		}
	case *etailevent.Transaction:
		if o.Amount != 12900 {
			t.Errorf("amount %d", o.Amount)
		}
	default:
		t.Fatalf("unexpected payload %T", v)
	}
	env, err := etailevent.EnvelopeOf(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(env.Request.ID, "req_") {
		t.Errorf("request %+v", env.Request)
	}
}
