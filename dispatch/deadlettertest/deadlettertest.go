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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	// Stats, required where Async, counts what the queue holds: before
	// checking that something did not run (a discarded letter, a second
	// re-run), the suite waits until nothing is queued, retrying or
	// running, rather than for some time.
	Stats func(ctx context.Context) (dispatch.QueueStats, error)
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
	// gate, when set, holds a successful run until it is closed: the
	// concurrent re-runs arrive while one runs.
	gate atomic.Pointer[chan struct{}]

	mu      sync.Mutex
	effects map[string]int
}

func newSuite(t *testing.T, newHarness func(t *testing.T, r *dispatch.Router) Harness) *suite {
	s := &suite{router: dispatch.NewRouter(), effects: map[string]int{}}
	handle := func(_ context.Context, e *events.Event) error {
		if !s.fixed.Load() {
			return dispatch.Permanent(errors.New("booking 12345 not found"))
		}
		if gate := s.gate.Load(); gate != nil {
			<-*gate
		}
		s.mu.Lock()
		s.effects[e.ID]++
		s.mu.Unlock()
		return nil
	}
	s.router.HandleFunc("payment_intent.succeeded", handle)
	s.router.HandleFunc("charge.refunded", handle)
	s.Harness = newHarness(t, s.router)
	if s.Async && s.Stats == nil {
		t.Fatal("deadlettertest: an Async Harness needs Stats")
	}
	v, err := verify.NewStripe(secret)
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]dispatch.Option{dispatch.WithLogger(slog.New(slog.DiscardHandler))}, s.Options...)
	s.ep, err = dispatch.NewEndpointSafely(v, stripeevent.NewParser(), s.router, opts...)
	if err != nil {
		t.Fatal(err)
	}
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
		if rec.Code != 200 {
			t.Fatalf("delivering %s: got %d %s, want 200", id, rec.Code, rec.Body)
		}
		s.eventually(t, id+" dead-lettered", func() bool {
			_, err := s.Store.Get(context.Background(), "stripe:"+id)
			return err == nil
		})
	}
}

// eventually fails t unless cond holds: at once, or within 20 seconds
// where Async.
func (s *suite) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !s.Async {
		if !cond() {
			t.Fatalf("%s: not so", what)
		}
		return
	}
	const wait = 20 * time.Second
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("%s: not within %v", what, wait)
		case <-tick.C:
		}
	}
}

// settle returns once no handler can run any more: at once, or where
// Async once Stats counts nothing queued, retrying or running.
func (s *suite) settle(t *testing.T) {
	t.Helper()
	if !s.Async {
		return
	}
	var last dispatch.QueueStats
	s.eventually(t, "the queue idle", func() bool {
		var err error
		last, err = s.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return last.Queued+last.Retrying+last.Running == 0
	})
}

func (s *suite) list(t *testing.T, f dispatch.DeadLetterFilter) []string {
	t.Helper()
	page, err := s.Store.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
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
	for _, c := range []struct {
		filter dispatch.DeadLetterFilter
		want   []string // oldest first
	}{
		{dispatch.DeadLetterFilter{}, all},
		{dispatch.DeadLetterFilter{Type: "charge.refunded"}, []string{"evt_d", "evt_e"}},
		{dispatch.DeadLetterFilter{Source: "stripe"}, all},
		{dispatch.DeadLetterFilter{Source: "twilio"}, nil},
		{dispatch.DeadLetterFilter{Since: start}, all},
		{dispatch.DeadLetterFilter{Since: time.Now().Add(time.Hour)}, nil},
		{dispatch.DeadLetterFilter{Until: start}, nil},
	} {
		if got := s.list(t, c.filter); !slices.Equal(got, c.want) {
			t.Errorf("List(%+v): got %q, want %q", c.filter, got, c.want)
		}
	}

	// Pages of two: every letter once, in order, and the last page says so.
	var paged []string
	f := dispatch.DeadLetterFilter{Limit: 2}
	for pages := 0; ; pages++ {
		if pages >= 5 {
			t.Fatalf("pages of two: still listing after %d pages of five letters", pages)
		}
		page, err := s.Store.List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Letters) > 2 {
			t.Errorf("a page of Limit 2: got %d letters", len(page.Letters))
		}
		for _, dl := range page.Letters {
			paged = append(paged, dl.Event.ID)
		}
		if page.Next == "" {
			break
		}
		f.After = page.Next
	}
	if !slices.Equal(paged, all) {
		t.Errorf("pages of two: got %q, want %q", paged, all)
	}

	page, err := s.Store.List(context.Background(), dispatch.DeadLetterFilter{Type: "payment_intent.succeeded", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if page.Next == "" {
		t.Fatalf("the first of two pages has no Next")
	}
	rest, err := s.Store.List(context.Background(), dispatch.DeadLetterFilter{Type: "payment_intent.succeeded", Limit: 2, After: page.Next})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.Letters) != 1 {
		t.Fatalf("a filtered listing pages within the filter: got %d letters on the second page, want 1", len(rest.Letters))
	}
	if rest.Letters[0].Event.ID != "evt_c" {
		t.Errorf("rest.Letters[0].Event.ID: got %q, want %q", rest.Letters[0].Event.ID, "evt_c")
	}
	if rest.Next != "" {
		t.Errorf("the last page's Next: got %q, want empty", rest.Next)
	}
	// A cursor the store did not write is a bad request, not a
	// misconfiguration and not a store that cannot answer.
	_, err = s.Store.List(context.Background(), dispatch.DeadLetterFilter{After: "not a cursor"})
	if !errors.Is(err, dispatch.ErrInvalidFilter) {
		t.Errorf("List after a cursor the store did not write: got %v, want an error wrapping %v", err, dispatch.ErrInvalidFilter)
	}
}

