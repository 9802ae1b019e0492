package record_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/record"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

const secret = "whsec_record_tests"

// stripeBody is the recorded payment_intent.succeeded with another ID.
func stripeBody(t *testing.T, id string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/stripe/payment_intent.succeeded.json")
	require.NoError(t, err)
	return bytes.Replace(raw, []byte("evt_3OdQh2LkdIwHu7ix1Tn5aQ0b"), []byte(id), 1)
}

func signed(body []byte) *http.Request {
	return verifytest.NewRequest(verifytest.Stripe{Secret: secret}, "/webhooks/stripe", body)
}

func deliver(h http.Handler, r *http.Request) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code
}

// An Archive writes deliveries in the fixture format: what it records, the
// fixture package loads, byte for byte, and the parser parses again.
func TestArchiveRecordsReplayableFixtures(t *testing.T) {
	dir := t.TempDir()
	archive, err := record.New(dir, record.Config{})
	require.NoError(t, err)
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return nil })
	v, err := verify.NewStripe(secret)
	require.NoError(t, err)
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r,
		dispatch.WithLogger(slog.New(slog.DiscardHandler)), dispatch.WithArchive(archive))
	body := stripeBody(t, "evt_recorded")
	req := signed(body)
	req.Host = "api.reserveeasy.example"
	require.Equal(t, 200, deliver(ep, req))
	require.Equal(t, 400, deliver(ep, signed([]byte("not json"))))

	recorded, err := fixture.Load(os.DirFS(dir), ".")
	require.NoError(t, err)
	require.Len(t, recorded, 2)
	var stripeFixture fixture.Fixture
	for _, f := range recorded {
		if f.Name[:7] == "stripe/" {
			stripeFixture = f
		} else {
			assert.Contains(t, f.Name, "unparsed/", "a body that did not parse is filed as unparsed")
			assert.Contains(t, f.Name, "malformed")
		}
	}
	assert.Equal(t, body, stripeFixture.Body)
	assert.Equal(t, ".json", stripeFixture.BodyExt)
	assert.Equal(t, req.Header.Get("Stripe-Signature"), stripeFixture.Header.Get("Stripe-Signature"))
	replay, err := stripeFixture.Request()
	require.NoError(t, err)
	assert.Equal(t, "api.reserveeasy.example", replay.Host)
	e, err := stripeevent.NewParser().Parse(replay, stripeFixture.Body)
	require.NoError(t, err)
	assert.Equal(t, "evt_recorded", e.ID)
}

// New refuses a directory it cannot write to, at startup, instead of
// logging a failed write for every delivery.
func TestNewRejectsUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	for _, tt := range []struct{ name, dir string }{
		{"empty", ""},
		{"under a file", filepath.Join(file, "recorded")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := record.New(tt.dir, record.Config{})
			assert.Nil(t, a)
			assert.ErrorIs(t, err, dispatch.ErrInvalidConfig)
		})
	}
	dir := filepath.Join(t.TempDir(), "a", "b")
	_, err := record.New(dir, record.Config{})
	require.NoError(t, err)
	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, info.IsDir(), "New creates the directory")
}
