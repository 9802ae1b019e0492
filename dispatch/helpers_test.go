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
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	var env struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(raw, &env))
	return bytes.Replace(raw, []byte(`"id": "`+env.ID+`"`), []byte(`"id": "`+id+`"`), 1)
}

func signed(body []byte) *http.Request {
	return verifytest.NewRequest(verifytest.Stripe{Secret: stripeSecret}, "/webhooks/stripe", body)
}

func newStripeEndpoint(t testing.TB, r *dispatch.Router, opts ...dispatch.Option) *dispatch.Endpoint {
	t.Helper()
	v, err := verify.NewStripe(stripeSecret)
	require.NoError(t, err)
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
	require.NoError(t, err)
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
