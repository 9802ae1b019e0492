package dispatch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

const stripeSecret = "whsec_dispatch_tests"

var quiet = slog.New(slog.DiscardHandler)

// stripeBody returns a recorded Stripe event with its ID replaced, so each
// test gets events of its own.
func stripeBody(t testing.TB, fixture, id string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../testdata/stripe/" + fixture + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	return bytes.Replace(raw, []byte(`"id": "`+env.ID+`"`), []byte(`"id": "`+id+`"`), 1)
}

func signed(body []byte) *http.Request {
	return verifytest.NewRequest(verifytest.Stripe{Secret: stripeSecret}, "/webhooks/stripe", body)
}

func newStripeEndpoint(t testing.TB, r *dispatch.Router, opts ...dispatch.Option) *dispatch.Endpoint {
	t.Helper()
	v, err := verify.NewStripe(stripeSecret)
	if err != nil {
		t.Fatal(err)
	}
	e := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, append([]dispatch.Option{dispatch.WithLogger(quiet)}, opts...)...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return e
}

// deliver sends req to h and returns the status and body.
func deliver(h http.Handler, req *http.Request) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// memStore returns an empty memory store.
func memStore(t testing.TB) *idempotency.MemoryStore {
	t.Helper()
	s, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// downStore is a store that cannot be reached.
type downStore struct{}

func (downStore) Claim(context.Context, string, time.Duration) (idempotency.Claim, error) {
	return idempotency.Claim{}, fmt.Errorf("dial tcp 10.0.0.9:6379: connection refused: %w", idempotency.ErrUnavailable)
}

func (downStore) Complete(context.Context, string, string, time.Duration) error {
	return idempotency.ErrUnavailable
}

func (downStore) Release(context.Context, string, string) error { return idempotency.ErrUnavailable }

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu         sync.Mutex
	started    int
	deliveries []dispatch.Delivery
	attempts   []dispatch.AttemptRecord
	// inDelivery and inAttempt report whether the context End received is
	// the one Start returned.
	inDelivery, inAttempt []bool
}

type recorderKey struct{}

func (r *recorder) StartDelivery(ctx context.Context, _ *dispatch.Delivery) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started++
	return context.WithValue(ctx, recorderKey{}, "delivery")
}

func (r *recorder) EndDelivery(ctx context.Context, d *dispatch.Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries = append(r.deliveries, *d)
	r.inDelivery = append(r.inDelivery, ctx.Value(recorderKey{}) == "delivery")
}

func (r *recorder) StartAttempt(ctx context.Context, _ *dispatch.AttemptRecord) context.Context {
	return context.WithValue(ctx, recorderKey{}, "attempt")
}

func (r *recorder) EndAttempt(ctx context.Context, a *dispatch.AttemptRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, *a)
	r.inAttempt = append(r.inAttempt, ctx.Value(recorderKey{}) == "attempt")
}

func (r *recorder) records() ([]dispatch.Delivery, []dispatch.AttemptRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.deliveries), slices.Clone(r.attempts)
}

// allLetters returns every dead letter dls holds, oldest first, read a
// page at a time as a host lists them.
func allLetters(t testing.TB, dls *dispatch.MemoryDeadLetters) []dispatch.DeadLetter {
	t.Helper()
	var all []dispatch.DeadLetter
	f := dispatch.DeadLetterFilter{}
	for {
		page, err := dls.List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Letters...)
		if page.Next == "" {
			return all
		}
		f.After = page.Next
	}
}
