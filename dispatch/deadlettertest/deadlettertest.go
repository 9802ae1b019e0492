// Package deadlettertest is the conformance suite of dispatch.DeadLetterStore:
// one Run that every store hookkit ships passes (dispatch.MemoryDeadLetters,
// dispatch/sqltx, dispatch/pgxtx, dispatch/riverqueue), and that a host's
// own store can run. It fills the store through a real Endpoint, as
// deliveries do, then lists, pages, filters, gets, re-runs (to success, and
// failing again), discards, and re-runs one letter from eight goroutines at
// once.
package deadlettertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// Harness is one store under test and how to mount an Endpoint whose dead
// letters it keeps.
type Harness struct {
	// Store is the store under test.
	Store dispatch.DeadLetterStore
	// Options make an Endpoint's dead letters go to Store:
	// dispatch.WithDeadLetters for a sink, dispatch.WithAcceptor for an
	// accept step that keeps its own.
	Options []dispatch.Option
	// Async is true where handlers run after the answer, on a queue's
	// workers (dispatch/riverqueue): letters appear, and re-runs end,
	// later. Its retry schedule should be a few milliseconds.
	Async bool
}

// Run runs every check, each on a Harness of its own from newHarness, which
// must route the Endpoint's events (and the store's re-runs) with r.
func Run(t *testing.T, newHarness func(t *testing.T, r *dispatch.Router) Harness) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"ListFilterPage", listFilterPage},
		{"Get", get},
		{"RerunToSuccess", rerunToSuccess},
		{"RerunThatFailsAgain", rerunFailsAgain},
		{"Discard", discard},
		{"ConcurrentRerunsRunOnce", concurrentReruns},
		{"JSONWithoutBody", jsonWithoutBody},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newSuite(t, newHarness)) })
	}
}

const secret = "whsec_deadlettertest"

// suite is one store filled through an Endpoint whose handlers fail
// permanently until fixed, and count their successful runs.
type suite struct {
	Harness
	router *dispatch.Router
	ep     *dispatch.Endpoint
	fixed  atomic.Bool
	slow   atomic.Bool // successful runs take a moment, for concurrent re-runs

	mu      sync.Mutex
	effects map[string]int
}

func newSuite(t *testing.T, newHarness func(t *testing.T, r *dispatch.Router) Harness) *suite {
	s := &suite{router: dispatch.NewRouter(), effects: map[string]int{}}
	handle := func(_ context.Context, e *events.Event) error {
		if !s.fixed.Load() {
			return dispatch.Permanent(errors.New("booking 12345 not found"))
		}
		if s.slow.Load() {
			time.Sleep(20 * time.Millisecond)
		}
		s.mu.Lock()
		s.effects[e.ID]++
		s.mu.Unlock()
		return nil
	}
	s.router.HandleFunc("payment_intent.succeeded", handle)
	s.router.HandleFunc("charge.refunded", handle)
	s.Harness = newHarness(t, s.router)
	v, err := verify.NewStripe(secret)
	require.NoError(t, err)
	opts := append([]dispatch.Option{dispatch.WithLogger(slog.New(slog.DiscardHandler))}, s.Options...)
	s.ep, err = dispatch.New(v, stripeevent.NewParser(), s.router, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.ep.Shutdown(context.Background()) })
	return s
}

func (s *suite) effectsOf(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.effects[id]
}

// deadLetter delivers events of typ with ids and waits until every one is a
// dead letter.
func (s *suite) deadLetter(t *testing.T, typ string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		body := []byte(fmt.Sprintf(`{"id":%q,"type":%q,"created":%d,"data":{"object":{"id":"pi_1","amount":5000,"receipt_email":"guest@example.com"}}}`,
			id, typ, time.Now().Unix()))
		rec := httptest.NewRecorder()
		s.ep.ServeHTTP(rec, verifytest.NewRequest(verifytest.Stripe{Secret: secret}, "/webhooks/stripe", body))
		require.Equal(t, 200, rec.Code, "%s: %s", id, rec.Body)
		s.eventually(t, id+" dead-lettered", func() bool {
			_, err := s.Store.Get(context.Background(), "stripe:"+id)
			return err == nil
		})
	}
}

