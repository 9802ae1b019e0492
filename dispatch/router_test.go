package dispatch_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
)

func named(name string, got *string) dispatch.Handler {
	return dispatch.HandlerFunc(func(context.Context, *events.Event) error {
		*got = name
		return nil
	})
}

func TestRouterPrecedence(t *testing.T) {
	var got string
	r := dispatch.NewRouter()
	r.Handle("payment_intent.succeeded", named("exact", &got))
	r.Handle("payment_intent.*", named("prefix", &got))
	r.Handle("payment_intent.payment.*", named("longer prefix", &got))
	r.Handle("*", named("any", &got))
	for typ, want := range map[string]string{
		"payment_intent.succeeded":      "exact",
		"payment_intent.created":        "prefix",
		"payment_intent.payment.failed": "longer prefix",
		"charge.refunded":               "any",
		"payment_intent":                "any", // "payment_intent.*" needs the dot
	} {
		got = ""
		require.NoError(t, r.Dispatch(context.Background(), &events.Event{Type: typ}))
		assert.Equal(t, want, got, typ)
	}
}

func TestRouterWithoutHandler(t *testing.T) {
	r := dispatch.NewRouter()
	r.HandleFunc("a.b", func(context.Context, *events.Event) error { return nil })
	_, ok := r.Lookup("a.c")
	assert.False(t, ok)
	err := r.Dispatch(context.Background(), &events.Event{Type: "a.c"})
	require.ErrorIs(t, err, dispatch.ErrNoHandler)
}

func TestRouterRegistrationMistakesPanic(t *testing.T) {
	h := dispatch.HandlerFunc(func(context.Context, *events.Event) error { return nil })
	for name, register := range map[string]func(r *dispatch.Router){
		"empty pattern":      func(r *dispatch.Router) { r.Handle("", h) },
		"nil handler":        func(r *dispatch.Router) { r.Handle("a", nil) },
		"duplicate exact":    func(r *dispatch.Router) { r.Handle("a", h); r.Handle("a", h) },
		"duplicate prefix":   func(r *dispatch.Router) { r.Handle("a.*", h); r.Handle("a.*", h) },
		"duplicate any":      func(r *dispatch.Router) { r.Handle("*", h); r.Handle("*", h) },
		"star in the middle": func(r *dispatch.Router) { r.Handle("a.*.b", h) },
	} {
		assert.Panics(t, func() { register(dispatch.NewRouter()) }, name)
	}
}

func TestMiddlewareOrderAndLateRegistration(t *testing.T) {
	var trace []string
	mw := func(name string) dispatch.Middleware {
		return func(next dispatch.Handler) dispatch.Handler {
			return dispatch.HandlerFunc(func(ctx context.Context, e *events.Event) error {
				trace = append(trace, name)
				return next.Handle(ctx, e)
			})
		}
	}
	r := dispatch.NewRouter()
	r.Use(mw("outer"))
	r.HandleFunc("x", func(context.Context, *events.Event) error { trace = append(trace, "handler"); return nil })
	require.NoError(t, r.Dispatch(context.Background(), &events.Event{Type: "x"}))
	r.Use(mw("inner")) // added after a dispatch: applies from now on
	require.NoError(t, r.Dispatch(context.Background(), &events.Event{Type: "x"}))
	assert.Equal(t, []string{"outer", "handler", "outer", "inner", "handler"}, trace)
}

func TestDispatchRecoversPanics(t *testing.T) {
	r := dispatch.NewRouter()
	r.HandleFunc("x", func(context.Context, *events.Event) error { panic("nil map") })
	err := r.Dispatch(context.Background(), &events.Event{Type: "x"})
	var p *dispatch.PanicError
	require.ErrorAs(t, err, &p)
	assert.Equal(t, "nil map", p.Value)
	assert.Contains(t, string(p.Stack), "router_test.go")
	assert.False(t, dispatch.IsPermanent(err), "a panic is retried")
}

func TestPermanent(t *testing.T) {
	assert.NoError(t, dispatch.Permanent(nil))
	base := errors.New("no booking")
	err := dispatch.Permanent(base)
	assert.True(t, dispatch.IsPermanent(err))
	assert.ErrorIs(t, err, base)
	assert.True(t, dispatch.IsPermanent(errors.Join(errors.New("wrapped"), err)))
	assert.True(t, dispatch.IsPermanent(events.ErrUndecodable))
	assert.False(t, dispatch.IsPermanent(base))
}
