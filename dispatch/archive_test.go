package dispatch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		require.Len(t, arch.got, 3, "both archives, verified deliveries only")
		assert.Equal(t, []dispatch.Outcome{dispatch.OutcomeProcessed, dispatch.OutcomeDuplicate, dispatch.OutcomeMalformed},
			[]dispatch.Outcome{arch.got[0].Outcome, arch.got[1].Outcome, arch.got[2].Outcome})
		assert.Equal(t, []int{200, 200, 400}, []int{arch.got[0].Status, arch.got[1].Status, arch.got[2].Status})
		assert.Equal(t, "evt_archived", arch.got[0].EventID)
		assert.Equal(t, "payment_intent.succeeded", arch.got[0].EventType)
		assert.Equal(t, "/webhooks/stripe", arch.got[0].Target)
	}

	all := &recordingArchive{}
	ep = newStripeEndpoint(t, r, dispatch.WithArchive(all), dispatch.WithArchiveRejected())
	deliver(ep, httptest.NewRequest(http.MethodPost, "/webhooks/stripe", bytes.NewReader(body)))
	require.Len(t, all.got, 1)
	assert.Equal(t, dispatch.OutcomeRejectedSignature, all.got[0].Outcome)
	assert.Equal(t, body, all.got[0].Body, "rejected deliveries keep their body")
	assert.ErrorIs(t, all.got[0].Err, verify.ErrMissingSignature)
}

func TestDeadLetterRerun(t *testing.T) {
	fixed := false
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
		if !fixed {
			return dispatch.Permanent(errors.New("booking not found"))
		}
		assert.Equal(t, 3, dispatch.Attempt(ctx), "a re-run is the next attempt, after the failed one")
		return nil
	})
	dls := &dispatch.MemoryDeadLetters{}
	ep := newStripeEndpoint(t, r, dispatch.WithDeadLetters(dls))
	code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_rerun")))
	require.Equal(t, 200, code)
	require.Len(t, dls.All(), 1)

	require.Error(t, dls.Rerun(context.Background(), r, "stripe:evt_rerun"), "still failing: kept")
	require.Len(t, dls.All(), 1)
	assert.Equal(t, 2, dls.All()[0].Attempts, "the failed re-run is counted")
	fixed = true
	require.NoError(t, dls.Rerun(context.Background(), r, "stripe:evt_rerun"))
	assert.Empty(t, dls.All(), "a successful re-run forgets the letter")
	require.ErrorIs(t, dls.Rerun(context.Background(), r, "stripe:evt_rerun"), dispatch.ErrNotDeadLettered)
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
	assert.Equal(t, 200, code)
	code, _ = deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_dl_2")))
	assert.Equal(t, 500, code)
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
			require.Equal(t, 200, code)
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
			assert.Equal(t, 1, ok, "one re-run ran it")
			assert.Equal(t, n-1, gone, "the others found it resolved")
			assert.EqualValues(t, 1, effects.Load(), "one effect")
			assert.Empty(t, dls.All())
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
	require.Equal(t, 200, code)
	require.Len(t, dls.All(), 1)
	assert.Equal(t, http.Header{"Content-Type": {"application/json"}}, dls.All()[0].Event.Header)
}
