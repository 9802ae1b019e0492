package dispatch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/verify"
)

// recordingArchive keeps every delivery it is told of.
type recordingArchive struct{ got []dispatch.Delivery }

func (a *recordingArchive) Archive(_ context.Context, d *dispatch.Delivery) {
	a.got = append(a.got, *d)
}

// Every archive installed is told of every verified delivery, whatever its
// outcome; rejected deliveries (unauthenticated bytes, a disk-fill risk for
// an archive that writes them) only with WithArchiveRejected.
func TestArchivesSeeVerifiedDeliveries(t *testing.T) {
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { return nil })
	first, second := &recordingArchive{}, &recordingArchive{}
	ep := newStripeEndpoint(t, r, dispatch.WithArchive(first), dispatch.WithArchive(second))
	body := stripeBody(t, "payment_intent.succeeded", "evt_archived")
	deliver(ep, signed(body))
	deliver(ep, signed(body))
	deliver(ep, httptest.NewRequest(http.MethodPost, "/webhooks/stripe", bytes.NewReader(body)))
	deliver(ep, signed([]byte("verified, but not an event")))
	for _, arch := range []*recordingArchive{first, second} {
		if len(arch.got) != 3 {
			t.Fatalf("both archives, verified deliveries only: got %d items, want %d: %v", len(arch.got), 3, arch.got)
		}
		if want := []dispatch.Outcome{dispatch.OutcomeProcessed, dispatch.OutcomeDuplicate, dispatch.OutcomeMalformed}; !slices.Equal([]dispatch.Outcome{arch.got[0].Outcome, arch.got[1].Outcome, arch.got[2].Outcome}, want) {
			t.Errorf("[]dispatch.Outcome{arch.got[0].Outcome, arch.got[1].Outcome, arch.got[2].Outcome}: got %q, want %q", []dispatch.Outcome{arch.got[0].Outcome, arch.got[1].Outcome, arch.got[2].Outcome}, want)
		}
		if want := []int{200, 200, 400}; !slices.Equal([]int{arch.got[0].Status, arch.got[1].Status, arch.got[2].Status}, want) {
			t.Errorf("[]int{arch.got[0].Status, arch.got[1].Status, arch.got[2].Status}: got %v, want %v", []int{arch.got[0].Status, arch.got[1].Status, arch.got[2].Status}, want)
		}
		if arch.got[0].EventID != "evt_archived" {
			t.Errorf("arch.got[0].EventID: got %q, want %q", arch.got[0].EventID, "evt_archived")
		}
		if arch.got[0].EventType != "payment_intent.succeeded" {
			t.Errorf("arch.got[0].EventType: got %q, want %q", arch.got[0].EventType, "payment_intent.succeeded")
		}
		if arch.got[0].Target != "/webhooks/stripe" {
			t.Errorf("arch.got[0].Target: got %q, want %q", arch.got[0].Target, "/webhooks/stripe")
		}
	}

	all := &recordingArchive{}
	ep = newStripeEndpoint(t, r, dispatch.WithArchive(all), dispatch.WithArchiveRejected())
	deliver(ep, httptest.NewRequest(http.MethodPost, "/webhooks/stripe", bytes.NewReader(body)))
	if len(all.got) != 1 {
		t.Fatalf("all.got: got %d items, want %d: %v", len(all.got), 1, all.got)
	}
	if all.got[0].Outcome != dispatch.OutcomeRejectedSignature {
		t.Errorf("all.got[0].Outcome: got %v, want %v", all.got[0].Outcome, dispatch.OutcomeRejectedSignature)
	}
	if !reflect.DeepEqual(all.got[0].Body, body) {
		t.Errorf("rejected deliveries keep their body: got %q, want %q", all.got[0].Body, body)
	}
	if !errors.Is(all.got[0].Err, verify.ErrMissingSignature) {
		t.Errorf("all.got[0].Err: got %v, want %v", all.got[0].Err, verify.ErrMissingSignature)
	}
}

