package doccheck

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/verify"
)

// The public contract DESIGN.md pins: tests outside the project compile
// against these names, so each keeps its exact signature. This file stops
// compiling the moment one changes.
var (
	_ verify.Verifier = verify.VerifierFunc(func(*http.Request, []byte) error { return nil })
	_ error           = verify.ErrMissingSignature
	_ error           = verify.ErrMalformedSignature
	_ error           = verify.ErrSignatureMismatch
	_ error           = verify.ErrTimestampTooOld
	_ error           = verify.ErrTimestampTooNew

	_ func(time.Duration) verify.Option                                                 = verify.WithTolerance
	_ func(func() time.Time) verify.Option                                              = verify.WithClock
	_ func(...string) verify.Option                                                     = verify.WithSecrets
	_ func(string) verify.Option                                                        = verify.WithPublicURL
	_ func(string, ...verify.Option) (*verify.Stripe, error)                            = verify.NewStripe
	_ func(string, ...verify.Option) (*verify.Twilio, error)                            = verify.NewTwilio
	_ func(string, ...verify.Option) (*verify.Standard, error)                          = verify.NewStandard
	_ func([]byte, string, ...verify.Option) (*verify.HMAC, error)                      = verify.NewHMAC
	_ func(verify.Verifier, ...verify.MiddlewareOption) func(http.Handler) http.Handler = verify.Middleware

	_ events.Parser                 = events.ParserFunc(func(*http.Request, []byte) (*events.Event, error) { return nil, nil })
	_ error                         = events.ErrMalformedEvent
	_                               = events.Event{ID: "", Type: "", Source: "", Time: time.Time{}, Data: nil, Body: nil, Header: nil}
	_ func(string) events.Type[int] = events.NewType[int]

	_ error = idempotency.ErrLeaseLost
	_ error = idempotency.ErrUnavailable

	_ func() *dispatch.Router                                                                       = dispatch.NewRouter
	_ func(verify.Verifier, events.Parser, *dispatch.Router, ...dispatch.Option) *dispatch.Endpoint = dispatch.NewEndpoint
	_ func(idempotency.Store) dispatch.Option                                                       = dispatch.WithStore
	_ func(error) error                                                                             = dispatch.Permanent
	_ http.Handler                                                                                  = (*dispatch.Endpoint)(nil)
)

// The store interface, method by method.
type store struct{}

func (store) Claim(ctx context.Context, key string, lease time.Duration) (idempotency.Claim, error) {
	return idempotency.Claim{}, nil
}
func (store) Complete(ctx context.Context, key, token string, keep time.Duration) error { return nil }
func (store) Release(ctx context.Context, key, token string) error                      { return nil }

var _ idempotency.Store = store{}

// On is generic, so it is checked by calling it.
func TestContractOn(t *testing.T) {
	r := dispatch.NewRouter()
	var typ events.Type[*struct{}] = events.NewType[*struct{}]("contract.checked")
	dispatch.On(r, typ, func(ctx context.Context, e *events.Event, v *struct{}) error { return nil })
	if _, ok := r.Lookup("contract.checked"); !ok {
		t.Fatal("On did not register the handler")
	}
}
