package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/admin"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
)

const reconcileKey = "rk_test_admin_51Hsecretvalue"

// reconcileFixture is an admin handler over one Stripe Reconciler whose
// API holds one missed event; runs ends each run's Report.
func reconcileFixture(t *testing.T, authorize func(*http.Request) bool) (http.Handler, *reconcile.Reconciler, chan reconcile.Report, *reconciletest.Server) {
	t.Helper()
	api := reconciletest.NewServer(reconciletest.Config{StripeKey: reconcileKey})
	t.Cleanup(api.Close)
	api.AddStripeEvent(reconciletest.StripeEvent("evt_admin_1", "payment_intent.succeeded", time.Now().Add(-time.Hour), `{"id":"pi_1","object":"payment_intent"}`))
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return nil })
	v, err := verify.NewStripe("whsec_admin")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithLogger(quiet))
	src, err := reconcile.NewStripe(reconcile.StripeConfig{Key: reconcileKey, URL: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	runs := make(chan reconcile.Report, 4)
	rec, err := reconcile.New(reconcile.Config{Endpoint: ep, Source: src, Store: reconcile.NewMemoryStore(), Logger: quiet,
		Observe: func(_ context.Context, rep reconcile.Report) { runs <- rep }})
	if err != nil {
		t.Fatal(err)
	}
	h, err := admin.NewReconcile(admin.ReconcileConfig{Reconcilers: []*reconcile.Reconciler{rec}, Authorize: authorize})
	if err != nil {
		t.Fatal(err)
	}
	return h, rec, runs, api
}

func serve(h http.Handler, method, target, contentType string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestReconcileAdmin(t *testing.T) {
	h, _, runs, api := reconcileFixture(t, admin.AllowAll)

	rec := serve(h, http.MethodGet, "/", "")
	var list struct {
		Reconcilers []reconcile.Status `json:"reconcilers"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != 200 || len(list.Reconcilers) != 1 || list.Reconcilers[0].Name != "stripe" {
		t.Fatalf("GET /: %d %s", rec.Code, rec.Body)
	}
	if len(api.Requests()) != 0 {
		t.Errorf("a status read called the API")
	}

	// Start a run, and a second while the first waits on the API.
	entered, release := make(chan struct{}), make(chan struct{})
	api.OnRequest(func(*http.Request) {
		select {
		case entered <- struct{}{}:
			<-release
		default:
		}
	})
	if rec := serve(h, http.MethodPost, "/stripe/run", "application/json"); rec.Code != http.StatusAccepted {
		t.Fatalf("POST run: %d %s", rec.Code, rec.Body)
	}
	<-entered
	if rec := serve(h, http.MethodPost, "/stripe/run", "application/json"); rec.Code != http.StatusConflict {
		t.Errorf("a second run while one is under way: %d, want 409", rec.Code)
	}
	if rec := serve(h, http.MethodGet, "/stripe", ""); !strings.Contains(rec.Body.String(), `"running": true`) {
		t.Errorf("status during the run: %s", rec.Body)
	}
	close(release)
	if rep := <-runs; rep.Recovered() != 1 {
		t.Errorf("the run: %+v", rep)
	}
	rec = serve(h, http.MethodGet, "/stripe", "")
	var st reconcile.Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Last.Recovered() != 1 || !st.Last.CaughtUp {
		t.Errorf("status after the run: %s", rec.Body)
	}
	if strings.Contains(rec.Body.String(), reconcileKey) {
		t.Errorf("the API key is in the status: %s", rec.Body)
	}
}

func TestReconcileAdminRefusals(t *testing.T) {
	h, _, _, api := reconcileFixture(t, admin.AllowAll)
	closed, _, _, _ := reconcileFixture(t, func(*http.Request) bool { return false })
	tests := []struct {
		name        string
		h           http.Handler
		method, url string
		contentType string
		want        int
	}{
		{name: "not authorised", h: closed, method: http.MethodGet, url: "/", want: http.StatusForbidden},
		{name: "not authorised to run", h: closed, method: http.MethodPost, url: "/stripe/run", contentType: "application/json", want: http.StatusForbidden},
		{name: "a form cannot start a run", h: h, method: http.MethodPost, url: "/stripe/run", contentType: "application/x-www-form-urlencoded", want: http.StatusUnsupportedMediaType},
		{name: "no such reconciler", h: h, method: http.MethodGet, url: "/paypal", want: http.StatusNotFound},
		{name: "no such reconciler to run", h: h, method: http.MethodPost, url: "/paypal/run", contentType: "application/json", want: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if rec := serve(tt.h, tt.method, tt.url, tt.contentType); rec.Code != tt.want {
				t.Errorf("%s %s: %d, want %d", tt.method, tt.url, rec.Code, tt.want)
			}
		})
	}
	if len(api.Requests()) != 0 {
		t.Errorf("a refused request started a run")
	}
	if _, err := admin.NewReconcile(admin.ReconcileConfig{Authorize: admin.AllowAll}); !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Errorf("no reconcilers: %v", err)
	}
	_, rec, _, _ := reconcileFixture(t, admin.AllowAll)
	if _, err := admin.NewReconcile(admin.ReconcileConfig{Reconcilers: []*reconcile.Reconciler{rec}}); !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Errorf("no Authorize: %v", err)
	}
	if _, err := admin.NewReconcile(admin.ReconcileConfig{Reconcilers: []*reconcile.Reconciler{rec, rec}, Authorize: admin.AllowAll}); !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Errorf("two of one name: %v", err)
	}
}