func get(t *testing.T, s *suite) {
	s.deadLetter(t, "payment_intent.succeeded", "evt_get")
	dl, err := s.Store.Get(context.Background(), "stripe:evt_get")
	if err != nil {
		t.Fatal(err)
	}
	if dl.Event.ID != "evt_get" {
		t.Errorf("dl.Event.ID: got %q, want %q", dl.Event.ID, "evt_get")
	}
	if dl.Event.Type != "payment_intent.succeeded" {
		t.Errorf("dl.Event.Type: got %q, want %q", dl.Event.Type, "payment_intent.succeeded")
	}
	if got := dl.Err.Error(); !strings.Contains(got, "booking 12345 not found") {
		t.Errorf("dl.Err.Error(): got %q, want it to contain %q", got, "booking 12345 not found")
	}
	if dl.Attempts < 1 {
		t.Errorf("dl.Attempts: got %d, want at least 1", dl.Attempts)
	}
	if now := time.Now(); dl.At.Before(now.Add(-time.Minute)) || dl.At.After(now.Add(time.Minute)) {
		t.Errorf("dl.At: got %v, want within a minute of %v", dl.At, now)
	}
	if !strings.Contains(string(dl.Event.Data), `"pi_1"`) {
		t.Errorf("the payload a re-run decodes: got %q, want it to contain %q", string(dl.Event.Data), `"pi_1"`)
	}
	_, err = s.Store.Get(context.Background(), "stripe:evt_never")
	if !errors.Is(err, dispatch.ErrNotDeadLettered) {
		t.Errorf("err: got %v, want %v", err, dispatch.ErrNotDeadLettered)
	}
}

func rerunToSuccess(t *testing.T, s *suite) {
	s.deadLetter(t, "payment_intent.succeeded", "evt_fixed")
	s.fixed.Store(true)
	if err := s.Store.Rerun(context.Background(), s.router, "stripe:evt_fixed"); err != nil {
		t.Fatal(err)
	}
	s.eventually(t, "the re-run's effect", func() bool { return s.effectsOf("evt_fixed") == 1 })
	s.eventually(t, "resolved", func() bool {
		_, err := s.Store.Get(context.Background(), "stripe:evt_fixed")
		return errors.Is(err, dispatch.ErrNotDeadLettered)
	})
	if err := s.Store.Rerun(context.Background(), s.router, "stripe:evt_fixed"); !errors.Is(err, dispatch.ErrNotDeadLettered) {
		t.Errorf("Rerun(stripe:evt_fixed): got %v, want %v", err, dispatch.ErrNotDeadLettered)
	}
	if err := s.Store.Rerun(context.Background(), s.router, "stripe:evt_never"); !errors.Is(err, dispatch.ErrNotDeadLettered) {
		t.Errorf("Rerun(stripe:evt_never): got %v, want %v", err, dispatch.ErrNotDeadLettered)
	}
	if got := s.effectsOf("evt_fixed"); got != 1 {
		t.Errorf("effects of evt_fixed: got %d, want 1", got)
	}
}