func TestDeadLetterRerun(t *testing.T) {
	fixed := false
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
		if !fixed {
			return dispatch.Permanent(errors.New("booking not found"))
		}
		if got := dispatch.Attempt(ctx); got != 3 {
			t.Errorf("a re-run is the next attempt, after the failed one: got %d, want 3", got)
		}
		return nil
	})
	dls := &dispatch.MemoryDeadLetters{}
	ep := newStripeEndpoint(t, r, dispatch.WithDeadLetters(dls))
	code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_rerun")))
	if code != 200 {
		t.Fatalf("code: got %d, want 200", code)
	}
	if got := allLetters(t, dls); len(got) != 1 {
		t.Fatalf("allLetters(t, dls): got %d items, want %d: %v", len(got), 1, got)
	}

	if err := dls.Rerun(context.Background(), r, "stripe:evt_rerun"); err == nil {
		t.Fatalf("still failing: kept: got nil error, want one")
	}
	if got := allLetters(t, dls); len(got) != 1 {
		t.Fatalf("allLetters(t, dls): got %d items, want %d: %v", len(got), 1, got)
	}
	if got := allLetters(t, dls)[0].Attempts; got != 2 {
		t.Errorf("the failed re-run is counted: got %d, want 2", got)
	}
	fixed = true
	if err := dls.Rerun(context.Background(), r, "stripe:evt_rerun"); err != nil {
		t.Fatal(err)
	}
	if got := allLetters(t, dls); len(got) != 0 {
		t.Errorf("a successful re-run forgets the letter: got %v, want empty", got)
	}
	if err := dls.Rerun(context.Background(), r, "stripe:evt_rerun"); !errors.Is(err, dispatch.ErrNotDeadLettered) {
		t.Fatalf("dls.Rerun(context.Background(), r, \"stripe:evt_rerun\"): got %v, want %v", err, dispatch.ErrNotDeadLettered)
	}
}

// A dead letter that cannot be stored is not acknowledged: the sender is
// told 500 and retries.
func TestDeadLetterStoreFull(t *testing.T) {
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
		return dispatch.Permanent(errors.New("bad"))
	})
	dls := dispatch.NewMemoryDeadLetters(1)
	ep := newStripeEndpoint(t, r, dispatch.WithDeadLetters(dls))
	code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_dl_1")))
	if code != 200 {
		t.Errorf("code: got %d, want 200", code)
	}
	code, _ = deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_dl_2")))
	if code != 500 {
		t.Errorf("code: got %d, want 500", code)
	}
}

// A double click on "re-run" applies the effect once: concurrent re-runs of
// one dead letter run its handler once, and the others find it gone. Before
// the letter was taken out under the lock, two re-runs both ran it.
func TestDeadLetterConcurrentRerunsRunOnce(t *testing.T) {
	for _, n := range []int{2, 8} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var (
				fixed   atomic.Bool
				effects atomic.Int32
				started = make(chan struct{}, n)
				release = make(chan struct{})
			)
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
				if !fixed.Load() {
					return dispatch.Permanent(errors.New("booking not found"))
				}
				started <- struct{}{}
				<-release // every other re-run is under way meanwhile
				effects.Add(1)
				return nil
			})
			dls := &dispatch.MemoryDeadLetters{}
			ep := newStripeEndpoint(t, r, dispatch.WithDeadLetters(dls))
			code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_double_click")))
			if code != 200 {
				t.Fatalf("code: got %d, want 200", code)
			}
			fixed.Store(true)

			errs := make(chan error, n)
			for range n {
				go func() { errs <- dls.Rerun(context.Background(), r, "stripe:evt_double_click") }()
			}
			<-started
			close(release)
			var ok, gone int
			for range n {
				switch err := <-errs; {
				case err == nil:
					ok++
				case errors.Is(err, dispatch.ErrNotDeadLettered):
					gone++
				default:
					t.Errorf("re-run: %v", err)
				}
			}
			if ok != 1 {
				t.Errorf("one re-run ran it: got %d, want 1", ok)
			}
			if gone != n-1 {
				t.Errorf("the others found it resolved: got %d, want %d", gone, n-1)
			}
			if got := effects.Load(); got != 1 {
				t.Errorf("one effect: got %d, want 1", got)
			}
			if got := allLetters(t, dls); len(got) != 0 {
				t.Errorf("allLetters(t, dls): got %v, want empty", got)
			}
		})
	}
}

// A memory dead letter keeps only the headers a re-run needs.
func TestMemoryDeadLetterKeepsNoSignature(t *testing.T) {
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
		return dispatch.Permanent(errors.New("booking not found"))
	})
	dls := &dispatch.MemoryDeadLetters{}
	ep := newStripeEndpoint(t, r, dispatch.WithDeadLetters(dls))
	req := signed(stripeBody(t, "payment_intent.succeeded", "evt_headers"))
	req.Header.Set("X-Shopify-Hmac-Sha256", "c2ln")
	req.Header.Set("Authorization", "Bearer host-credential")
	code, _ := deliver(ep, req)
	if code != 200 {
		t.Fatalf("code: got %d, want 200", code)
	}
	if got := allLetters(t, dls); len(got) != 1 {
		t.Fatalf("allLetters(t, dls): got %d items, want %d: %v", len(got), 1, got)
	}
	if got, want := allLetters(t, dls)[0].Event.Header, (http.Header{"Content-Type": {"application/json"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("allLetters(t, dls)[0].Event.Header: got %v, want %v", got, want)
	}
}
