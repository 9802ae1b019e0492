package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
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
	return &Handler{cfg: cfg}, nil
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
	key, action, err := route(r.URL)
	if err != nil {
		answer(w, http.StatusBadRequest, map[string]string{"error": "bad path: " + err.Error()})
		return
	}
	want, serve := http.MethodGet, h.list
	switch {
	case action == "rerun":
		want, serve = http.MethodPost, func(w http.ResponseWriter, r *http.Request) { h.rerun(w, r, key) }
	case action == "discard":
		want, serve = http.MethodPost, func(w http.ResponseWriter, r *http.Request) { h.discard(w, r, key) }
	case key != "":
		serve = func(w http.ResponseWriter, r *http.Request) { h.get(w, r, key) }
	}
	if r.Method != want && !(want == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", want)
		answer(w, http.StatusMethodNotAllowed, map[string]string{"error": "use " + want})
		return
	}
	serve(w, r)
}

// route finds what a request asks for from the end of its path, so that
// the handler answers the same under any prefix however the host mounts
// it: http.StripPrefix and routers that strip their mount point leave it
// the rest, chi's Mount leaves it the whole path. An event's key always
// holds a colon ("<source>:<id>"), so the last segment is a dead letter's
// key when it holds one, an action (rerun, discard) when the segment before
// it does, and any other path (the mount point itself, with or without a
// trailing slash, or nothing at all) is the listing. No path is answered
// with a redirect, which would lead out of the prefix.
func route(u *url.URL) (key, action string, err error) {
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	last := len(segs) - 1
	if last >= 1 && (segs[last] == "rerun" || segs[last] == "discard") {
		if key, err = url.PathUnescape(segs[last-1]); err == nil && strings.Contains(key, ":") {
			return key, segs[last], nil
		}
	}
	if key, err = url.PathUnescape(segs[last]); err != nil || !strings.Contains(key, ":") {
		return "", "", err
	}
	return key, "", nil
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
	if h.failed(w, err) {
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

func (h *Handler) get(w http.ResponseWriter, r *http.Request, key string) {
	dl, err := h.cfg.Store.Get(r.Context(), key)
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

func (h *Handler) rerun(w http.ResponseWriter, r *http.Request, key string) {
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

func (h *Handler) discard(w http.ResponseWriter, r *http.Request, key string) {
	if h.failed(w, h.cfg.Store.Discard(r.Context(), key)) {
		return
	}
	answer(w, http.StatusOK, map[string]string{"key": key, "discard": "done"})
}

// failed answers err, if there is one: 400 for a filter or cursor the
// store cannot use (a cursor not its own, text its database refuses), 404
// for no such dead letter, 500 for a configuration error (a router the
// store refuses), 503 for a store that could not answer.
func (h *Handler) failed(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, dispatch.ErrInvalidFilter):
		answer(w, http.StatusBadRequest, map[string]string{"error": "bad cursor or filter"})
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
