package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/admin"
	"github.com/hookkit/hookkit/events"
)

// downStore is a store whose database is down.
type downStore struct{}

var errDown = errors.New("connection refused")

func (downStore) List(context.Context, dispatch.DeadLetterFilter) (dispatch.DeadLetterPage, error) {
	return dispatch.DeadLetterPage{}, errDown
}
func (downStore) Get(context.Context, string) (dispatch.DeadLetter, error) {
	return dispatch.DeadLetter{}, errDown
}
func (downStore) Rerun(context.Context, *dispatch.Router, string) error { return errDown }
func (downStore) Discard(context.Context, string) error                 { return errDown }

// refusingStore is a store that refuses the filter or cursor it is given,
// as a store refuses a cursor it did not write, whichever operation reads
// it.
type refusingStore struct{}

var errRefused = fmt.Errorf("cursor %q: %w", "x", dispatch.ErrInvalidFilter)

func (refusingStore) List(context.Context, dispatch.DeadLetterFilter) (dispatch.DeadLetterPage, error) {
	return dispatch.DeadLetterPage{}, errRefused
}
func (refusingStore) Get(context.Context, string) (dispatch.DeadLetter, error) {
	return dispatch.DeadLetter{}, errRefused
}
func (refusingStore) Rerun(context.Context, *dispatch.Router, string) error { return errRefused }
func (refusingStore) Discard(context.Context, string) error                 { return errRefused }

// fixture is a memory store holding two dead letters of source "goconverso",
// whose handler fails until fixed.
func fixture(t *testing.T) (*dispatch.MemoryDeadLetters, *dispatch.Router, *atomic.Bool) {
	var fixed atomic.Bool
	r := dispatch.NewRouter()
	r.HandleFunc("booking.reminder", func(context.Context, *events.Event) error {
		if !fixed.Load() {
			return errors.New("no reminder template")
		}
		return nil
	})
	dls := dispatch.NewMemoryDeadLetters(0)
	for _, id := range []string{"msg_1", "msg_2"} {
		e := &events.Event{Source: "goconverso", ID: id, Type: "booking.reminder", Body: []byte(`{"phone":"+15551234567"}`)}
		if err := dls.DeadLetter(context.Background(), dispatch.DeadLetter{Event: e, Err: errors.New("no reminder template"), Attempts: 1, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return dls, r, &fixed
}

func TestNewRefusesToBeOpenByAccident(t *testing.T) {
	dls, r, _ := fixture(t)
	_, err := admin.New(admin.Config{Store: dls, Routers: map[string]*dispatch.Router{"goconverso": r}})
	if !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Fatalf("no authoriser: got %v, want %v", err, dispatch.ErrInvalidConfig)
	}
	_, err = admin.New(admin.Config{Authorize: admin.AllowAll})
	if !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Fatalf("no store: got %v, want %v", err, dispatch.ErrInvalidConfig)
	}
	_, err = admin.New(admin.Config{Store: dls, Routers: map[string]*dispatch.Router{"x": nil}, Authorize: admin.AllowAll})
	if !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Fatalf("a nil router: got %v, want %v", err, dispatch.ErrInvalidConfig)
	}
	_, err = admin.New(admin.Config{Store: dls, Authorize: admin.AllowAll})
	if err != nil {
		t.Fatalf("opened deliberately: %v", err)
	}
}

