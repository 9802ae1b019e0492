package dispatch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

var converso = verifytest.HMAC{Secret: []byte("gc"), Header: "X-Goconverso-Signature"}

// bookingLife is booking 12345's recorded life (testdata/goconverso), in
// the order it happened: created, confirmed, rescheduled, cancelled.
var bookingLife = []string{"booking.created", "booking.confirmed", "booking.rescheduled", "booking.cancelled"}

// bookingBody returns the recorded delivery of event name, about booking id.
func bookingBody(t testing.TB, name, id string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../testdata/goconverso/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.ReplaceAll(raw, []byte(`"timestamp": "2026-11-23T08:`), []byte(`"timestamp": "`+lifeHour+`:`))
	return bytes.Replace(raw, []byte(`"booking_id": "12345"`), []byte(`"booking_id": "`+id+`"`), 1)
}

// lifeHour is the hour the recorded life is moved to, within the age an
// Endpoint accepts (its minutes and seconds stay as recorded).
var lifeHour = time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15")

// bookings is a host's booking table, kept by ordered handlers: a
// booking exists once created, and the other events of its life are
// about a booking that must exist (ErrNotYet before).
type bookings struct {
	mu      sync.Mutex
	rows    map[string]booking
	runs    map[string]int       // effects: booking id + event type -> times applied
	applied map[string]time.Time // booking id + event type -> when applied
	notYet  chan string          // event types that said ErrNotYet, as they said it
}

type booking struct {
	Status      string
	ScheduledAt time.Time
	Last        string // the last event applied
}

func newBookings() *bookings {
	return &bookings{rows: map[string]booking{}, runs: map[string]int{}, applied: map[string]time.Time{}, notYet: make(chan string, 64)}
}

func (h *bookings) router() *dispatch.Router {
	r := dispatch.NewRouter()
	r.Use(dispatch.Ordered(conversoevent.Ordering))
	for _, name := range bookingLife {
		dispatch.On(r, events.NewType[*conversoevent.Booking](name), h.apply)
	}
	return r
}

func (h *bookings) apply(_ context.Context, e *events.Event, b *conversoevent.Booking) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.rows[b.BookingID]; !ok && e.Type != "booking.created" {
		h.notYet <- e.Type
		return fmt.Errorf("booking %s: %w", b.BookingID, dispatch.ErrNotYet)
	}
	h.rows[b.BookingID] = booking{Status: b.Status, ScheduledAt: b.ScheduledAt, Last: e.Type}
	h.runs[b.BookingID+" "+e.Type]++
	h.applied[b.BookingID+" "+e.Type] = time.Now()
	return nil
}

