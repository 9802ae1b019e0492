package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
		if got := sendFixture(t, a, name); got != http.StatusOK {
			t.Fatalf("%v: got %d, want %d", name, got, http.StatusOK)
		}
	}
	_, err := a.store.db.Exec(`ALTER TABLE outbox RENAME TO outbox_away`)
	if err != nil {
		t.Fatal(err)
	}
	if got := sendFixture(t, a, "twilio/message.undelivered"); got != http.StatusOK {
		t.Fatalf("acknowledged into the queue: got %d, want %d", got, http.StatusOK)
	}
	waitFor(t, "the job is discarded after its last attempt", 10*time.Second, func() bool {
		letters, err := a.jobs.deadLetters.List(context.Background(), dispatch.DeadLetterFilter{})
		return err == nil && len(letters.Letters) == 1
	})

	views := listAll(t, a)
	if len(views) != 1 {
		t.Fatalf("views: got %d items, want %d: %v", len(views), 1, views)
	}
	return views[0], func() {
		_, err := a.store.db.Exec(`ALTER TABLE outbox_away RENAME TO outbox`)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// listAll lists every dead letter through the admin routes, page after
// page.
func listAll(t *testing.T, a *app) []deadLetterJSON {
	t.Helper()
	var all []deadLetterJSON
	for after, pages := "", 0; ; pages++ {
		if pages >= 10 {
			t.Fatalf("pages: got %d, want < %d", pages, 10)
		}
		var page struct {
			DeadLetters []deadLetterJSON `json:"dead_letters"`
			Next        string
		}
		if got := adminCall(t, a, http.MethodGet, "/dead-letters/?after="+url.QueryEscape(after), &page); got != http.StatusOK {
			t.Fatalf("the next page of dead letters: got %d, want %d", got, http.StatusOK)
		}
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
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("%v: %v", rec.Body.String(), err)
		}
	}
	return rec.Code
}

// A Twilio callback whose handler fails every attempt is acknowledged once,
// retried, discarded by River, listed with the other dead letters, and
// re-run to its effect once the cause is fixed.
func TestSMSJobDeadLetter(t *testing.T) {
	for name, open := range databases(t) {
		t.Run(name, func(t *testing.T) {
			a := newTestApp(t, open(t), config{smsRetry: quickRetries})
			dl, restore := discardSMSJob(t, a)
			if dl.Type != "message.undelivered" {
				t.Errorf("dl.Type: got %q, want %q", dl.Type, "message.undelivered")
			}
			if dl.Attempts != 3 {
				t.Errorf("the first attempt and two retries: got %d, want 3", dl.Attempts)
			}
			if !strings.Contains(dl.Ref, "river job") {
				t.Errorf("dl.Ref: got %q, want it to contain %q", dl.Ref, "river job")
			}
			if !strings.Contains(dl.Error, "outbox") {
				t.Errorf("the last attempt's error: got %q, want it to contain %q", dl.Error, "outbox")
			}

			restore()
			if got := bookingNow(t, a).Outbox; len(got) != 0 {
				t.Errorf("the booking's Outbox: got %q, want empty", got)
			}
			var rerun map[string]string
			if got := adminCall(t, a, http.MethodPost, "/dead-letters/"+url.PathEscape(dl.Key)+"/rerun", &rerun); got != http.StatusOK {
				t.Fatalf("POST .../rerun: got %d, want %d", got, http.StatusOK)
			}
			if rerun["key"] != dl.Key {
				t.Errorf("rerun[\"key\"]: got %q, want %q", rerun["key"], dl.Key)
			}
			waitFor(t, "the re-run job's effect", 10*time.Second, func() bool {
				return slices.Equal(bookingNow(t, a).Outbox, []string{"email_sms_fallback", "support_sms_failed"})
			})
			if got := listAll(t, a); len(got) != 0 {
				t.Errorf("listAll(t, a): got %v, want empty", got)
			}
			if got := adminCall(t, a, http.MethodPost, "/dead-letters/"+url.PathEscape(dl.Key)+"/rerun", nil); got != http.StatusNotFound {
				t.Errorf("no longer a dead letter: got %d, want %d", got, http.StatusNotFound)
			}

			// The same callback again is a duplicate of a job River keeps.
			if got := sendFixture(t, a, "twilio/message.undelivered"); got != http.StatusOK {
				t.Fatalf("sending twilio/message.undelivered: got %d, want %d", got, http.StatusOK)
			}
			settle(t, a) // a second job for it would have run by now
			if got := bookingNow(t, a).Outbox; len(got) != 2 {
				t.Errorf("one fallback email and one support alert: got %d items, want %d: %v", len(got), 2, got)
			}
		})
	}
}

