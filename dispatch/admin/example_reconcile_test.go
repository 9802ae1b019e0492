package admin_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/admin"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
)

// An operator starts a reconciliation run and reads its status.
func ExampleNewReconcile() {
	api := reconciletest.NewServer(reconciletest.Config{StripeKey: "rk_test_example"})
	defer api.Close()
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return nil })
	v, _ := verify.NewStripe("whsec_example")
	quiet := slog.New(slog.DiscardHandler)
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithLogger(quiet))
	src, _ := reconcile.NewStripe(reconcile.StripeConfig{Key: "rk_test_example", URL: api.URL})
	done := make(chan struct{})
	rec, _ := reconcile.New(reconcile.Config{Endpoint: ep, Source: src, Store: reconcile.NewMemoryStore(), Logger: quiet,
		Observe: func(context.Context, reconcile.Report) { close(done) }})

	h, err := admin.NewReconcile(admin.ReconcileConfig{Reconcilers: []*reconcile.Reconciler{rec}, Authorize: admin.AllowAll})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/reconcile/", http.StripPrefix("/admin/reconcile", h))

	req := httptest.NewRequest(http.MethodPost, "/admin/reconcile/stripe/run", nil)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body.String())
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	st, _ := rec.Status(context.Background())
	fmt.Println("caught up:", st.Last.CaughtUp)
	// Output:
	// 202 {
	//   "name": "stripe",
	//   "run": "started"
	// }
	//
	// caught up: true
}
