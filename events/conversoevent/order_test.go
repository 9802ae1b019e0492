package conversoevent_test

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/internal/ordertest"
)

// recorded parses the recorded delivery of booking event name (booking
// 12345's life in testdata/goconverso), its timestamp replaced by at when
// at is not empty.
func recorded(t testing.TB, name, at string) *events.Event {
	t.Helper()
	body, err := os.ReadFile("../../testdata/goconverso/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if at != "" {
		body = regexp.MustCompile(`"timestamp": "[^"]*"`).ReplaceAll(body, []byte(`"timestamp": "`+at+`"`))
	}
	e, err := conversoevent.NewParser().Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// bookingState is what a host keeps of booking 12345: the last event
// applied to it and the booking as that event carries it.
type bookingState struct {
	event, status string
	scheduledAt   time.Time
}

func finalBooking(t testing.TB, g *ordertest.Guard) bookingState {
	t.Helper()
	var s bookingState
	for _, e := range g.Applied {
		if e.Type == conversoevent.BookingReminder.Name() {
			continue // a reminder's handler changes no booking
		}
		b, err := events.NewType[*conversoevent.Booking](e.Type).Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		s = bookingState{e.Type, b.Status, b.ScheduledAt}
	}
	return s
}

// Every arrival order of booking 12345's recorded life (created,
// confirmed, rescheduled, cancelled), with a retried confirmation and a
// reminder mixed in, ends in the state of the in-order run: cancelled, at
// the rescheduled time. The reminder runs in every order, and never makes
// a reschedule stale (the life without a cancellation ends rescheduled
// whatever the order).
func TestOrderingEveryArrivalOrder(t *testing.T) {
	rescheduledAt := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, at string
		life     []string // in the order they happened
		want     bookingState
	}{
		{"recorded timestamps, a minute apart", "",
			[]string{"booking.created", "booking.confirmed", "booking.confirmed", "booking.rescheduled", "booking.reminder", "booking.cancelled"},
			bookingState{"booking.cancelled", "cancelled", rescheduledAt}},
		{"all in one millisecond", "2026-11-23T08:00:00.123Z",
			[]string{"booking.created", "booking.confirmed", "booking.confirmed", "booking.rescheduled", "booking.reminder", "booking.cancelled"},
			bookingState{"booking.cancelled", "cancelled", rescheduledAt}},
		{"no cancellation", "",
			[]string{"booking.created", "booking.confirmed", "booking.rescheduled", "booking.reminder"},
			bookingState{"booking.rescheduled", "rescheduled", rescheduledAt}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var evs []*events.Event
			for _, name := range c.life {
				evs = append(evs, recorded(t, name, c.at)) // a name twice: a retry, the same event again
			}
			identity := make([]int, len(evs))
			for i := range identity {
				identity[i] = i
			}
			inOrder, err := ordertest.Run(conversoevent.Ordering, evs, identity)
			if err != nil {
				t.Fatal(err)
			}
			if got := finalBooking(t, inOrder); got != c.want {
				t.Fatalf("in-order final state %+v, want %+v", got, c.want)
			}
			n := 0
			ordertest.Permutations(len(evs), func(perm []int) {
				n++
				g, err := ordertest.Run(conversoevent.Ordering, evs, perm)
				if err != nil {
					t.Fatal(err)
				}
				if got := finalBooking(t, g); got != c.want {
					t.Fatalf("arrival %v: final state %+v, want %+v", perm, got, c.want)
				}
				for _, e := range evs {
					if e.Type == conversoevent.BookingReminder.Name() && !applied(g, e) {
						t.Fatalf("arrival %v: the reminder did not run", perm)
					}
				}
			})
			if want := factorial(len(evs)); n != want {
				t.Fatalf("%d arrival orders, want %d", n, want)
			}
		})
	}
}

func factorial(n int) int {
	if n <= 1 {
		return 1
	}
	return n * factorial(n-1)
}

func applied(g *ordertest.Guard, e *events.Event) bool {
	for _, a := range g.Applied {
		if a == e {
			return true
		}
	}
	return false
}

// Two different events of one booking in the same millisecond with the
// same rank have equal positions: both run, whichever arrives first.
func TestOrderingTiesBothRun(t *testing.T) {
	first := recorded(t, "booking.rescheduled", "")
	body := strings.Replace(string(first.Body), "2026-11-26T10:00:00.000Z", "2026-11-27T10:00:00.000Z", 1)
	second, err := conversoevent.NewParser().Parse(nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if second.ID == first.ID || !second.Time.Equal(first.Time) {
		t.Fatal("the second reschedule is not another event of the same millisecond")
	}
	for _, perm := range [][]int{{0, 1}, {1, 0}} {
		g, err := ordertest.Run(conversoevent.Ordering, []*events.Event{first, second}, perm)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Applied) != 2 {
			t.Errorf("arrival %v: %d of 2 tied events ran", perm, len(g.Applied))
		}
	}
}

