package admin

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
)

// ReconcileConfig configures the reconciliation admin API.
type ReconcileConfig struct {
	// Reconcilers are the host's, by their names. Required.
	Reconcilers []*reconcile.Reconciler
	// Authorize reports whether a request may use the handler. Required:
	// the handler authenticates nothing itself. AllowAll opens it.
	Authorize func(*http.Request) bool
}

// ReconcileHandler is the reconciliation admin API, an http.Handler:
//
//	GET  /             the status of every Reconciler: checkpoint, last run's report, running
//	GET  /{name}       one Reconciler's status ("stripe", "twilio:AC...")
//	POST /{name}/run   start a run now, in the background: 202, or 409 while
//	                   one is under way in this process (a run under way in
//	                   another process refuses it through the Store's lease,
//	                   and it ends at once)
//
// Statuses hold times, counts and cursors, never an API key.
type ReconcileHandler struct {
	cfg ReconcileConfig
	mux *http.ServeMux
}

// NewReconcile returns the reconciliation admin API, or an error wrapping
// dispatch.ErrInvalidConfig without Reconcilers or an Authorize function,
// or with two Reconcilers of one name.
func NewReconcile(cfg ReconcileConfig) (*ReconcileHandler, error) {
	switch {
	case len(cfg.Reconcilers) == 0:
		return nil, fmt.Errorf("admin: ReconcileConfig.Reconcilers is empty: %w", dispatch.ErrInvalidConfig)
	case cfg.Authorize == nil:
		return nil, fmt.Errorf("admin: ReconcileConfig.Authorize is required: the handler authenticates nothing itself (admin.AllowAll opens it deliberately): %w",
			dispatch.ErrInvalidConfig)
	}
	for i, r := range cfg.Reconcilers {
		if r == nil {
			return nil, fmt.Errorf("admin: ReconcileConfig.Reconcilers[%d] is nil: %w", i, dispatch.ErrInvalidConfig)
		}
		if slices.ContainsFunc(cfg.Reconcilers[:i], func(o *reconcile.Reconciler) bool { return o.Name() == r.Name() }) {
			return nil, fmt.Errorf("admin: two Reconcilers named %q: %w", r.Name(), dispatch.ErrInvalidConfig)
		}
	}
	h := &ReconcileHandler{cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.list)
	h.mux.HandleFunc("GET /{name}", h.get)
	h.mux.HandleFunc("POST /{name}/run", h.run)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *ReconcileHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !h.cfg.Authorize(r) {
		answer(w, http.StatusForbidden, map[string]string{"error": "forbidden"})
		return
	}
	if r.Method == http.MethodPost && !isJSON(r.Header.Get("Content-Type")) {
		answer(w, http.StatusUnsupportedMediaType, map[string]string{"error": "POST needs Content-Type: application/json"})
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *ReconcileHandler) find(w http.ResponseWriter, name string) *reconcile.Reconciler {
	i := slices.IndexFunc(h.cfg.Reconcilers, func(r *reconcile.Reconciler) bool { return r.Name() == name })
	if i < 0 {
		answer(w, http.StatusNotFound, map[string]string{"error": "no such reconciler"})
		return nil
	}
	return h.cfg.Reconcilers[i]
}

func (h *ReconcileHandler) list(w http.ResponseWriter, r *http.Request) {
	all := make([]reconcile.Status, 0, len(h.cfg.Reconcilers))
	for _, rec := range h.cfg.Reconcilers {
		st, err := rec.Status(r.Context())
		if err != nil {
			w.Header().Set("Retry-After", "5")
			answer(w, http.StatusServiceUnavailable, map[string]string{"error": "checkpoints unavailable"})
			return
		}
		all = append(all, st)
	}
	answer(w, http.StatusOK, map[string]any{"reconcilers": all})
}

func (h *ReconcileHandler) get(w http.ResponseWriter, r *http.Request) {
	rec := h.find(w, r.PathValue("name"))
	if rec == nil {
		return
	}
	st, err := rec.Status(r.Context())
	if err != nil {
		w.Header().Set("Retry-After", "5")
		answer(w, http.StatusServiceUnavailable, map[string]string{"error": "checkpoints unavailable"})
		return
	}
	answer(w, http.StatusOK, st)
}

func (h *ReconcileHandler) run(w http.ResponseWriter, r *http.Request) {
	rec := h.find(w, r.PathValue("name"))
	if rec == nil {
		return
	}
	if !rec.Start(r.Context()) {
		answer(w, http.StatusConflict, map[string]string{"error": "a run is under way", "name": rec.Name()})
		return
	}
	answer(w, http.StatusAccepted, map[string]string{"name": rec.Name(), "run": "started"})
}
