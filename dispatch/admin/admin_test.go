package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		require.NoError(t, dls.DeadLetter(context.Background(), dispatch.DeadLetter{Event: e, Err: errors.New("no reminder template"), Attempts: 1, At: time.Now()}))
	}
	return dls, r, &fixed
}

func TestNewRefusesToBeOpenByAccident(t *testing.T) {
	dls, r, _ := fixture(t)
	_, err := admin.New(admin.Config{Store: dls, Routers: map[string]*dispatch.Router{"goconverso": r}})
	require.ErrorIs(t, err, dispatch.ErrInvalidConfig, "no authoriser")
	_, err = admin.New(admin.Config{Authorize: admin.AllowAll})
	require.ErrorIs(t, err, dispatch.ErrInvalidConfig, "no store")
	_, err = admin.New(admin.Config{Store: dls, Routers: map[string]*dispatch.Router{"x": nil}, Authorize: admin.AllowAll})
	require.ErrorIs(t, err, dispatch.ErrInvalidConfig, "a nil router")
	_, err = admin.New(admin.Config{Store: dls, Authorize: admin.AllowAll})
	require.NoError(t, err, "opened deliberately")
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
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	}
	return rec, v
}

// The status table: every answer the handler gives, with the store up and
// down.
func TestStatusTable(t *testing.T) {
	dls, r, fixed := fixture(t)
	h, err := admin.New(admin.Config{Store: dls, Routers: map[string]*dispatch.Router{"goconverso": r}, Authorize: admin.AllowAll})
	require.NoError(t, err)
	down, err := admin.New(admin.Config{Store: downStore{}, Routers: map[string]*dispatch.Router{"goconverso": r}, Authorize: admin.AllowAll})
	require.NoError(t, err)
	noRouter, err := admin.New(admin.Config{Store: dls, Authorize: admin.AllowAll})
	require.NoError(t, err)
	const js = "application/json"

	rec, v := do(t, h, http.MethodGet, "/", "")
	require.Equal(t, http.StatusOK, rec.Code)
	letters := v["dead_letters"].([]any)
	require.Len(t, letters, 2)
	assert.Equal(t, "goconverso:msg_1", letters[0].(map[string]any)["key"])
	assert.Equal(t, "no reminder template", letters[0].(map[string]any)["error"])
	assert.NotContains(t, rec.Body.String(), "+15551234567", "a listing shows no body")
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))

	rec, v = do(t, h, http.MethodGet, "/?limit=1", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Len(t, v["dead_letters"], 1)
	rec, v = do(t, h, http.MethodGet, "/?limit=1&after="+v["next"].(string), "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "goconverso:msg_2", v["dead_letters"].([]any)[0].(map[string]any)["key"], "the next page")

	rec, v = do(t, h, http.MethodGet, "/goconverso:msg_1", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, `{"phone":"+15551234567"}`, v["body"], "one letter, with its body")

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
		{"discard, store down", down, http.MethodPost, "/goconverso:msg_1/discard", "application/json; charset=utf-8", http.StatusServiceUnavailable, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec, _ := do(t, tt.h, tt.method, tt.path, tt.contentType)
			assert.Equal(t, tt.status, rec.Code, rec.Body.String())
			assert.Equal(t, tt.retryAfterSet, rec.Header().Get("Retry-After") != "")
		})
	}

	dl, err := dls.Get(context.Background(), "goconverso:msg_1")
	require.NoError(t, err)
	assert.Equal(t, 2, dl.Attempts, "the failed re-run is counted, the letter kept")

	fixed.Store(true)
	rec, _ = do(t, h, http.MethodPost, "/goconverso:msg_1/rerun", js)
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec, _ = do(t, h, http.MethodGet, "/goconverso:msg_1", "")
	assert.Equal(t, http.StatusNotFound, rec.Code, "resolved")
	rec, _ = do(t, h, http.MethodPost, "/goconverso:msg_2/discard", js)
	assert.Equal(t, http.StatusOK, rec.Code)
	rec, v = do(t, h, http.MethodGet, "/", "")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, v["dead_letters"])
}

func TestAuthorize(t *testing.T) {
	dls, r, _ := fixture(t)
	h, err := admin.New(admin.Config{Store: dls, Routers: map[string]*dispatch.Router{"goconverso": r},
		Authorize: func(r *http.Request) bool { return r.Header.Get("X-Operator") == "yes" }})
	require.NoError(t, err)
	rec, _ := do(t, h, http.MethodGet, "/", "")
	assert.Equal(t, http.StatusForbidden, rec.Code)
	rec, _ = do(t, h, http.MethodPost, "/goconverso:msg_1/discard", "application/json")
	assert.Equal(t, http.StatusForbidden, rec.Code)
	_, err = dls.Get(context.Background(), "goconverso:msg_1")
	assert.NoError(t, err, "not discarded")
}