func rerunFailsAgain(t *testing.T, s *suite) {
	s.deadLetter(t, "payment_intent.succeeded", "evt_still_broken")
	before, err := s.Store.Get(context.Background(), "stripe:evt_still_broken")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Store.Rerun(context.Background(), s.router, "stripe:evt_still_broken")
	if s.Async {
		// The queue runs it again later: it is queued now, and dead again
		// once its attempts are spent.
		if err != nil {
			t.Fatal(err)
		}
	} else {
		if !errors.Is(err, dispatch.ErrRerunFailed) {
			t.Fatalf("err: got %v, want %v", err, dispatch.ErrRerunFailed)
		}
		if got := err.Error(); !strings.Contains(got, "booking 12345 not found") {
			t.Errorf("err.Error(): got %q, want it to contain %q", got, "booking 12345 not found")
		}
	}
	s.eventually(t, "dead again, with more attempts", func() bool {
		dl, err := s.Store.Get(context.Background(), "stripe:evt_still_broken")
		return err == nil && dl.Attempts > before.Attempts
	})
	if got := s.effectsOf("evt_still_broken"); got != 0 {
		t.Errorf("effects of evt_still_broken: got %d, want 0", got)
	}
}

func discard(t *testing.T, s *suite) {
	s.deadLetter(t, "payment_intent.succeeded", "evt_discard", "evt_keep")
	if err := s.Store.Discard(context.Background(), "stripe:evt_discard"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Store.Get(context.Background(), "stripe:evt_discard")
	if !errors.Is(err, dispatch.ErrNotDeadLettered) {
		t.Errorf("err: got %v, want %v", err, dispatch.ErrNotDeadLettered)
	}
	if err := s.Store.Discard(context.Background(), "stripe:evt_discard"); !errors.Is(err, dispatch.ErrNotDeadLettered) {
		t.Errorf("Discard(stripe:evt_discard): got %v, want %v", err, dispatch.ErrNotDeadLettered)
	}
	if err := s.Store.Rerun(context.Background(), s.router, "stripe:evt_discard"); !errors.Is(err, dispatch.ErrNotDeadLettered) {
		t.Errorf("Rerun(stripe:evt_discard): got %v, want %v", err, dispatch.ErrNotDeadLettered)
	}
	if got, want := s.list(t, dispatch.DeadLetterFilter{}), []string{"evt_keep"}; !slices.Equal(got, want) {
		t.Errorf("List after the discard: got %q, want %q", got, want)
	}
	s.fixed.Store(true)
	s.settle(t) // a discarded letter queued by mistake has run by now
	if got := s.effectsOf("evt_discard"); got != 0 {
		t.Errorf("discarded, never run: got %d, want 0", got)
	}
}

func concurrentReruns(t *testing.T, s *suite) {
	s.deadLetter(t, "payment_intent.succeeded", "evt_double_click")
	s.fixed.Store(true)
	const n = 8
	gate := make(chan struct{})
	s.gate.Store(&gate)
	var issued sync.WaitGroup
	issued.Add(n)
	go func() { issued.Wait(); close(gate) }()
	errs := make(chan error, n)
	startLine := make(chan struct{})
	for range n {
		go func() {
			<-startLine
			issued.Done()
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
	if ok != 1 {
		t.Errorf("one re-run took it, the others found it gone: got %d, want 1", ok)
	}
	s.settle(t)
	if got := s.effectsOf("evt_double_click"); got != 1 {
		t.Errorf("one effect: got %d, want 1", got)
	}
}

func jsonWithoutBody(t *testing.T, s *suite) {
	s.deadLetter(t, "payment_intent.succeeded", "evt_json")
	dl, err := s.Store.Get(context.Background(), "stripe:evt_json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(dl)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v["key"] != "stripe:evt_json" {
		t.Errorf("v[\"key\"]: got %v, want %v", v["key"], "stripe:evt_json")
	}
	if v["type"] != "payment_intent.succeeded" {
		t.Errorf("v[\"type\"]: got %v, want %v", v["type"], "payment_intent.succeeded")
	}
	if got, _ := v["error"].(string); !strings.Contains(got, "booking 12345 not found") {
		t.Errorf("the error as text, not {}: got %v, want it to contain %q", v["error"], "booking 12345 not found")
	}
	if strings.Contains(string(b), "guest@example.com") {
		t.Errorf("no body: got %q, want it not to contain %q", string(b), "guest@example.com")
	}
	if strings.Contains(string(b), "Stripe-Signature") {
		t.Errorf("no headers: got %q, want it not to contain %q", string(b), "Stripe-Signature")
	}
}