func TestSMSJobDiscard(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{smsRetry: quickRetries})
	dl, restore := discardSMSJob(t, a)
	restore()
	var discarded map[string]string
	if got := adminCall(t, a, http.MethodPost, "/dead-letters/"+url.PathEscape(dl.Key)+"/discard", &discarded); got != http.StatusOK {
		t.Fatalf("POST .../discard: got %d, want %d", got, http.StatusOK)
	}
	if discarded["key"] != dl.Key {
		t.Errorf("discarded[\"key\"]: got %q, want %q", discarded["key"], dl.Key)
	}
	if got := listAll(t, a); len(got) != 0 {
		t.Errorf("listAll(t, a): got %v, want empty", got)
	}
	if got := bookingNow(t, a).Outbox; len(got) != 0 {
		t.Errorf("discarded, never run: got %q, want empty", got)
	}
}

// River's UI answers only with the API token as the Basic password, and
// refuses a cross-site request that would act with a browser's cached
// credentials.
func TestAdminUIAuthentication(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "b.db"), config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ui, err := a.adminHandler(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ui)
	defer srv.Close()

	do := func(method, path, user, password string, header http.Header) *http.Response {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(`{"ids":["1"]}`))
		if err != nil {
			t.Fatal(err)
		}
		if user != "" || password != "" {
			req.SetBasicAuth(user, password)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	token := demoSecrets.APIToken
	for name, password := range map[string]string{"none": "", "wrong": "guessed", "prefix": token[:5], "longer": token + "x"} {
		res := do(http.MethodGet, "/api/jobs?state=discarded", "admin", password, nil)
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%v: got %d, want %d", name, res.StatusCode, http.StatusUnauthorized)
		}
		if got := res.Header.Get("WWW-Authenticate"); !strings.Contains(got, "Basic") {
			t.Errorf("%v: got %q, want it to contain %q", name, got, "Basic")
		}
	}
	if got := do(http.MethodGet, "/api/jobs?state=discarded", "anyone", token, nil).StatusCode; got != http.StatusOK {
		t.Errorf("do(http.MethodGet, \"/api/jobs?state=discarded\", \"anyone\", token, nil).StatusCode: got %d, want %d", got, http.StatusOK)
	}
	if got := do(http.MethodGet, "/", "operator", token, nil).StatusCode; got != http.StatusOK {
		t.Errorf("the UI's page: got %d, want %d", got, http.StatusOK)
	}
	crossSite := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Content-Type": {"application/json"}}
	if got := do(http.MethodPost, "/api/jobs/delete", "admin", token, crossSite).StatusCode; got != http.StatusForbidden {
		t.Errorf("another site's page cannot delete a job with the browser's credentials: got %d, want %d", got, http.StatusForbidden)
	}

	// No page or API answer may be framed by another site or kept in a
	// cache: they show phone numbers.
	for _, res := range []*http.Response{
		do(http.MethodGet, "/", "operator", token, nil),
		do(http.MethodGet, "/api/jobs?state=discarded", "operator", token, nil),
		do(http.MethodGet, "/", "", "", nil),
	} {
		if got := res.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%v: got %q, want %q", res.Request.URL.Path, got, "DENY")
		}
		if got := res.Header.Get("Content-Security-Policy"); got != "frame-ancestors 'none'" {
			t.Errorf("%v: got %q, want %q", res.Request.URL.Path, got, "frame-ancestors 'none'")
		}
		if got := res.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%v: got %q, want %q", res.Request.URL.Path, got, "no-store")
		}
	}

	sec := demoSecrets
	sec.APIToken = ""
	open := newTestApp(t, filepath.Join(t.TempDir(), "c.db"), config{secrets: sec})
	_, err = open.adminHandler(ctx)
	if !errors.Is(err, errAdminWithoutToken) {
		t.Errorf("err: got %v, want %v", err, errAdminWithoutToken)
	}
}
