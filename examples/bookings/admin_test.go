package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/dispatch"
)

// quickRetries discards an SMS status job after three quick attempts.
var quickRetries = []time.Duration{20 * time.Millisecond, 20 * time.Millisecond}

// discardSMSJob makes the Twilio callback for booking 12345's failed SMS
// fail every attempt (its fallback email cannot be queued: the outbox table
// is renamed away) until River discards its job, and returns the dead
// letter. restore puts the table back.
func discardSMSJob(t *testing.T, a *app) (dl deadLetterJSON, restore func()) {
	t.Helper()
	for _, name := range []string{"standard/booking.created", "standard/booking.confirmed"} {
		require.Equal(t, http.StatusOK, sendFixture(t, a, name), name)
	}
	_, err := a.store.db.Exec(`ALTER TABLE outbox RENAME TO outbox_away`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, sendFixture(t, a, "twilio/message.undelivered"), "acknowledged into the queue")
	require.Eventually(t, func() bool {
		letters, err := a.jobs.deadLetters.List(context.Background(), dispatch.DeadLetterFilter{})
		return err == nil && len(letters.Letters) == 1
	}, 10*time.Second, 20*time.Millisecond, "the job is discarded after its last attempt")

	views := listAll(t, a)
	require.Len(t, views, 1)
	return views[0], func() {
		_, err := a.store.db.Exec(`ALTER TABLE outbox_away RENAME TO outbox`)
		require.NoError(t, err)
	}
}

// listAll lists every dead letter through the admin routes, page after
// page.
func listAll(t *testing.T, a *app) []deadLetterJSON {
	t.Helper()
	var all []deadLetterJSON
	for after, pages := "", 0; ; pages++ {
		require.Less(t, pages, 10)
		var page struct {
			DeadLetters []deadLetterJSON `json:"dead_letters"`
			Next        string
		}
		require.Equal(t, http.StatusOK, adminCall(t, a, http.MethodGet, "/dead-letters/?after="+url.QueryEscape(after), &page))
		all = append(all, page.DeadLetters...)
		if page.Next == "" {
			return all
		}
		after = page.Next
	}
}

// adminCall calls an admin route with the API token (a POST as JSON, as
// dispatch/admin requires) and decodes its JSON answer into v.
func adminCall(t *testing.T, a *app, method, target string, v any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	}
	req := httptest.NewRequest(method, target, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+demoSecrets.APIToken)
	a.handler.ServeHTTP(rec, req)
	if v != nil {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), v), rec.Body.String())
	}
	return rec.Code
}

// A Twilio callback whose handler fails every attempt is acknowledged once,
// retried, discarded by River, listed with the other dead letters, and
// re-run to its effect once the cause is fixed.
func TestSMSJobDeadLetter(t *testing.T) {
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			a := newTestApp(t, dsn, config{smsRetry: quickRetries})
			dl, restore := discardSMSJob(t, a)
			assert.Equal(t, "message.undelivered", dl.Type)
			assert.Equal(t, 3, dl.Attempts, "the first attempt and two retries")
			assert.Contains(t, dl.Ref, "river job")
			assert.Contains(t, dl.Error, "outbox", "the last attempt's error")

			restore()
			assert.Empty(t, bookingNow(t, a).Outbox)
			var rerun map[string]string
			require.Equal(t, http.StatusOK, adminCall(t, a, http.MethodPost, "/dead-letters/"+url.PathEscape(dl.Key)+"/rerun", &rerun))
			assert.Equal(t, dl.Key, rerun["key"])
			require.Eventually(t, func() bool {
				b := bookingNow(t, a)
				return len(b.Outbox) == 1 && b.Outbox[0] == "email_sms_fallback"
			}, 10*time.Second, 20*time.Millisecond, "the re-run job's effect")
			assert.Empty(t, listAll(t, a))
			assert.Equal(t, http.StatusNotFound, adminCall(t, a, http.MethodPost, "/dead-letters/"+url.PathEscape(dl.Key)+"/rerun", nil),
				"no longer a dead letter")

			// The same callback again is a duplicate of a job River keeps.
			require.Equal(t, http.StatusOK, sendFixture(t, a, "twilio/message.undelivered"))
			time.Sleep(3 * smsPollInterval)
			assert.Len(t, bookingNow(t, a).Outbox, 1, "one fallback email")
		})
	}
}

func TestSMSJobDiscard(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{smsRetry: quickRetries})
	dl, restore := discardSMSJob(t, a)
	restore()
	var discarded map[string]string
	require.Equal(t, http.StatusOK, adminCall(t, a, http.MethodPost, "/dead-letters/"+url.PathEscape(dl.Key)+"/discard", &discarded))
	assert.Equal(t, dl.Key, discarded["key"])
	assert.Empty(t, listAll(t, a))
	assert.Empty(t, bookingNow(t, a).Outbox, "discarded, never run")
}

// River's UI answers only with the API token as the Basic password, and
// refuses a cross-site request that would act with a browser's cached
// credentials.
func TestAdminUIAuthentication(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ui, err := a.adminHandler(ctx)
	require.NoError(t, err)
	srv := httptest.NewServer(ui)
	defer srv.Close()

	do := func(method, path, user, password string, header http.Header) *http.Response {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(`{"ids":["1"]}`))
		require.NoError(t, err)
		if user != "" || password != "" {
			req.SetBasicAuth(user, password)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	token := demoSecrets.APIToken
	for name, password := range map[string]string{"none": "", "wrong": "guessed", "prefix": token[:5], "longer": token + "x"} {
		res := do(http.MethodGet, "/api/jobs?state=discarded", "admin", password, nil)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, name)
		assert.Contains(t, res.Header.Get("WWW-Authenticate"), "Basic", name)
	}
	assert.Equal(t, http.StatusOK, do(http.MethodGet, "/api/jobs?state=discarded", "anyone", token, nil).StatusCode)
	assert.Equal(t, http.StatusOK, do(http.MethodGet, "/", "operator", token, nil).StatusCode, "the UI's page")
	crossSite := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Content-Type": {"application/json"}}
	assert.Equal(t, http.StatusForbidden, do(http.MethodPost, "/api/jobs/delete", "admin", token, crossSite).StatusCode,
		"another site's page cannot delete a job with the browser's credentials")

	// No page or API answer may be framed by another site or kept in a
	// cache: they show phone numbers.
	for _, res := range []*http.Response{
		do(http.MethodGet, "/", "operator", token, nil),
		do(http.MethodGet, "/api/jobs?state=discarded", "operator", token, nil),
		do(http.MethodGet, "/", "", "", nil),
	} {
		assert.Equal(t, "DENY", res.Header.Get("X-Frame-Options"), res.Request.URL.Path)
		assert.Equal(t, "frame-ancestors 'none'", res.Header.Get("Content-Security-Policy"), res.Request.URL.Path)
		assert.Equal(t, "no-store", res.Header.Get("Cache-Control"), res.Request.URL.Path)
	}

	sec := demoSecrets
	sec.APIToken = ""
	open := newTestApp(t, filepath.Join(t.TempDir(), "c.db"), config{secrets: sec})
	_, err = open.adminHandler(ctx)
	assert.ErrorIs(t, err, errAdminWithoutToken)
}
