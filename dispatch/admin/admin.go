package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookkit/hookkit/dispatch"
)

// Config configures a Handler.
type Config struct {
	// Store holds the dead letters. Required.
	Store dispatch.DeadLetterStore
	// Routers re-run dead letters, by their event's source ("stripe"):
	// each the router of the Endpoint that letters of that source came
	// from. A source without one cannot be re-run (404 for it).
	Routers map[string]*dispatch.Router
	// Authorize reports whether a request may use the handler. Required:
	// the handler authenticates nothing itself. AllowAll opens it.
	Authorize func(*http.Request) bool
}

// AllowAll authorises every request: for a Handler the host already serves
// behind its own authentication, or on a listener only operators reach.
func AllowAll(*http.Request) bool { return true }

// Handler is the dead-letter admin API, an http.Handler.
type Handler struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the Handler, or an error wrapping dispatch.ErrInvalidConfig
// without a Store or an Authorize function.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, fmt.Errorf("admin: Config.Store is required: %w", dispatch.ErrInvalidConfig)
	case cfg.Authorize == nil:
		return nil, fmt.Errorf("admin: Config.Authorize is required: the handler authenticates nothing itself (admin.AllowAll opens it deliberately): %w",
			dispatch.ErrInvalidConfig)
	}
	for source, r := range cfg.Routers {
		if r == nil {
			return nil, fmt.Errorf("admin: Config.Routers[%q] is nil: %w", source, dispatch.ErrInvalidConfig)
		}
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.list)
	h.mux.HandleFunc("GET /{key}", h.get)
	h.mux.HandleFunc("POST /{key}/rerun", h.rerun)
	h.mux.HandleFunc("POST /{key}/discard", h.discard)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := dispatch.DeadLetterFilter{Source: q.Get("source"), Type: q.Get("type"), After: q.Get("after")}
	var err error
	if f.Since, err = queryTime(q.Get("since")); err == nil {
		f.Until, err = queryTime(q.Get("until"))
	}
	if s := q.Get("limit"); s != "" && err == nil {
		if f.Limit, err = strconv.Atoi(s); err == nil && (f.Limit < 1 || f.Limit > 1000) {
			err = errors.New("limit must be 1 to 1000")
		}
	}
	for _, p := range []struct{ name, value string }{{"source", f.Source}, {"type", f.Type}, {"after", f.After}} {
		if err == nil {
			err = filterText(p.name, p.value)
		}
	}
	if err != nil {
		answer(w, http.StatusBadRequest, map[string]string{"error": "bad query: " + err.Error()})
		return
	}
	page, err := h.cfg.Store.List(r.Context(), f)
	if errors.Is(err, dispatch.ErrInvalidConfig) {
		// What the store could not compare: a cursor not its own, a
		// filter its database refuses.
		answer(w, http.StatusBadRequest, map[string]string{"error": "bad cursor or filter"})
		return
	}
	if err != nil {
		unavailable(w)
		return
	}
	letters := page.Letters
	if letters == nil {
		letters = []dispatch.DeadLetter{}
	}
	answer(w, http.StatusOK, map[string]any{"dead_letters": letters, "next": page.Next})
}

// filterText refuses, as events.Event.Validate refuses in IDs, what no
// event's source or type holds and a database may refuse to compare (a
// NUL, which PostgreSQL rejects): invalid UTF-8, control characters, or
// more than a kilobyte. A bad query is a 400, never a store "unavailable".
func filterText(name, value string) error {
	switch {
	case len(value) > 1024:
		return fmt.Errorf("%s is %d bytes, limit 1024", name, len(value))
	case !utf8.ValidString(value):
		return fmt.Errorf("%s is not valid UTF-8", name)
	case strings.ContainsFunc(value, unicode.IsControl):
		return fmt.Errorf("%s holds a control character", name)
	}
	return nil
}

func queryTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	dl, err := h.cfg.Store.Get(r.Context(), r.PathValue("key"))
	if h.failed(w, err) {
		return
	}
	// The listing's fields, and the raw body: only here, one letter at a
	// time, for an operator who asked for it.
	b, err := json.Marshal(dl)
	var v map[string]any
	if err == nil {
		err = json.Unmarshal(b, &v)
	}
	if err != nil {
		answer(w, http.StatusInternalServerError, map[string]string{"error": "dead letter not encodable"})
		return
	}
	v["body"] = string(dl.Event.Body)
	answer(w, http.StatusOK, v)
}

func (h *Handler) rerun(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	dl, err := h.cfg.Store.Get(r.Context(), key)
	if h.failed(w, err) {
		return
	}
	router, ok := h.cfg.Routers[dl.Event.Source]
	if !ok {
		answer(w, http.StatusNotFound, map[string]string{"error": "no router for source " + strconv.Quote(dl.Event.Source)})
		return
	}
	err = h.cfg.Store.Rerun(r.Context(), router, key)
	if errors.Is(err, dispatch.ErrRerunFailed) {
		answer(w, http.StatusConflict, map[string]string{"error": "the handler failed again", "key": key})
		return
	}
	if h.failed(w, err) {
		return
	}
	answer(w, http.StatusOK, map[string]string{"key": key, "rerun": "done"})
}

func (h *Handler) discard(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if h.failed(w, h.cfg.Store.Discard(r.Context(), key)) {
		return
	}
	answer(w, http.StatusOK, map[string]string{"key": key, "discard": "done"})
}

// failed answers err, if there is one: 404 for no such dead letter, 500
// for a configuration error (a router the store refuses), 503 for a store
// that could not answer.
func (h *Handler) failed(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, dispatch.ErrNotDeadLettered):
		answer(w, http.StatusNotFound, map[string]string{"error": "no such dead letter"})
	case errors.Is(err, dispatch.ErrInvalidConfig):
		answer(w, http.StatusInternalServerError, map[string]string{"error": "the dead-letter store is misconfigured"})
	default:
		unavailable(w)
	}
	return true
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	answer(w, http.StatusServiceUnavailable, map[string]string{"error": "dead letters unavailable"})
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
