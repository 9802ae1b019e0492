package dispatch_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

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
		if err := r.Dispatch(context.Background(), &events.Event{Type: typ}); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%v: got %q, want %q", typ, got, want)
		}
	}
}

func TestRouterWithoutHandler(t *testing.T) {
	r := dispatch.NewRouter()
	r.HandleFunc("a.b", func(context.Context, *events.Event) error { return nil })
	_, ok := r.Lookup("a.c")
	if ok {
		t.Errorf("ok: got true, want false")
	}
	err := r.Dispatch(context.Background(), &events.Event{Type: "a.c"})
	if !errors.Is(err, dispatch.ErrNoHandler) {
		t.Fatalf("err: got %v, want %v", err, dispatch.ErrNoHandler)
	}
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
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%v: did not panic", name)
				}
			}()
			register(dispatch.NewRouter())
		}()
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
	if err := r.Dispatch(context.Background(), &events.Event{Type: "x"}); err != nil {
		t.Fatal(err)
	}
	r.Use(mw("inner")) // added after a dispatch: applies from now on
	if err := r.Dispatch(context.Background(), &events.Event{Type: "x"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"outer", "handler", "outer", "inner", "handler"}; !slices.Equal(trace, want) {
		t.Errorf("trace: got %q, want %q", trace, want)
	}
}

func TestDispatchRecoversPanics(t *testing.T) {
	r := dispatch.NewRouter()
	r.HandleFunc("x", func(context.Context, *events.Event) error { panic("nil map") })
	err := r.Dispatch(context.Background(), &events.Event{Type: "x"})
	var p *dispatch.PanicError
	if !errors.As(err, &p) {
		t.Fatalf("err: got %v, want a %T", err, p)
	}
	if p.Value != "nil map" {
		t.Errorf("p.Value: got %v, want %v", p.Value, "nil map")
	}
	if !strings.Contains(string(p.Stack), "router_test.go") {
		t.Errorf("string(p.Stack): got %q, want it to contain %q", string(p.Stack), "router_test.go")
	}
	if dispatch.IsPermanent(err) {
		t.Errorf("a panic is retried")
	}
}

func TestPermanent(t *testing.T) {
	if err := dispatch.Permanent(nil); err != nil {
		t.Error(err)
	}
	base := errors.New("no booking")
	err := dispatch.Permanent(base)
	if !dispatch.IsPermanent(err) {
		t.Errorf("dispatch.IsPermanent(err): got false, want true")
	}
	if !errors.Is(err, base) {
		t.Errorf("err: got %v, want %v", err, base)
	}
	if !dispatch.IsPermanent(errors.Join(errors.New("wrapped"), err)) {
		t.Errorf("dispatch.IsPermanent(errors.Join(errors.New(\"wrapped\"), err)): got false, want true")
	}
	if !dispatch.IsPermanent(events.ErrUndecodable) {
		t.Errorf("dispatch.IsPermanent(events.ErrUndecodable): got false, want true")
	}
	if dispatch.IsPermanent(base) {
		t.Errorf("dispatch.IsPermanent(base): got true, want false")
	}
}