func (s *suite) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !s.Async {
		require.True(t, cond(), what)
		return
	}
	require.Eventually(t, cond, 20*time.Second, 10*time.Millisecond, what)
}

func (s *suite) list(t *testing.T, f dispatch.DeadLetterFilter) []string {
	t.Helper()
	page, err := s.Store.List(context.Background(), f)
	require.NoError(t, err)
	var ids []string
	for _, dl := range page.Letters {
		ids = append(ids, dl.Event.ID)
	}
	return ids
}

func listFilterPage(t *testing.T, s *suite) {
	start := time.Now().Add(-time.Second)
	s.deadLetter(t, "payment_intent.succeeded", "evt_a", "evt_b", "evt_c")
	s.deadLetter(t, "charge.refunded", "evt_d", "evt_e")
	all := []string{"evt_a", "evt_b", "evt_c", "evt_d", "evt_e"}
	assert.Equal(t, all, s.list(t, dispatch.DeadLetterFilter{}), "oldest first")
	assert.Equal(t, []string{"evt_d", "evt_e"}, s.list(t, dispatch.DeadLetterFilter{Type: "charge.refunded"}))
	assert.Equal(t, all, s.list(t, dispatch.DeadLetterFilter{Source: "stripe"}))
	assert.Empty(t, s.list(t, dispatch.DeadLetterFilter{Source: "twilio"}))
	assert.Equal(t, all, s.list(t, dispatch.DeadLetterFilter{Since: start}))
	assert.Empty(t, s.list(t, dispatch.DeadLetterFilter{Since: time.Now().Add(time.Hour)}))
	assert.Empty(t, s.list(t, dispatch.DeadLetterFilter{Until: start}))

	// Pages of two: every letter once, in order, and the last page says so.
	var paged []string
	f := dispatch.DeadLetterFilter{Limit: 2}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5, "the listing does not end")
		page, err := s.Store.List(context.Background(), f)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(page.Letters), 2)
		for _, dl := range page.Letters {
			paged = append(paged, dl.Event.ID)
		}
		if page.Next == "" {
			break
		}
		f.After = page.Next
	}
	assert.Equal(t, all, paged)

	page, err := s.Store.List(context.Background(), dispatch.DeadLetterFilter{Type: "payment_intent.succeeded", Limit: 2})
	require.NoError(t, err)
	require.NotEmpty(t, page.Next)
	rest, err := s.Store.List(context.Background(), dispatch.DeadLetterFilter{Type: "payment_intent.succeeded", Limit: 2, After: page.Next})
	require.NoError(t, err)
	require.Len(t, rest.Letters, 1, "a filtered listing pages within the filter")
	assert.Equal(t, "evt_c", rest.Letters[0].Event.ID)
	assert.Empty(t, rest.Next)
}

func get(t *testing.T, s *suite) {
	s.deadLetter(t, "payment_intent.succeeded", "evt_get")
	dl, err := s.Store.Get(context.Background(), "stripe:evt_get")
	require.NoError(t, err)
	assert.Equal(t, "evt_get", dl.Event.ID)
	assert.Equal(t, "payment_intent.succeeded", dl.Event.Type)
	assert.Contains(t, dl.Err.Error(), "booking 12345 not found")
	assert.GreaterOrEqual(t, dl.Attempts, 1)
	assert.WithinDuration(t, time.Now(), dl.At, time.Minute)
	assert.Contains(t, string(dl.Event.Data), `"pi_1"`, "the payload a re-run decodes")
	_, err = s.Store.Get(context.Background(), "stripe:evt_never")
	assert.ErrorIs(t, err, dispatch.ErrNotDeadLettered)
}