func TestOrderingPositions(t *testing.T) {
	created := recorded(t, "booking.created", "")
	object, pos, err := conversoevent.Ordering(created)
	if err != nil || object != "12345" || pos != (events.Position{At: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC).UnixMilli(), Rank: 1}) {
		t.Errorf("booking.created: %q %+v %v", object, pos, err)
	}
	// Not ordered: the reminder, and events about no booking.
	for _, e := range []*events.Event{
		recorded(t, "booking.reminder", ""),
		{Source: "goconverso", ID: "x", Type: "professional.updated", Data: []byte(`{"id":"p"}`)},
	} {
		if object, _, err := conversoevent.Ordering(e); object != "" || err != nil {
			t.Errorf("%s: object %q, %v; want none", e.Type, object, err)
		}
	}
	// A booking.* event GoConverso may add later ranks 0 at its time.
	later := &events.Event{Source: "goconverso", ID: "x", Type: "booking.completed", Time: created.Time, Data: []byte(`{"booking_id":"12345"}`)}
	if object, pos, err := conversoevent.Ordering(later); object != "12345" || pos.Rank != 0 || pos.At != created.Time.UnixMilli() || err != nil {
		t.Errorf("booking.completed: %q %+v %v", object, pos, err)
	}
}

// A booking event whose payload cannot give its booking or time is
// undecodable (a dead letter), its error naming the field and quoting no
// value; nothing panics.
func TestOrderingUndecodable(t *testing.T) {
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, data, field string
		time              time.Time
	}{
		{"no booking_id", `{"client_name":"secret"}`, "booking_id", at},
		{"booking_id null", `{"booking_id":null}`, "booking_id", at},
		{"booking_id a number", `{"booking_id":12345}`, "booking_id", at},
		{"booking_id a lone surrogate", `{"booking_id":"secret\ud800"}`, "booking_id", at},
		{"data not an object", `"secret"`, "data", at},
		{"key differing only in case", `{"Booking_ID":"secret","booking_id":"b"}`, "data", at},
		{"no timestamp", `{"booking_id":"b"}`, "timestamp", time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &events.Event{Source: "goconverso", ID: "sha256:1", Type: "booking.confirmed", Time: c.time, Data: []byte(c.data)}
			object, _, err := conversoevent.Ordering(e)
			var de *events.DecodeError
			if !errors.Is(err, events.ErrUndecodable) || !errors.As(err, &de) || de.Field != c.field || object != "" {
				t.Fatalf("Ordering = %q, %v; want an undecodable error on field %s", object, err, c.field)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error quotes the payload: %v", err)
			}
		})
	}
	// A booking_id no store can keep as a key: the guard's check (Of).
	e := &events.Event{Source: "goconverso", ID: "sha256:1", Type: "booking.confirmed", Time: at, Data: []byte(`{"booking_id":"b\u0000"}`)}
	if _, _, err := events.Order(conversoevent.Ordering).Of(e); !errors.Is(err, events.ErrUndecodable) {
		t.Errorf("a NUL in booking_id: %v", err)
	}
}

// FuzzOrdering holds the booking_id the Order reads to the one
// encoding/json decodes (and so the typed Booking), and its failures to
// undecodable errors.
func FuzzOrdering(f *testing.F) {
	for _, name := range []string{"booking.created", "booking.cancelled"} {
		f.Add(recorded(f, name, "").Data)
	}
	f.Add([]byte(`{"booking_id":"a","booking_id":"b"}`))
	f.Add([]byte(`{"booking_id":"\u00e9\ud800"}`))
	f.Add([]byte(`{"BOOKING_ID":"a"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := &events.Event{Source: "goconverso", ID: "sha256:1", Type: "booking.created", Time: time.Unix(1795420800, 0), Data: data}
		object, _, err := conversoevent.Ordering(e)
		if err != nil {
			if !errors.Is(err, events.ErrUndecodable) {
				t.Fatalf("error %v does not wrap ErrUndecodable", err)
			}
			return
		}
		// What encoding/json reads at booking_id: the last of a repeated key,
		// whatever came before it.
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			t.Fatalf("Ordering read a data encoding/json refuses: %v", err)
		}
		var id string
		if raw := obj["booking_id"]; raw != nil {
			if err := json.Unmarshal(raw, &id); err != nil && string(raw) != "null" {
				t.Fatalf("Ordering read booking %q from a non-string booking_id", object)
			}
		}
		if object != id {
			t.Fatalf("Ordering read booking %q, encoding/json %q", object, id)
		}
	})
}