func do(t *testing.T, h http.Handler, method, target, contentType string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	var body *strings.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{}`)
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, target, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var v map[string]any
	if rec.Body.Len() > 0 && rec.Header().Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%v: %v", rec.Body.String(), err)
		}
	}
	return rec, v
}

// The status table: every answer the handler gives, with the store up and
// down.
func TestStatusTable(t *testing.T) {
	dls, r, fixed := fixture(t)
	h, err := admin.New(admin.Config{Store: dls, Routers: map[string]*dispatch.Router{"goconverso": r}, Authorize: admin.AllowAll})
	if err != nil {
		t.Fatal(err)
	}
	down, err := admin.New(admin.Config{Store: downStore{}, Routers: map[string]*dispatch.Router{"goconverso": r}, Authorize: admin.AllowAll})
	if err != nil {
		t.Fatal(err)
	}
	noRouter, err := admin.New(admin.Config{Store: dls, Authorize: admin.AllowAll})
	if err != nil {
		t.Fatal(err)
	}
	refusing, err := admin.New(admin.Config{Store: refusingStore{}, Routers: map[string]*dispatch.Router{"goconverso": r}, Authorize: admin.AllowAll})
	if err != nil {
		t.Fatal(err)
	}
	const js = "application/json"

	rec, v := do(t, h, http.MethodGet, "/", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("rec.Code: got %d, want %d", rec.Code, http.StatusOK)
	}
	letters := v["dead_letters"].([]any)
	if len(letters) != 2 {
		t.Fatalf("letters: got %d items, want %d: %v", len(letters), 2, letters)
	}
	if got := letters[0].(map[string]any)["key"]; got != "goconverso:msg_1" {
		t.Errorf("letters[0].(map[string]any)[\"key\"]: got %v, want %v", got, "goconverso:msg_1")
	}
	if got := letters[0].(map[string]any)["error"]; got != "no reminder template" {
		t.Errorf("letters[0].(map[string]any)[\"error\"]: got %v, want %v", got, "no reminder template")
	}
	if got := rec.Body.String(); strings.Contains(got, "+15551234567") {
		t.Errorf("a listing shows no body: got %q, want it not to contain %q", got, "+15551234567")
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("rec.Header().Get(\"Cache-Control\"): got %q, want %q", got, "no-store")
	}

	rec, v = do(t, h, http.MethodGet, "/?limit=1", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("rec.Code: got %d, want %d", rec.Code, http.StatusOK)
	}
	if got := deadLetters(t, v); len(got) != 1 {
		t.Fatalf("a page of limit 1: got %d letters, want 1", len(got))
	}
	rec, v = do(t, h, http.MethodGet, "/?limit=1&after="+v["next"].(string), "")
	if rec.Code != http.StatusOK {
		t.Fatalf("rec.Code: got %d, want %d", rec.Code, http.StatusOK)
	}
	if got := v["dead_letters"].([]any)[0].(map[string]any)["key"]; got != "goconverso:msg_2" {
		t.Errorf("the next page: got %v, want %v", got, "goconverso:msg_2")
	}

	rec, v = do(t, h, http.MethodGet, "/goconverso:msg_1", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("rec.Code: got %d, want %d", rec.Code, http.StatusOK)
	}
	if v["body"] != `{"phone":"+15551234567"}` {
		t.Errorf("one letter, with its body: got %v, want %v", v["body"], `{"phone":"+15551234567"}`)
	}

	for _, tt := range []struct {
		name          string
		h             http.Handler
		method, path  string
		contentType   string
		status        int
		retryAfterSet bool
	}{
		{"get an unknown key", h, http.MethodGet, "/goconverso:msg_9", "", http.StatusNotFound, false},
		{"bad since", h, http.MethodGet, "/?since=yesterday", "", http.StatusBadRequest, false},
		{"bad limit", h, http.MethodGet, "/?limit=0", "", http.StatusBadRequest, false},
		{"bad cursor", h, http.MethodGet, "/?after=x", "", http.StatusBadRequest, false},
		{"re-run as a form", h, http.MethodPost, "/goconverso:msg_1/rerun", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, false},
		{"re-run as text", h, http.MethodPost, "/goconverso:msg_1/rerun", "text/plain", http.StatusUnsupportedMediaType, false},
		{"re-run without a content type", h, http.MethodPost, "/goconverso:msg_1/rerun", "", http.StatusUnsupportedMediaType, false},
		{"discard as a form", h, http.MethodPost, "/goconverso:msg_1/discard", "multipart/form-data; boundary=x", http.StatusUnsupportedMediaType, false},
		{"re-run by GET", h, http.MethodGet, "/goconverso:msg_1/rerun", "", http.StatusMethodNotAllowed, false},
		{"re-run that fails again", h, http.MethodPost, "/goconverso:msg_1/rerun", js, http.StatusConflict, false},
		{"re-run of an unknown key", h, http.MethodPost, "/goconverso:msg_9/rerun", js, http.StatusNotFound, false},
		{"re-run without a router for the source", noRouter, http.MethodPost, "/goconverso:msg_1/rerun", js, http.StatusNotFound, false},
		{"discard an unknown key", h, http.MethodPost, "/goconverso:msg_9/discard", js, http.StatusNotFound, false},
		{"list, store down", down, http.MethodGet, "/", "", http.StatusServiceUnavailable, true},
		{"get, store down", down, http.MethodGet, "/goconverso:msg_1", "", http.StatusServiceUnavailable, true},
		{"re-run, store down: never 409", down, http.MethodPost, "/goconverso:msg_1/rerun", js, http.StatusServiceUnavailable, true},
		{"list, a filter the store refuses", refusing, http.MethodGet, "/?after=1:x", "", http.StatusBadRequest, false},
		{"get, a cursor the store refuses", refusing, http.MethodGet, "/goconverso:msg_1", "", http.StatusBadRequest, false},
		{"re-run, a cursor the store refuses", refusing, http.MethodPost, "/goconverso:msg_1/rerun", js, http.StatusBadRequest, false},
		{"discard, a cursor the store refuses", refusing, http.MethodPost, "/goconverso:msg_1/discard", js, http.StatusBadRequest, false},
		{"discard by GET", h, http.MethodGet, "/goconverso:msg_1/discard", "", http.StatusMethodNotAllowed, false},
		{"list by POST", h, http.MethodPost, "/", js, http.StatusMethodNotAllowed, false},
		{"discard, store down", down, http.MethodPost, "/goconverso:msg_1/discard", "application/json; charset=utf-8", http.StatusServiceUnavailable, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec, _ := do(t, tt.h, tt.method, tt.path, tt.contentType)
			if rec.Code != tt.status {
				t.Errorf("status: got %d (%s), want %d", rec.Code, rec.Body, tt.status)
			}
			if got := rec.Header().Get("Retry-After") != ""; got != tt.retryAfterSet {
				t.Errorf("Retry-After set: got %t, want %t", got, tt.retryAfterSet)
			}
		})
	}

	dl, err := dls.Get(context.Background(), "goconverso:msg_1")
	if err != nil {
		t.Fatal(err)
	}
	if dl.Attempts != 2 {
		t.Errorf("the failed re-run is counted, the letter kept: got %d, want 2", dl.Attempts)
	}

	fixed.Store(true)
	rec, _ = do(t, h, http.MethodPost, "/goconverso:msg_1/rerun", js)
	if rec.Code != http.StatusOK {
		t.Errorf("status: got %d (%s), want %d", rec.Code, rec.Body, http.StatusOK)
	}
	rec, _ = do(t, h, http.MethodGet, "/goconverso:msg_1", "")
	if rec.Code != http.StatusNotFound {
		t.Errorf("resolved: got %d, want %d", rec.Code, http.StatusNotFound)
	}
	rec, _ = do(t, h, http.MethodPost, "/goconverso:msg_2/discard", js)
	if rec.Code != http.StatusOK {
		t.Errorf("rec.Code: got %d, want %d", rec.Code, http.StatusOK)
	}
	rec, v = do(t, h, http.MethodGet, "/", "")
	if rec.Code != http.StatusOK {
		t.Errorf("rec.Code: got %d, want %d", rec.Code, http.StatusOK)
	}
	if got := deadLetters(t, v); len(got) != 0 {
		t.Errorf("the listing once re-run and discarded: got %v, want none", got)
	}
}

// deadLetters returns a listing's "dead_letters", failing t unless it is
// an array (or null).
func deadLetters(t *testing.T, v map[string]any) []any {
	t.Helper()
	letters, ok := v["dead_letters"].([]any)
	if !ok && v["dead_letters"] != nil {
		t.Fatalf("dead_letters: got %T, want an array", v["dead_letters"])
	}
	return letters
}

func TestAuthorize(t *testing.T) {
	dls, r, _ := fixture(t)
	h, err := admin.New(admin.Config{Store: dls, Routers: map[string]*dispatch.Router{"goconverso": r},
		Authorize: func(r *http.Request) bool { return r.Header.Get("X-Operator") == "yes" }})
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := do(t, h, http.MethodGet, "/", "")
	if rec.Code != http.StatusForbidden {
		t.Errorf("rec.Code: got %d, want %d", rec.Code, http.StatusForbidden)
	}
	rec, _ = do(t, h, http.MethodPost, "/goconverso:msg_1/discard", "application/json")
	if rec.Code != http.StatusForbidden {
		t.Errorf("rec.Code: got %d, want %d", rec.Code, http.StatusForbidden)
	}
	_, err = dls.Get(context.Background(), "goconverso:msg_1")
	if err != nil {
		t.Errorf("not discarded: %v", err)
	}
}

// chiMount mounts h under prefix as chi's Mount does: the mounted handler
// sees the request's whole path (chi keeps its own routing position in the
// request's context, which h cannot read).
func chiMount(prefix string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != prefix && !strings.HasPrefix(r.URL.Path, prefix+"/") {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// strippingMount mounts h under prefix as routers that strip their mount
// point do: r.URL.Path and r.URL.RawPath lose the prefix, and the mount
// point itself arrives as an empty path.
func strippingMount(prefix string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok || (rest != "" && rest[0] != '/') {
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		r2.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, prefix)
		h.ServeHTTP(w, r2)
	})
}

// The handler answers the same under any prefix, however it is mounted:
// never a redirect (which would lead out of the prefix, to "/"), and the
// mount point itself is the listing, with or without a trailing slash.
func TestMountedUnderAPrefix(t *testing.T) {
	const prefix = "/admin/dead-letters"
	for _, mount := range []struct {
		name  string
		mount func(h http.Handler) http.Handler
	}{
		{"chi Mount", func(h http.Handler) http.Handler { return chiMount(prefix, h) }},
		{"a router that strips the prefix", func(h http.Handler) http.Handler { return strippingMount(prefix, h) }},
		{"http.StripPrefix", func(h http.Handler) http.Handler { return http.StripPrefix(prefix, h) }},
	} {
		t.Run(mount.name, func(t *testing.T) {
			dls, r, fixed := fixture(t)
			fixed.Store(true)
			h, err := admin.New(admin.Config{Store: dls, Routers: map[string]*dispatch.Router{"goconverso": r}, Authorize: admin.AllowAll})
			if err != nil {
				t.Fatal(err)
			}
			mounted := mount.mount(h)
			for _, c := range []struct {
				method, target  string
				status, letters int
			}{
				{http.MethodGet, prefix, http.StatusOK, 2},
				{http.MethodGet, prefix + "/", http.StatusOK, 2},
				{http.MethodGet, prefix + "?limit=1", http.StatusOK, 1},
				{http.MethodGet, prefix + "/goconverso:msg_1", http.StatusOK, -1},
				{http.MethodGet, prefix + "/goconverso%3Amsg_1", http.StatusOK, -1},
				{http.MethodPost, prefix + "/goconverso:msg_1/rerun", http.StatusOK, -1},
				{http.MethodPost, prefix + "/goconverso:msg_2/discard", http.StatusOK, -1},
				{http.MethodGet, prefix + "/goconverso:msg_2", http.StatusNotFound, -1},
				{http.MethodGet, prefix, http.StatusOK, 0},
			} {
				rec, v := do(t, mounted, c.method, c.target, "application/json")
				if rec.Code != c.status {
					t.Fatalf("%s %s: got %d %s (Location %q), want %d", c.method, c.target, rec.Code, rec.Body, rec.Header().Get("Location"), c.status)
				}
				if got := len(deadLetters(t, v)); c.letters >= 0 && got != c.letters {
					t.Errorf("%s %s: got %d letters, want %d", c.method, c.target, got, c.letters)
				}
			}
		})
	}
}
