package dispatch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// signedBatch builds deliveries of the 1.5 KiB payment_intent.succeeded
// event, each with an event ID of its own (so none is a duplicate), 4096 at
// a time with the timer stopped.
type signedBatch struct {
	b        *testing.B
	template []byte
	oldID    []byte
	next     int
	bodies   [][]byte
	sigs     []string
	signer   verifytest.Stripe
}

func newSignedBatch(b *testing.B) *signedBatch {
	raw, err := os.ReadFile("../testdata/stripe/payment_intent.succeeded.json")
	if err != nil {
		b.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		b.Fatal(err)
	}
	return &signedBatch{b: b, template: compact.Bytes(), oldID: []byte("evt_3OdQh2LkdIwHu7ix1Tn5aQ0b"),
		signer: verifytest.Stripe{Secret: stripeSecret, Time: time.Now()}}
}

func (s *signedBatch) take() ([]byte, string) {
	if len(s.bodies) == 0 {
		s.b.StopTimer()
		for range 4096 {
			id := fmt.Sprintf("evt_bench%019d", s.next) // as long as a real ID
			s.next++
			body := bytes.Replace(s.template, s.oldID, []byte(id), 1)
			s.bodies = append(s.bodies, body)
			s.sigs = append(s.sigs, s.signer.Header(body))
		}
		s.b.StartTimer()
	}
	body, sig := s.bodies[0], s.sigs[0]
	s.bodies, s.sigs = s.bodies[1:], s.sigs[1:]
	return body, sig
}

var sinkAmount int64

// benchmarkHandler sends b.N fresh, signed deliveries through h, recording
// each response in memory as a test would.
func benchmarkHandler(b *testing.B, h http.Handler) {
	batch := newSignedBatch(b)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", nil)
	req.Header.Set("Content-Type", "application/json")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		body, sig := batch.take()
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		req.Header.Set("Stripe-Signature", sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkStripePath compares the whole path of a new Stripe delivery —
// verify, parse, claim and complete in the memory store, route, decode into
// *stripe.PaymentIntent — with the handler the seeds write by hand
// (webhook.ConstructEvent, data.object into stripe.PaymentIntent, a map for
// deduplication), and with an Endpoint whose handler takes the raw event.
func BenchmarkStripePath(b *testing.B) {
	b.Run("hookkit-typed", func(b *testing.B) {
		r := dispatch.NewRouter()
		dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(_ context.Context, _ *events.Event, pi *stripe.PaymentIntent) error {
			sinkAmount = pi.Amount
			return nil
		})
		benchmarkHandler(b, newStripeEndpoint(b, r))
	})
	b.Run("hookkit-raw-event", func(b *testing.B) {
		r := dispatch.NewRouter()
		r.HandleFunc("payment_intent.succeeded", func(_ context.Context, e *events.Event) error {
			sinkAmount = int64(len(e.Data))
			return nil
		})
		benchmarkHandler(b, newStripeEndpoint(b, r))
	})
	b.Run("hookkit-raw-event-nop-observer", func(b *testing.B) {
		r := dispatch.NewRouter()
		r.HandleFunc("payment_intent.succeeded", func(_ context.Context, e *events.Event) error {
			sinkAmount = int64(len(e.Data))
			return nil
		})
		r.Observe(nopObserver{})
		benchmarkHandler(b, newStripeEndpoint(b, r))
	})
	b.Run("hand-written-stripe-go", func(b *testing.B) {
		var (
			mu   sync.Mutex
			seen = map[string]bool{}
		)
		benchmarkHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
			if err != nil {
				http.Error(w, "read", http.StatusRequestEntityTooLarge)
				return
			}
			event, err := webhook.ConstructEvent(body, r.Header.Get("Stripe-Signature"), stripeSecret)
			if err != nil {
				http.Error(w, "signature", http.StatusBadRequest)
				return
			}
			mu.Lock()
			dup := seen[event.ID]
			seen[event.ID] = true
			mu.Unlock()
			if !dup && event.Type == "payment_intent.succeeded" {
				var pi stripe.PaymentIntent
				if err := json.Unmarshal(event.Data.Raw, &pi); err != nil {
					http.Error(w, "decode", http.StatusBadRequest)
					return
				}
				sinkAmount = pi.Amount
			}
			w.WriteHeader(http.StatusOK)
		}))
	})
}

// nopObserver is told of everything and does nothing: what observing costs
// the Endpoint itself.
type nopObserver struct{}

func (nopObserver) StartDelivery(ctx context.Context, _ *dispatch.Delivery) context.Context {
	return ctx
}
func (nopObserver) EndDelivery(context.Context, *dispatch.Delivery) {}
func (nopObserver) StartAttempt(ctx context.Context, _ *dispatch.AttemptRecord) context.Context {
	return ctx
}
func (nopObserver) EndAttempt(context.Context, *dispatch.AttemptRecord) {}