func rerunToSuccess(t *testing.T, s *suite) {
	s.deadLetter(t, "payment_intent.succeeded", "evt_fixed")
	s.fixed.Store(true)
	require.NoError(t, s.Store.Rerun(context.Background(), s.router, "stripe:evt_fixed"))
	s.eventually(t, "the re-run's effect", func() bool { return s.effectsOf("evt_fixed") == 1 })
	s.eventually(t, "resolved", func() bool {
		_, err := s.Store.Get(context.Background(), "stripe:evt_fixed")
		return errors.Is(err, dispatch.ErrNotDeadLettered)
	})
	assert.ErrorIs(t, s.Store.Rerun(context.Background(), s.router, "stripe:evt_fixed"), dispatch.ErrNotDeadLettered)
	assert.ErrorIs(t, s.Store.Rerun(context.Background(), s.router, "stripe:evt_never"), dispatch.ErrNotDeadLettered)
	assert.Equal(t, 1, s.effectsOf("evt_fixed"))
}

func rerunFailsAgain(t *testing.T, s *suite) {
	s.deadLetter(t, "payment_intent.succeeded", "evt_still_broken")
	before, err := s.Store.Get(context.Background(), "stripe:evt_still_broken")
	require.NoError(t, err)
	err = s.Store.Rerun(context.Background(), s.router, "stripe:evt_still_broken")
	if s.Async {
		// The queue runs it again later: it is queued now, and dead again
		// once its attempts are spent.
		require.NoError(t, err)
	} else {
		require.ErrorIs(t, err, dispatch.ErrRerunFailed)
		assert.Contains(t, err.Error(), "booking 12345 not found")
	}
	s.eventually(t, "dead again, with more attempts", func() bool {
		dl, err := s.Store.Get(context.Background(), "stripe:evt_still_broken")
		return err == nil && dl.Attempts > before.Attempts
	})
	assert.Zero(t, s.effectsOf("evt_still_broken"))
}

func discard(t *testing.T, s *suite) {
	s.deadLetter(t, "payment_intent.succeeded", "evt_discard", "evt_keep")
	require.NoError(t, s.Store.Discard(context.Background(), "stripe:evt_discard"))
	_, err := s.Store.Get(context.Background(), "stripe:evt_discard")
	assert.ErrorIs(t, err, dispatch.ErrNotDeadLettered)
	assert.ErrorIs(t, s.Store.Discard(context.Background(), "stripe:evt_discard"), dispatch.ErrNotDeadLettered)
	assert.ErrorIs(t, s.Store.Rerun(context.Background(), s.router, "stripe:evt_discard"), dispatch.ErrNotDeadLettered)
	assert.Equal(t, []string{"evt_keep"}, s.list(t, dispatch.DeadLetterFilter{}))
	s.fixed.Store(true)
	time.Sleep(50 * time.Millisecond) // a discarded letter queued by mistake would run by now
	assert.Zero(t, s.effectsOf("evt_discard"), "discarded, never run")
}

func concurrentReruns(t *testing.T, s *suite) {
	s.deadLetter(t, "payment_intent.succeeded", "evt_double_click")
	s.fixed.Store(true)
	s.slow.Store(true)
	const n = 8
	errs := make(chan error, n)
	startLine := make(chan struct{})
	for range n {
		go func() {
			<-startLine
			errs <- s.Store.Rerun(context.Background(), s.router, "stripe:evt_double_click")
		}()
	}
	close(startLine)
	ok := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.Is(err, dispatch.ErrNotDeadLettered):
		default:
			t.Errorf("re-run: %v", err)
		}
	}
	assert.Equal(t, 1, ok, "one re-run took it, the others found it gone")
	s.eventually(t, "its effect", func() bool { return s.effectsOf("evt_double_click") >= 1 })
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, 1, s.effectsOf("evt_double_click"), "one effect")
}

func jsonWithoutBody(t *testing.T, s *suite) {
	s.deadLetter(t, "payment_intent.succeeded", "evt_json")
	dl, err := s.Store.Get(context.Background(), "stripe:evt_json")
	require.NoError(t, err)
	b, err := json.Marshal(dl)
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(b, &v))
	assert.Equal(t, "stripe:evt_json", v["key"])
	assert.Equal(t, "payment_intent.succeeded", v["type"])
	assert.Contains(t, v["error"], "booking 12345 not found", "the error as text, not {}")
	assert.NotContains(t, string(b), "guest@example.com", "no body")
	assert.NotContains(t, string(b), "Stripe-Signature", "no headers")
}
