package replay_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/replay"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// recordedAt is a time shortly after testdata's deliveries were recorded
// (2026-11-23): the Endpoints replaying them measure their events' ages
// against it, as senders that sign no time (Etail Depot, GoConverso's
// HMAC, the Timestamp of Twilio's call callbacks) would be refused once
// their events are older than the age window (dispatch.WithMaxAge).
func recordedAt() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) }

// Every recorded delivery in the repository, re-signed with a test secret,
// reaches its handler through a real Endpoint, and a second replay of the
// directory is all duplicates.
func TestReplayRepositoryFixtures(t *testing.T) {
	must := func(v verify.Verifier, err error) verify.Verifier {
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	const std = "whsec_cmVwbGF5IHRlc3Qgc2VjcmV0IQ=="
	providers := []struct {
		dir    string
		v      verify.Verifier
		p      events.Parser
		signer verifytest.Signer
	}{
		{"stripe", must(verify.NewStripe("whsec_replay")), stripeevent.NewParser(), verifytest.Stripe{Secret: "whsec_replay"}},
		{"twilio", must(verify.NewTwilio("replay_token")), twilioevent.NewParser(), verifytest.Twilio{AuthToken: "replay_token"}},
		{"standard", must(verify.NewStandard(std)), conversoevent.NewStandardParser(), verifytest.Standard{Secret: std}},
		{"goconverso", must(verify.NewHMAC([]byte("gc"), "X-Goconverso-Signature")), conversoevent.NewParser(),
			verifytest.HMAC{Secret: []byte("gc"), Header: "X-Goconverso-Signature"}},
		{"etail", must(verify.NewHMAC([]byte("et"), "Etail-Signature")), etailevent.NewParser(),
			verifytest.HMAC{Secret: []byte("et"), Header: "Etail-Signature"}},
	}
	for _, p := range providers {
		t.Run(p.dir, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			r := dispatch.NewRouter()
			r.HandleFunc("*", func(_ context.Context, e *events.Event) error {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, e.Type)
				return nil
			})
			ep := dispatch.NewEndpoint(p.v, p.p, r, dispatch.WithLogger(slog.New(slog.DiscardHandler)), dispatch.WithClock(recordedAt))
			results, err := replay.Dir(ep, os.DirFS("../../testdata"), p.dir, p.signer)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) == 0 {
				t.Fatalf("no results")
			}
			for _, res := range results {
				if res.Status != http.StatusOK {
					t.Errorf("%s: got status %d (%s), want %d", res.Name, res.Status, res.Body, http.StatusOK)
				}
			}
			if len(seen) != len(results) {
				t.Errorf("every delivery reached its handler: got %d items, want %d: %v", len(seen), len(results), seen)
			}

			again, err := replay.Dir(ep, os.DirFS("../../testdata"), p.dir, p.signer)
			if err != nil {
				t.Fatal(err)
			}
			for _, res := range again {
				if res.Status != http.StatusOK {
					t.Errorf("%s: got status %d, want %d", res.Name, res.Status, http.StatusOK)
				}
			}
			if len(seen) != len(results) {
				t.Errorf("a second replay is all duplicates: got %d items, want %d: %v", len(seen), len(results), seen)
			}
		})
	}
}

// Without re-signing, a recorded Stripe delivery carries its old timestamp
// and is refused as stale.
func TestReplayWithoutResigning(t *testing.T) {
	v, err := verify.NewStripe("whsec_hookkit_fixtures")
	if err != nil {
		t.Fatal(err)
	}
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), dispatch.NewRouter(), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	results, err := replay.Dir(ep, os.DirFS("../../testdata"), "stripe", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range results {
		if res.Status != http.StatusBadRequest {
			t.Errorf("%s: got status %d, want %d", res.Name, res.Status, http.StatusBadRequest)
		}
	}
}

// ClientRequest builds a request http.Client sends: every recorded delivery
// reaches a real server over HTTP and is processed.
func TestClientRequestOverHTTP(t *testing.T) {
	v, err := verify.NewTwilio("replay_token")
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("*", func(context.Context, *events.Event) error { handled.Add(1); return nil })
	srv := httptest.NewServer(dispatch.NewEndpoint(v, twilioevent.NewParser(), r, dispatch.WithLogger(slog.New(slog.DiscardHandler)), dispatch.WithClock(recordedAt)))
	defer srv.Close()

	recorded, err := fixture.Load(os.DirFS("../../testdata"), "twilio")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range recorded {
		res, err := replay.Post(context.Background(), srv.Client(), srv.URL, f, verifytest.Twilio{AuthToken: "replay_token"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != http.StatusOK {
			t.Errorf("%s: got status %d (%s), want %d", f.Name, res.Status, res.Body, http.StatusOK)
		}
	}
	if got := handled.Load(); got != int32(len(recorded)) {
		t.Errorf("handled.Load(): got %d, want %d", got, len(recorded))
	}

	// The request is an ordinary client request: no RequestURI, an absolute URL.
	req, err := replay.ClientRequest(context.Background(), srv.URL, recorded[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.RequestURI != "" {
		t.Errorf("req.RequestURI: got %q, want empty", req.RequestURI)
	}
	if got := req.URL.String(); got != srv.URL+recorded[0].Target {
		t.Errorf("req.URL.String(): got %q, want %q", got, srv.URL+recorded[0].Target)
	}
	if req.Host != "api.reserveeasy.example" {
		t.Errorf("the recorded host, which the signature covers: got %q, want %q", req.Host, "api.reserveeasy.example")
	}
}
