package record_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

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
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return nil })
	v, err := verify.NewStripe(secret)
	if err != nil {
		t.Fatal(err)
	}
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r,
		dispatch.WithLogger(slog.New(slog.DiscardHandler)), dispatch.WithArchive(archive))
	body := stripeBody(t, "evt_recorded")
	req := signed(body)
	req.Host = "api.reserveeasy.example"
	if got := deliver(ep, req); got != 200 {
		t.Fatalf("status: got %d, want 200", got)
	}
	if got := deliver(ep, signed([]byte("not json"))); got != 400 {
		t.Fatalf("status of a body that does not parse: got %d, want 400", got)
	}

	recorded, err := fixture.Load(os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(recorded) != 2 {
		t.Fatalf("recorded: got %d items, want %d: %v", len(recorded), 2, recorded)
	}
	var stripeFixture fixture.Fixture
	for _, f := range recorded {
		if f.Name[:7] == "stripe/" {
			stripeFixture = f
		} else {
			if !strings.Contains(f.Name, "unparsed/") {
				t.Errorf("a body that did not parse is filed as unparsed: got %q, want it to contain %q", f.Name, "unparsed/")
			}
			if !strings.Contains(f.Name, "malformed") {
				t.Errorf("f.Name: got %q, want it to contain %q", f.Name, "malformed")
			}
		}
	}
	if !reflect.DeepEqual(stripeFixture.Body, body) {
		t.Errorf("stripeFixture.Body: got %q, want %q", stripeFixture.Body, body)
	}
	if stripeFixture.BodyExt != ".json" {
		t.Errorf("stripeFixture.BodyExt: got %q, want %q", stripeFixture.BodyExt, ".json")
	}
	if got, want := stripeFixture.Header.Get("Stripe-Signature"), req.Header.Get("Stripe-Signature"); got != want {
		t.Errorf("stripeFixture.Header.Get(\"Stripe-Signature\"): got %q, want %q", got, want)
	}
	replay, err := stripeFixture.Request()
	if err != nil {
		t.Fatal(err)
	}
	if replay.Host != "api.reserveeasy.example" {
		t.Errorf("replay.Host: got %q, want %q", replay.Host, "api.reserveeasy.example")
	}
	e, err := stripeevent.NewParser().Parse(replay, stripeFixture.Body)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "evt_recorded" {
		t.Errorf("e.ID: got %q, want %q", e.ID, "evt_recorded")
	}
}

// New refuses a directory it cannot write to, at startup, instead of
// logging a failed write for every delivery.
func TestNewRejectsUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, dir string }{
		{"empty", ""},
		{"under a file", filepath.Join(file, "recorded")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := record.New(tt.dir, record.Config{})
			if a != nil {
				t.Errorf("a: got %v, want nil", a)
			}
			if !errors.Is(err, dispatch.ErrInvalidConfig) {
				t.Errorf("err: got %v, want %v", err, dispatch.ErrInvalidConfig)
			}
		})
	}
	dir := filepath.Join(t.TempDir(), "a", "b")
	_, err := record.New(dir, record.Config{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !info.IsDir() {
		t.Errorf("New creates the directory")
	}
}