// Every arrival order of a booking's life (24), each with two retries of
// events already delivered, on the default accept step: the final state is
// the in-order one, every event applied at most once, and a confirmation
// that arrived before its creation applied within a second of it.
func TestOrderedEveryArrivalOrderInMemory(t *testing.T) {
	h := newBookings()
	v, err := verify.NewHMAC(converso.Secret, converso.Header)
	if err != nil {
		t.Fatal(err)
	}
	ep := dispatch.NewEndpoint(v, conversoevent.NewParser(), h.router(), dispatch.WithLogger(quiet), dispatch.WithTimeout(5*time.Second))
	inOrder := []int{0, 1, 2, 3}
	want := runLife(t, ep, h, "in-order", inOrder)
	if want.Last != "booking.cancelled" {
		t.Fatalf("in order, the booking ends %+v", want)
	}
	n := 0
	permute(inOrder, func(perm []int) {
		n++
		id := fmt.Sprint("perm-", perm)
		if got := runLife(t, ep, h, id, perm); got != want {
			t.Errorf("arrival %v: booking %+v, want %+v", perm, got, want)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, name := range bookingLife {
			if runs := h.runs[id+" "+name]; runs > 1 {
				t.Errorf("arrival %v: %s applied %d times", perm, name, runs)
			}
		}
		created, confirmed := h.applied[id+" booking.created"], h.applied[id+" booking.confirmed"]
		if indexOf(perm, 1) < indexOf(perm, 0) && !confirmed.IsZero() {
			if late := confirmed.Sub(created); late > time.Second {
				t.Errorf("arrival %v: the kept confirmation applied %s after its creation", perm, late)
			}
		}
	})
	if n != 24 {
		t.Fatalf("%d arrival orders, want 24", n)
	}
}

// runLife delivers booking id's life in the order perm gives, then retries
// of its second and first deliveries, each delivery started once the one
// before has been answered or is waiting for its booking, and returns the
// booking's final state.
func runLife(t *testing.T, ep http.Handler, h *bookings, id string, perm []int) booking {
	t.Helper()
	order := append(append([]int{}, perm...), perm[1], perm[0])
	var wg sync.WaitGroup
	statuses := make([]int, len(order))
	for i, k := range order {
		done := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			statuses[i], _ = deliver(ep, verifytest.NewRequest(converso, "/webhooks/goconverso", bookingBody(t, bookingLife[k], id)))
		}()
		select {
		case <-done:
		case <-h.notYet: // waiting for its booking
		}
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK && s != http.StatusConflict { // 409: a retry of an event still waiting
			t.Errorf("booking %s: delivery %d (%s) answered %d", id, i, bookingLife[order[i]], s)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.rows[id]
	return b
}

func indexOf(s []int, v int) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// permute calls yield with every permutation of s.
func permute(s []int, yield func([]int)) {
	var rec func(k int)
	rec = func(k int) {
		if k == len(s) {
			yield(append([]int(nil), s...))
			return
		}
		for i := k; i < len(s); i++ {
			s[k], s[i] = s[i], s[k]
			rec(k + 1)
			s[k], s[i] = s[i], s[k]
		}
	}
	rec(0)
}

// An event older than its object's last is answered 200 stale, counted by
// observers and never run; an equal one runs, told it ties.
func TestOrderedStaleAndTie(t *testing.T) {
	var mu sync.Mutex
	var ran []string
	var ties []bool
	r := dispatch.NewRouter()
	r.Use(dispatch.Ordered(conversoevent.Ordering))
	r.HandleFunc("booking.*", func(ctx context.Context, e *events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, e.Type)
		ties = append(ties, dispatch.Tie(ctx))
		return nil
	})
	rec := &recorder{}
	r.Observe(rec)
	v, _ := verify.NewHMAC(converso.Secret, converso.Header)
	ep := dispatch.NewEndpoint(v, conversoevent.NewParser(), r, dispatch.WithLogger(quiet))
	send := func(name string, body []byte) int {
		code, _ := deliver(ep, verifytest.NewRequest(converso, "/", body))
		return code
	}
	if code := send("cancelled", bookingBody(t, "booking.cancelled", "b1")); code != 200 {
		t.Fatalf("cancelled: %d", code)
	}
	if code := send("confirmed", bookingBody(t, "booking.confirmed", "b1")); code != 200 {
		t.Fatalf("confirmed: %d", code)
	}
	// The same cancellation, as another event (another ID) at the same
	// position: it runs, and is told it ties.
	same := bytes.Replace(bookingBody(t, "booking.cancelled", "b1"), []byte(`"notes": "`), []byte(`"notes": "again `), 1)
	if code := send("cancelled again", same); code != 200 {
		t.Fatalf("cancelled again: %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(ran) != "[booking.cancelled booking.cancelled]" || fmt.Sprint(ties) != "[false true]" {
		t.Errorf("ran %v, ties %v; want the cancellation twice, the second a tie", ran, ties)
	}
	deliveries, attempts := rec.records()
	if len(deliveries) != 3 || deliveries[1].Outcome != dispatch.OutcomeStale || !errors.Is(deliveries[1].Err, dispatch.ErrStale) {
		t.Fatalf("deliveries %+v: want the second stale", deliveries)
	}
	if len(attempts) != 3 || attempts[1].Outcome != dispatch.OutcomeStale {
		t.Errorf("attempts %+v: want the second stale", attempts)
	}
	// A retry of the stale event is a duplicate: its key was kept.
	if code := send("confirmed", bookingBody(t, "booking.confirmed", "b1")); code != 200 {
		t.Fatalf("confirmed again: %d", code)
	}
	if d, _ := rec.records(); d[3].Outcome != dispatch.OutcomeDuplicate {
		t.Errorf("the stale event's retry: %s, want duplicate", d[3].Outcome)
	}
}

// An ordered handler run without a Guard (directly, through a Router's
// Dispatch) does not run, and its error is not permanent.
func TestOrderedWithoutGuard(t *testing.T) {
	ran := false
	h := dispatch.Ordered(conversoevent.Ordering)(dispatch.HandlerFunc(func(context.Context, *events.Event) error {
		ran = true
		return nil
	}))
	e, err := conversoevent.NewParser().Parse(nil, bookingBody(t, "booking.created", "b2"))
	if err != nil {
		t.Fatal(err)
	}
	err = h.Handle(context.Background(), e)
	if !errors.Is(err, dispatch.ErrNoGuard) || dispatch.IsPermanent(err) || ran {
		t.Errorf("err %v, ran %v: want ErrNoGuard, not permanent, not run", err, ran)
	}
}

// On the default step a kept event is not acknowledged unless it runs
// within its delivery's deadline: past it, 500, and the sender retries.
func TestOrderedNotYetPastTheDeadline(t *testing.T) {
	h := newBookings()
	v, _ := verify.NewHMAC(converso.Secret, converso.Header)
	ep := dispatch.NewEndpoint(v, conversoevent.NewParser(), h.router(), dispatch.WithLogger(quiet), dispatch.WithTimeout(200*time.Millisecond))
	code, _ := deliver(ep, verifytest.NewRequest(converso, "/", bookingBody(t, "booking.confirmed", "b3")))
	if code != http.StatusInternalServerError {
		t.Fatalf("a confirmation whose booking never came: %d, want 500", code)
	}
	// The retry, once the booking exists, applies.
	if code, _ := deliver(ep, verifytest.NewRequest(converso, "/", bookingBody(t, "booking.created", "b3"))); code != 200 {
		t.Fatalf("created: %d", code)
	}
	if code, _ := deliver(ep, verifytest.NewRequest(converso, "/", bookingBody(t, "booking.confirmed", "b3"))); code != 200 {
		t.Fatalf("the confirmation's retry: %d", code)
	}
	if h.rows["b3"].Last != "booking.confirmed" {
		t.Errorf("booking %+v, want confirmed", h.rows["b3"])
	}
}

// A memory dead letter of an ordered handler re-runs under the guard its
// delivery had (the default step's positions): it applies when it is not
// older than its object's last event, and is refused as stale, without
// running, when a newer one was applied meanwhile.
func TestMemoryDeadLetterRerunIsOrdered(t *testing.T) {
	var mu sync.Mutex
	var ran []string
	failing := map[string]bool{"booking.confirmed": true, "booking.rescheduled": true}
	r := dispatch.NewRouter()
	r.Use(dispatch.Ordered(conversoevent.Ordering))
	r.HandleFunc("booking.*", func(_ context.Context, e *events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if failing[e.Type] {
			return dispatch.Permanent(errors.New("the booking service refused it"))
		}
		ran = append(ran, e.Type)
		return nil
	})
	letters := dispatch.NewMemoryDeadLetters(0)
	v, _ := verify.NewHMAC(converso.Secret, converso.Header)
	ep := dispatch.NewEndpoint(v, conversoevent.NewParser(), r, dispatch.WithLogger(quiet), dispatch.WithDeadLetters(letters))
	keys := map[string]string{}
	for _, name := range bookingLife[:3] { // created, then confirmed and rescheduled dead-lettered
		body := bookingBody(t, name, "b9")
		if code, _ := deliver(ep, verifytest.NewRequest(converso, "/", body)); code != http.StatusOK {
			t.Fatalf("%s: %d", name, code)
		}
		e, err := conversoevent.NewParser().Parse(nil, body)
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = e.Key()
	}
	mu.Lock()
	failing = map[string]bool{}
	mu.Unlock()
	ctx := context.Background()
	// The rescheduling is the newer of the two letters: it applies.
	if err := letters.Rerun(ctx, r, keys["booking.rescheduled"]); err != nil {
		t.Fatalf("re-run of the rescheduling: %v", err)
	}
	// The confirmation is older than the rescheduling now applied: stale.
	err := letters.Rerun(ctx, r, keys["booking.confirmed"])
	if !errors.Is(err, dispatch.ErrStale) || errors.Is(err, dispatch.ErrNoGuard) {
		t.Fatalf("re-run of the older confirmation: %v, want ErrStale", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(ran) != "[booking.created booking.rescheduled]" {
		t.Errorf("ran %v; want the creation, then the rescheduling's re-run only", ran)
	}
}

// One MemoryDeadLetters may serve several Endpoints: each letter re-runs
// under the positions of the Endpoint that dead-lettered it, not of the
// last one to store a letter.
func TestMemoryDeadLetterRerunUsesItsOwnEndpointsPositions(t *testing.T) {
	var mu sync.Mutex
	var ran []string
	failing := true
	r := dispatch.NewRouter()
	r.Use(dispatch.Ordered(conversoevent.Ordering))
	r.HandleFunc("booking.*", func(_ context.Context, e *events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if failing && e.Type == "booking.confirmed" {
			return dispatch.Permanent(errors.New("the booking service refused it"))
		}
		ran = append(ran, e.Type)
		return nil
	})
	refuseAll := dispatch.NewRouter()
	refuseAll.Use(dispatch.Ordered(conversoevent.Ordering))
	refuseAll.HandleFunc("booking.*", func(context.Context, *events.Event) error {
		return dispatch.Permanent(errors.New("refused"))
	})
	letters := dispatch.NewMemoryDeadLetters(0)
	v, _ := verify.NewHMAC(converso.Secret, converso.Header)
	first := dispatch.NewEndpoint(v, conversoevent.NewParser(), r, dispatch.WithLogger(quiet), dispatch.WithDeadLetters(letters))
	second := dispatch.NewEndpoint(v, conversoevent.NewParser(), refuseAll, dispatch.WithLogger(quiet), dispatch.WithDeadLetters(letters))
	var confirmed string
	for _, name := range bookingLife[:3] { // created, confirmed (dead-lettered), rescheduled
		body := bookingBody(t, name, "b11")
		if code, _ := deliver(first, verifytest.NewRequest(converso, "/", body)); code != http.StatusOK {
			t.Fatalf("%s: %d", name, code)
		}
		if name == "booking.confirmed" {
			e, err := conversoevent.NewParser().Parse(nil, body)
			if err != nil {
				t.Fatal(err)
			}
			confirmed = e.Key()
		}
	}
	// The other Endpoint dead-letters an event of its own afterwards.
	if code, _ := deliver(second, verifytest.NewRequest(converso, "/", bookingBody(t, "booking.created", "b12"))); code != http.StatusOK {
		t.Fatalf("second endpoint: %d", code)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	err := letters.Rerun(context.Background(), r, confirmed)
	if !errors.Is(err, dispatch.ErrStale) {
		t.Fatalf("re-run of the confirmation older than the applied rescheduling: %v, want ErrStale", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(ran) != "[booking.created booking.rescheduled]" {
		t.Errorf("ran %v; want the confirmation never applied after the rescheduling", ran)
	}
}

// An accept step learns the object and position the event's handler
// reads first only when Ordered is that handler's outermost layer: then
// the handler's first act is the Guard's Advance of exactly those.
func TestAcceptancePosition(t *testing.T) {
	handle := func(context.Context, *events.Event) error { return nil }
	logged := func(next dispatch.Handler) dispatch.Handler {
		return dispatch.HandlerFunc(func(ctx context.Context, e *events.Event) error { return next.Handle(ctx, e) })
	}
	none := events.Order(func(*events.Event) (string, events.Position, error) { return "", events.Position{}, nil })
	broken := events.Order(func(*events.Event) (string, events.Position, error) {
		return "", events.Position{}, errors.New("no id")
	})
	for _, tt := range []struct {
		name   string
		router func(r *dispatch.Router)
		want   bool
	}{
		{"Use(Ordered)", func(r *dispatch.Router) {
			r.Use(dispatch.Ordered(stripeevent.Ordering))
			r.HandleFunc("payment_intent.*", handle)
		}, true},
		{"Ordered(o)(h)", func(r *dispatch.Router) {
			r.Handle("payment_intent.succeeded", dispatch.Ordered(stripeevent.Ordering)(dispatch.HandlerFunc(handle)))
		}, true},
		{"unordered", func(r *dispatch.Router) { r.HandleFunc("payment_intent.*", handle) }, false},
		{"other middleware outermost", func(r *dispatch.Router) {
			r.Use(logged, dispatch.Ordered(stripeevent.Ordering))
			r.HandleFunc("payment_intent.*", handle)
		}, false},
		{"no object", func(r *dispatch.Router) {
			r.Use(dispatch.Ordered(none))
			r.HandleFunc("payment_intent.*", handle)
		}, false},
		{"unreadable object", func(r *dispatch.Router) {
			r.Use(dispatch.Ordered(broken))
			r.HandleFunc("payment_intent.*", handle)
		}, false},
		{"no handler", func(r *dispatch.Router) { r.Use(dispatch.Ordered(stripeevent.Ordering)) }, false},
		// Recovered: the handler's run panics again, where it is recovered.
		{"panicking order", func(r *dispatch.Router) {
			r.Use(dispatch.Ordered(func(*events.Event) (string, events.Position, error) { panic("a host's bug") }))
			r.HandleFunc("payment_intent.*", handle)
		}, false},
		{"prefix and \"*\" routes", func(r *dispatch.Router) {
			r.Use(dispatch.Ordered(stripeevent.Ordering))
			r.HandleFunc("charge.*", handle)
			r.HandleFunc("*", handle)
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			type position struct {
				object string
				pos    events.Position
				ok     bool
			}
			got := make(chan position, 1)
			var event *events.Event
			r := dispatch.NewRouter()
			tt.router(r)
			ep := newStripeEndpoint(t, r, dispatch.WithAcceptor(acceptorFunc(func(ctx context.Context, a dispatch.Acceptance) dispatch.Result {
				object, pos, ok := a.Position()
				event = a.Event
				got <- position{object, pos, ok}
				return dispatch.Result{Outcome: dispatch.OutcomeProcessed}
			})))
			body := stripeBody(t, "payment_intent.succeeded", "evt_position")
			if code, text := deliver(ep, signed(body)); code != http.StatusOK {
				t.Fatalf("status %d: %s", code, text)
			}
			var p position // the acceptor is not called for an event without a handler
			select {
			case p = <-got:
			default:
			}
			want := position{}
			if tt.want {
				if event == nil {
					t.Fatal("the acceptor was not called")
				}
				// The recorded event: its payment intent, created at
				// 1795420801, ranked by its status.
				_, pos, err := stripeevent.Ordering(event)
				if err != nil {
					t.Fatal(err)
				}
				want = position{"pi_3OdQh2LkdIwHu7ix1pLqDp2K", pos, true}
				if pos.At != 1795420801 {
					t.Fatalf("the fixture's position: %+v", pos)
				}
			}
			if p != want {
				t.Errorf("Position: got %+v, want %+v", p, want)
			}
		})
	}
}

type acceptorFunc func(ctx context.Context, a dispatch.Acceptance) dispatch.Result

func (f acceptorFunc) Accept(ctx context.Context, a dispatch.Acceptance) dispatch.Result {
	return f(ctx, a)
}

// recordingGuard is a Guard that records each Advance and finds nothing
// applied before.
type recordingGuard struct{ advanced []string }

func (g *recordingGuard) Advance(_ context.Context, _, object string, pos events.Position) (events.Position, bool, error) {
	g.advanced = append(g.advanced, fmt.Sprintf("%s@%d", object, pos.At))
	return events.Position{}, false, nil
}

// The object and position an accept step reads with Acceptance.Position
// are the ones the handler's Ordered uses: the Order runs once per
// delivery (a Stripe Order scans the payload, a Twilio one parses the
// form). An inner Ordered with an Order of its own still runs it.
func TestAcceptancePositionIsReadOnce(t *testing.T) {
	counted := func(n *int, object string) events.Order {
		return func(e *events.Event) (string, events.Position, error) {
			*n++
			return object, events.Position{At: 7}, nil
		}
	}
	var outer, inner int
	r := dispatch.NewRouter()
	r.Use(dispatch.Ordered(counted(&outer, "pi_outer")), dispatch.Ordered(counted(&inner, "pi_inner")))
	ran := 0
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error { ran++; return nil })
	g := &recordingGuard{}
	ep := newStripeEndpoint(t, r, dispatch.WithAcceptor(acceptorFunc(func(ctx context.Context, a dispatch.Acceptance) dispatch.Result {
		if object, _, ok := a.Position(); !ok || object != "pi_outer" {
			t.Errorf("Position: %q, %v", object, ok)
		}
		if err := a.Run(dispatch.WithGuard(ctx, g)); err != nil {
			return dispatch.Result{Outcome: dispatch.OutcomeFailed, Err: err}
		}
		return dispatch.Result{Outcome: dispatch.OutcomeProcessed}
	})))
	if code, text := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_read_once"))); code != http.StatusOK {
		t.Fatalf("status %d: %s", code, text)
	}
	if outer != 1 || inner != 1 || ran != 1 {
		t.Errorf("the outer Order ran %d times, the inner %d, the handler %d; want 1 each", outer, inner, ran)
	}
	if got := fmt.Sprint(g.advanced); got != "[pi_outer@7 pi_inner@7]" {
		t.Errorf("advanced %s; want the outer object, then the inner", got)
	}
}
