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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// Every recorded delivery in the repository, re-signed with a test secret,
// reaches its handler through a real Endpoint, and a second replay of the
// directory is all duplicates.
func TestReplayRepositoryFixtures(t *testing.T) {
	must := func(v verify.Verifier, err error) verify.Verifier {
		require.NoError(t, err)
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
			ep := dispatch.NewEndpoint(p.v, p.p, r, dispatch.WithLogger(slog.New(slog.DiscardHandler)))
			results, err := replay.Dir(ep, os.DirFS("../../testdata"), p.dir, p.signer)
			require.NoError(t, err)
			require.NotEmpty(t, results)
			for _, res := range results {
				assert.Equal(t, http.StatusOK, res.Status, "%s: %s", res.Name, res.Body)
			}
			assert.Len(t, seen, len(results), "every delivery reached its handler")

			again, err := replay.Dir(ep, os.DirFS("../../testdata"), p.dir, p.signer)
			require.NoError(t, err)
			for _, res := range again {
				assert.Equal(t, http.StatusOK, res.Status, res.Name)
			}
			assert.Len(t, seen, len(results), "a second replay is all duplicates")
		})
	}
}

// Without re-signing, a recorded Stripe delivery carries its old timestamp
// and is refused as stale.
func TestReplayWithoutResigning(t *testing.T) {
	v, err := verify.NewStripe("whsec_hookkit_fixtures")
	require.NoError(t, err)
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), dispatch.NewRouter(), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	results, err := replay.Dir(ep, os.DirFS("../../testdata"), "stripe", nil)
	require.NoError(t, err)
	for _, res := range results {
		assert.Equal(t, http.StatusBadRequest, res.Status, res.Name)
	}
}

// ClientRequest builds a request http.Client sends: every recorded delivery
// reaches a real server over HTTP and is processed.
func TestClientRequestOverHTTP(t *testing.T) {
	v, err := verify.NewTwilio("replay_token")
	require.NoError(t, err)
	var handled atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("*", func(context.Context, *events.Event) error { handled.Add(1); return nil })
	srv := httptest.NewServer(dispatch.NewEndpoint(v, twilioevent.NewParser(), r, dispatch.WithLogger(slog.New(slog.DiscardHandler))))
	defer srv.Close()

	recorded, err := fixture.Load(os.DirFS("../../testdata"), "twilio")
	require.NoError(t, err)
	for _, f := range recorded {
		res, err := replay.Post(context.Background(), srv.Client(), srv.URL, f, verifytest.Twilio{AuthToken: "replay_token"})
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, res.Status, "%s: %s", f.Name, res.Body)
	}
	assert.EqualValues(t, len(recorded), handled.Load())

	// The request is an ordinary client request: no RequestURI, an absolute URL.
	req, err := replay.ClientRequest(context.Background(), srv.URL, recorded[0], nil)
	require.NoError(t, err)
	assert.Empty(t, req.RequestURI)
	assert.Equal(t, srv.URL+recorded[0].Target, req.URL.String())
	assert.Equal(t, "api.reserveeasy.example", req.Host, "the recorded host, which the signature covers")
}
