package events_test

import (
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/events/standardevent"
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
	add(d, etailevent.OrderPaid)
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
		{"standard", standardevent.NewParser("goconverso"), conversoevent.Catalog(), bookingKinds(), "goconverso", checkBooking},
		{"goconverso", conversoevent.NewParser(), conversoevent.Catalog(), bookingKinds(), "goconverso", checkBooking},
		{"etail", etailevent.NewParser(), etailevent.Catalog(), etailKinds(), "etail", checkEtail},
	}
	for _, p := range providers {
		t.Run(p.dir, func(t *testing.T) {
			recorded, err := fixture.Load(os.DirFS("../testdata"), p.dir)
			require.NoError(t, err)
			require.NotEmpty(t, recorded)
			covered := map[string]bool{}
			for _, f := range recorded {
				t.Run(path.Base(f.Name), func(t *testing.T) {
					req, err := f.Request()
					require.NoError(t, err)
					e, err := p.parser.Parse(req, f.Body)
					require.NoError(t, err)
					assert.Equal(t, path.Base(f.Name), e.Type, "a recording is named after its event type")
					assert.Equal(t, p.source, e.Source)
					assert.NotEmpty(t, e.ID)
					// SMS status callbacks carry no time; everything else does.
					assert.Equal(t, strings.HasPrefix(e.Type, "message."), e.Time.IsZero(), "Time")
					assert.Equal(t, f.Body, e.Body)
					require.Contains(t, p.catalog, e.Type, "the catalog names it")
					decode, ok := p.kinds[e.Type]
					require.True(t, ok, "the test knows kind %s", e.Type)
					v, err := decode(e)
					require.NoError(t, err)
					p.check(t, e, v)
					covered[e.Type] = true
				})
			}
			assert.Len(t, p.kinds, len(p.catalog), "the test decodes every catalog kind")
			for _, name := range p.catalog {
				assert.True(t, covered[name], "catalog type %s has no recorded delivery in testdata/%s", name, p.dir)
			}
		})
	}
}

func checkStripe(t *testing.T, e *events.Event, v any) {
	recorded := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	assert.WithinRange(t, e.Time, recorded, recorded.Add(2*time.Hour), "Time is the event's created")
	env, err := stripeevent.EnvelopeOf(e)
	require.NoError(t, err)
	assert.Equal(t, "2023-10-16", env.APIVersion)
	switch o := v.(type) {
	case *stripe.PaymentIntent:
		assert.Equal(t, "12345", o.Metadata["booking_id"])
		assert.EqualValues(t, 5000, o.Amount)
		if e.Type == "payment_intent.payment_failed" {
			require.NotNil(t, o.LastPaymentError)
			assert.Equal(t, stripe.DeclineCode("insufficient_funds"), o.LastPaymentError.DeclineCode)
		}
	case *stripe.Charge:
		assert.True(t, o.Refunded)
		assert.Equal(t, "12345", o.Metadata["booking_id"])
		assert.JSONEq(t, `{"amount_refunded":0,"refunded":false}`, string(env.Data.PreviousAttributes))
	case *stripe.CheckoutSession:
		assert.Equal(t, "12345", o.ClientReferenceID)
		assert.Equal(t, stripe.CheckoutSessionPaymentStatusPaid, o.PaymentStatus)
	case *stripe.Subscription:
		assert.Equal(t, "sub_1OdQm2LkdIwHu7ixG9sKzR3w", o.ID)
		require.Len(t, o.Items.Data, 1)
	case *stripe.Invoice:
		assert.Equal(t, e.Type == "invoice.payment_succeeded", o.Paid)
		assert.NotEmpty(t, o.Lines.Data)
	default:
		t.Fatalf("unexpected payload %T", v)
	}
	se, err := stripeevent.Event(e)
	require.NoError(t, err)
	assert.Equal(t, e.ID, se.ID)
}

func checkTwilio(t *testing.T, e *events.Event, v any) {
	assert.NotEqual(t, e.Header.Get("I-Twilio-Idempotency-Token"), e.ID, "the unsigned idempotency token is never the ID")
	switch o := v.(type) {
	case *twilioevent.MessageStatus:
		assert.Equal(t, "message."+o.MessageStatus, e.Type)
		assert.Equal(t, o.MessageSid+":"+o.MessageStatus, e.ID, "the ID comes from the signed form")
		assert.Equal(t, "+15551234567", o.To)
		if o.MessageStatus == "undelivered" || o.MessageStatus == "failed" {
			assert.NotEmpty(t, o.ErrorCode)
		}
	case *twilioevent.CallStatus:
		assert.Equal(t, "call."+o.CallStatus, e.Type)
		assert.Equal(t, o.CallSid+":"+o.CallStatus, e.ID, "the ID comes from the signed form")
		assert.Equal(t, e.Time, o.Timestamp)
		if o.CallStatus == "completed" {
			assert.Equal(t, 74, o.CallDuration)
		}
	default:
		t.Fatalf("unexpected payload %T", v)
	}
}

func checkBooking(t *testing.T, e *events.Event, v any) {
	b, ok := v.(*conversoevent.Booking)
	require.True(t, ok, "%T", v)
	assert.Equal(t, "12345", b.BookingID)
	assert.Equal(t, "+15551234567", b.ClientPhone)
	assert.False(t, b.StartsAt.IsZero())
	if e.Type == "booking.rescheduled" {
		require.NotNil(t, b.PreviousStartsAt)
		assert.True(t, b.StartsAt.After(*b.PreviousStartsAt))
	}
}

func checkEtail(t *testing.T, e *events.Event, v any) {
	switch o := v.(type) {
	case *etailevent.Payment:
		assert.Equal(t, "12345", o.Metadata["booking_id"])
		assert.Equal(t, e.Type, "payment."+o.Status)
	case *etailevent.Order:
		assert.Len(t, o.Items, 2)
		assert.Equal(t, e.Type, "order."+o.Status)
	case *etailevent.Account:
		assert.Equal(t, "acct_3Fk8Lp2Qr6Ms", o.ID)
	case *etailevent.Card:
		assert.Equal(t, "0341", o.Last4)
	case *etailevent.Transaction:
		assert.EqualValues(t, 12900, o.Amount)
	default:
		t.Fatalf("unexpected payload %T", v)
	}
}
