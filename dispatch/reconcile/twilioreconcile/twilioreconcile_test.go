package twilioreconcile_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
	"github.com/hookkit/hookkit/dispatch/reconcile/twilioreconcile"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

const (
	account   = "AC7d0b2a9c4e1f3a5b6c8d0e2f4a6b8c0d"
	authToken = "5f4dcc3b5aa765d61d8327deb882cf99"
)

var quiet = slog.New(slog.DiscardHandler)

// host is a Twilio status-callback Endpoint whose handlers count the runs
// of each event, and remember the last form of each.
type host struct {
	ep   *dispatch.Endpoint
	mu   sync.Mutex
	ran  map[string]int
	seen map[string]*twilioevent.MessageStatus
}

func newHost(t *testing.T, patterns ...string) *host {
	t.Helper()
	h := &host{ran: map[string]int{}, seen: map[string]*twilioevent.MessageStatus{}}
	r := dispatch.NewRouter()
	for _, p := range patterns {
		r.HandleFunc(p, func(_ context.Context, e *events.Event) error {
			m, err := twilioevent.DecodeMessageStatus(e.Data)
			if err != nil {
				return dispatch.Permanent(err)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.ran[e.ID]++
			h.seen[e.ID] = m
			return nil
		})
	}
	v, err := verify.NewTwilio(authToken)
	if err != nil {
		t.Fatal(err)
	}
	h.ep = dispatch.NewEndpoint(v, twilioevent.NewParser(), r, dispatch.WithLogger(quiet))
	return h
}

func (h *host) runs(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ran[id]
}

// callback posts Twilio's status callback for sid, signed.
func (h *host) callback(t *testing.T, sid, status string) int {
	t.Helper()
	form := url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {account}, "From": {"+15557654321"},
		"To": {"+15551234567"}, "MessageStatus": {status}, "SmsStatus": {status}, "ApiVersion": {"2010-04-01"}}
	req := httptest.NewRequest(http.MethodPost, "https://api.reserveeasy.example/webhooks/twilio", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := (verifytest.Twilio{AuthToken: authToken}).Sign(req, []byte(form.Encode())); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ep.ServeHTTP(rec, req)
	return rec.Code
}

func newReconciler(t *testing.T, h *host, srv *reconciletest.Server, cfg twilioreconcile.Config, rc reconcile.Config) *reconcile.Reconciler {
	t.Helper()
	cfg.AccountSid, cfg.URL = account, srv.URL
	if cfg.AuthToken == "" && cfg.APIKey == "" {
		cfg.AuthToken = authToken
	}
	src, err := twilioreconcile.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rc.Endpoint, rc.Source, rc.Store = h.ep, src, reconcile.NewMemoryStore()
	if rc.Logger == nil {
		rc.Logger = quiet
	}
	rc.MinBackoff, rc.MaxBackoff = 10*time.Millisecond, 20*time.Millisecond
	r, err := reconcile.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func addMessages(srv *reconciletest.Server, n int, status string, start time.Time) []string {
	var sids []string
	for i := range n {
		sid := fmt.Sprintf("SM%032d", i)
		srv.AddMessage(reconciletest.Message{Sid: sid, AccountSid: account, From: "+15557654321", To: "+15551234567",
			Body: "Your booking is confirmed", Status: status, DateSent: start.Add(time.Duration(i) * time.Second)})
		sids = append(sids, sid)
	}
	return sids
}

// TestMissedCallbacksRecoveredOnce: each message's current status is
// applied once, whether its callback came before, after or never, across
// pages; the recovered form is the callback's, with the same key.
func TestMissedCallbacksRecoveredOnce(t *testing.T) {
	srv := reconciletest.NewServer(reconciletest.Config{TwilioAccountSid: account, TwilioAuthToken: authToken})
	defer srv.Close()
	h := newHost(t, "message.*")
	sids := addMessages(srv, 70, "delivered", time.Now().Add(-2*time.Hour))
	for _, sid := range sids[:10] {
		if code := h.callback(t, sid, "delivered"); code != 200 {
			t.Fatalf("callback: %d", code)
		}
	}
	r := newReconciler(t, h, srv, twilioreconcile.Config{}, reconcile.Config{PageSize: 25})
	rep, err := r.Run(context.Background())
	if err != nil || !rep.CaughtUp {
		t.Fatalf("Run: %v, %+v", err, rep)
	}
	if rep.Recovered() != 60 || rep.Outcomes["duplicate"] != 10 || rep.Pages != 3 {
		t.Errorf("outcomes %v over %d pages, want 60 recovered, 10 duplicate, 3 pages", rep.Outcomes, rep.Pages)
	}
	for _, sid := range sids[10:20] {
		if code := h.callback(t, sid, "delivered"); code != 200 {
			t.Fatalf("late callback: %d", code)
		}
	}
	for _, sid := range sids {
		if n := h.runs(sid + ":delivered"); n != 1 {
			t.Errorf("%s:delivered ran %d times, want 1", sid, n)
		}
	}
	m := h.seen[sids[42]+":delivered"]
	if m.MessageSid != sids[42] || m.SmsSid != sids[42] || m.AccountSid != account || m.From != "+15557654321" ||
		m.To != "+15551234567" || m.MessageStatus != "delivered" || m.APIVersion != "2010-04-01" {
		t.Errorf("the recovered callback: %+v", m)
	}
	// The API was asked for the window with DateSent> and DateSent<.
	q := srv.Requests()[0].Query()
	if q.Get("DateSent>") == "" || q.Get("DateSent<") == "" || q.Get("PageSize") != "25" {
		t.Errorf("first request's query: %v", q)
	}
}

// TestStatusChangedLater: a message listed as sent, then delivered (the
// carrier's report came after the run), is recovered as delivered by the
// next run, which revisits the messages sent shortly before its window.
func TestStatusChangedLater(t *testing.T) {
	srv := reconciletest.NewServer(reconciletest.Config{TwilioAccountSid: account, TwilioAuthToken: authToken})
	defer srv.Close()
	h := newHost(t, "message.sent", "message.delivered")
	now := time.Now()
	clock := now
	sids := addMessages(srv, 3, "sent", now.Add(-10*time.Minute))
	r := newReconciler(t, h, srv, twilioreconcile.Config{}, reconcile.Config{Clock: func() time.Time { return clock }})
	if rep, err := r.Run(context.Background()); err != nil || rep.Recovered() != 3 {
		t.Fatalf("first run: %v, %+v", err, rep)
	}
	srv.SetMessageStatus(sids[1], "delivered")
	clock = now.Add(5 * time.Minute)
	rep, err := r.Run(context.Background())
	if err != nil || rep.Recovered() != 1 || rep.Outcomes["duplicate"] != 2 {
		t.Fatalf("second run: %v, %+v", err, rep)
	}
	if h.runs(sids[1]+":delivered") != 1 || h.runs(sids[1]+":sent") != 1 {
		t.Errorf("runs: sent %d, delivered %d; want 1 and 1", h.runs(sids[1]+":sent"), h.runs(sids[1]+":delivered"))
	}
}

// TestOnlyHandledStatuses: a host without a message handler never lists
// messages; one that handles some statuses is fed only those.
func TestOnlyHandledStatuses(t *testing.T) {
	tests := []struct {
		name         string
		patterns     []string
		wantRequests int
		wantFed      int
	}{
		{name: "no handlers", wantRequests: 0},
		{name: "calls only", patterns: []string{"call.completed", "call.*"}, wantRequests: 0},
		{name: "delivered only", patterns: []string{"message.delivered"}, wantRequests: 1, wantFed: 4},
		{name: "every message", patterns: []string{"message.*"}, wantRequests: 1, wantFed: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := reconciletest.NewServer(reconciletest.Config{TwilioAccountSid: account, TwilioAuthToken: authToken})
			defer srv.Close()
			start := time.Now().Add(-time.Hour)
			addMessages(srv, 4, "delivered", start)
			for i, status := range []string{"failed", "undelivered", "sent"} {
				srv.AddMessage(reconciletest.Message{Sid: fmt.Sprintf("SMother%d", i), AccountSid: account, Status: status, DateSent: start})
			}
			h := newHost(t, tt.patterns...)
			r := newReconciler(t, h, srv, twilioreconcile.Config{}, reconcile.Config{})
			rep, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := len(srv.Requests()); got != tt.wantRequests {
				t.Errorf("requests: got %d, want %d", got, tt.wantRequests)
			}
			if rep.Fetched != tt.wantFed || rep.Recovered() != tt.wantFed {
				t.Errorf("fed %d (recovered %d), want %d", rep.Fetched, rep.Recovered(), tt.wantFed)
			}
		})
	}
}

// TestRateLimitedAndSecrets: 429s slow the run without failing it; a
// refused token fails it, and neither the token nor an API secret is in
// the logs or the error.
func TestRateLimitedAndSecrets(t *testing.T) {
	srv := reconciletest.NewServer(reconciletest.Config{TwilioAccountSid: account, TwilioAuthToken: authToken})
	defer srv.Close()
	h := newHost(t, "message.*")
	addMessages(srv, 30, "delivered", time.Now().Add(-time.Hour))
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := newReconciler(t, h, srv, twilioreconcile.Config{}, reconcile.Config{PageSize: 10, Logger: logger})
	srv.RateLimit(4, "")
	rep, err := r.Run(context.Background())
	if err != nil || rep.RateLimited != 4 || rep.Recovered() != 30 {
		t.Errorf("run through a storm: %v, %+v", err, rep)
	}
	for _, cfg := range []twilioreconcile.Config{{AuthToken: "wrongtokensecretvalue0000"}, {APIKey: "SKwrong", APISecret: "wrongapisecretvalue1111"}} {
		bad := newReconciler(t, newHost(t, "message.*"), srv, cfg, reconcile.Config{Logger: logger})
		_, err := bad.Run(context.Background())
		if err == nil {
			t.Errorf("a refused credential: Run succeeded")
		}
		mu.Lock()
		text := logs.String() + fmt.Sprint(err)
		mu.Unlock()
		for _, secret := range []string{authToken, "wrongtokensecretvalue0000", "wrongapisecretvalue1111"} {
			if strings.Contains(text, secret) {
				t.Errorf("a secret is in the logs or error: %s", text)
			}
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestConfigRefused(t *testing.T) {
	for _, cfg := range []twilioreconcile.Config{
		{}, {AccountSid: account}, {AccountSid: account, APIKey: "SK1"}, {AccountSid: account, AuthToken: "t", URL: "not a url"}, {AccountSid: account, AuthToken: "has_underscore"},
	} {
		if _, err := twilioreconcile.New(cfg); !errors.Is(err, dispatch.ErrInvalidConfig) {
			t.Errorf("New(%+v): %v, want ErrInvalidConfig", cfg, err)
		}
	}
}
