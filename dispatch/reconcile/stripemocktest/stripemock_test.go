package stripemocktest_test

import (
	"bufio"
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
)

// stripeMock builds stripe-mock (this module's tool), starts it on a free
// loopback port and returns its base URL; it is killed when the test ends.
func stripeMock(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stripe-mock")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/stripe/stripe-mock").CombinedOutput(); err != nil {
		t.Fatalf("building stripe-mock: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "Listening for HTTP at address: "); ok {
				addr <- a
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatal("stripe-mock exited before listening")
		}
		return "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatal("stripe-mock did not listen within a minute")
	}
	return ""
}

// TestStripeMock: every kind of request the Stripe source makes is
// accepted by stripe-mock, and its events parse as Stripe events.
func TestStripeMock(t *testing.T) {
	url := stripeMock(t)
	src, err := reconcile.NewStripe(reconcile.StripeConfig{Key: "sk_test_123", URL: url})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	streams := src.Streams([]string{"payment_intent.*", "charge.refunded", "invoice.payment_succeeded"})
	streams = append(streams, src.Streams([]string{"*"})...)
	if len(streams) != 3 {
		t.Fatalf("streams: %q", streams)
	}
	parser := stripeevent.NewParser()
	for _, stream := range streams {
		for _, cursor := range []string{"", "evt_1NG8Du2eZvKYlo2CUI79vXWy"} {
			page, err := src.Page(context.Background(), reconcile.Query{Stream: stream, Since: now.Add(-72 * time.Hour), Until: now,
				Cursor: cursor, Limit: 100})
			if err != nil {
				t.Fatalf("stream %s, cursor %q: stripe-mock refused the request: %v", stream, cursor, err)
			}
			if len(page.Events) == 0 {
				t.Fatalf("stream %s: no fixture event", stream)
			}
			for _, body := range page.Events {
				e, err := parser.Parse(nil, body)
				if err == nil {
					err = e.Validate()
				}
				if err != nil {
					t.Errorf("a fixture event does not parse: %v: %s", err, body)
					continue
				}
				if e.Source != "stripe" || !strings.HasPrefix(e.ID, "evt_") || e.Time.IsZero() {
					t.Errorf("fixture event: source %q, ID %q, time %v", e.Source, e.ID, e.Time)
				}
				if _, err := stripeevent.Event(e); err != nil {
					t.Errorf("stripe-go's Event does not decode the fixture: %v", err)
				}
			}
		}
	}

	// A whole run: the fixture event recovered through an Endpoint.
	var handled []string
	r := dispatch.NewRouter()
	r.HandleFunc("*", func(_ context.Context, e *events.Event) error {
		handled = append(handled, e.Type)
		return nil
	})
	v, err := verify.NewStripe("whsec_stripemock")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	ep := dispatch.NewEndpoint(v, parser, r, dispatch.WithLogger(quiet))
	rec, err := reconcile.New(reconcile.Config{Endpoint: ep, Source: src, Store: reconcile.NewMemoryStore(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := rec.Run(context.Background())
	if err != nil || rep.Recovered() == 0 {
		t.Fatalf("a run against stripe-mock: %v, %+v", err, rep)
	}
	t.Logf("stripe-mock's fixture events recovered: %v", handled)
}
