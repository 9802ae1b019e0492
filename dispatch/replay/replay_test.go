package replay_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/replay"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/standardevent"
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
		{"standard", must(verify.NewStandard(std)), standardevent.NewParser("goconverso"), verifytest.Standard{Secret: std}},
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
			results, err := replay.Dir(os.DirFS("../../testdata"), p.dir, p.signer, ep)
			require.NoError(t, err)
			require.NotEmpty(t, results)
			for _, res := range results {
				assert.Equal(t, http.StatusOK, res.Status, "%s: %s", res.Name, res.Body)
			}
			assert.Len(t, seen, len(results), "every delivery reached its handler")

			again, err := replay.Dir(os.DirFS("../../testdata"), p.dir, p.signer, ep)
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
	results, err := replay.Dir(os.DirFS("../../testdata"), "stripe", nil, ep)
	require.NoError(t, err)
	for _, res := range results {
		assert.Equal(t, http.StatusBadRequest, res.Status, res.Name)
	}
}
