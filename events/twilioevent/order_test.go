package twilioevent_test

import (
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/internal/ordertest"
	"github.com/hookkit/hookkit/events/twilioevent"
)

// callback parses the recorded callback name (testdata/twilio: one
// message's and one call's), its parameters set as in set ("" removes
// one), re-encoded.
func callback(t testing.TB, name string, set map[string]string) *events.Event {
	t.Helper()
	body, err := os.ReadFile("../../testdata/twilio/" + name + ".form")
	if err != nil {
		t.Fatal(err)
	}
	if set != nil {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range set {
			if v == "" {
				form.Del(k)
			} else {
				form.Set(k, v)
			}
		}
		body = []byte(form.Encode())
	}
	e, err := twilioevent.NewParser().Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// message is the recorded SMS's callback with status.
func message(t testing.TB, status string) *events.Event {
	return callback(t, "message.delivered", map[string]string{"MessageStatus": status, "SmsStatus": status})
}

// call is the recorded call's callback with status, numbered seq ("" for
// none).
func call(t testing.TB, status, seq string) *events.Event {
	return callback(t, "call.completed", map[string]string{"CallStatus": status, "SequenceNumber": seq})
}

// finalStatus is what a host keeps of each message or call: the status of
// the last callback applied to it.
func finalStatus(g *ordertest.Guard) string {
	if len(g.Applied) == 0 {
		return ""
	}
	_, status, _ := strings.Cut(g.Applied[len(g.Applied)-1].Type, ".")
	return status
}

// Every arrival order of a message's or a call's callbacks ends in the
// status of the in-order run; a failed or undelivered message ends so
// whatever arrives after it.
func TestOrderingEveryArrivalOrder(t *testing.T) {
	for _, c := range []struct {
		name string
		life func(t *testing.T) []*events.Event // in the order Twilio reports them
		want string
	}{
		{"SMS delivered, a callback retried", func(t *testing.T) []*events.Event {
			return []*events.Event{message(t, "queued"), message(t, "sent"), message(t, "sent"), message(t, "delivered")}
		}, "delivered"},
		{"SMS queued, sent, delivered, failed", func(t *testing.T) []*events.Event {
			return []*events.Event{message(t, "queued"), message(t, "sent"), message(t, "delivered"), message(t, "failed")}
		}, "failed"},
		{"SMS failed before it was sent", func(t *testing.T) []*events.Event {
			return []*events.Event{message(t, "queued"), message(t, "failed")}
		}, "failed"},
		{"SMS undelivered", func(t *testing.T) []*events.Event {
			return []*events.Event{message(t, "queued"), message(t, "sent"), message(t, "undelivered")}
		}, "undelivered"},
		{"WhatsApp message read", func(t *testing.T) []*events.Event {
			return []*events.Event{message(t, "accepted"), message(t, "queued"), message(t, "sending"), message(t, "sent"),
				message(t, "delivered"), message(t, "read")}
		}, "read"},
		{"scheduled message canceled", func(t *testing.T) []*events.Event {
			return []*events.Event{message(t, "accepted"), message(t, "scheduled"), message(t, "canceled")}
		}, "canceled"},
		{"call completed", func(t *testing.T) []*events.Event {
			return []*events.Event{call(t, "initiated", "0"), call(t, "ringing", "1"), call(t, "in-progress", "2"),
				call(t, "in-progress", "2"), call(t, "completed", "3")}
		}, "completed"},
		{"call not answered", func(t *testing.T) []*events.Event {
			return []*events.Event{call(t, "initiated", "0"), call(t, "ringing", "1"), call(t, "no-answer", "2")}
		}, "no-answer"},
		{"call callbacks without SequenceNumber", func(t *testing.T) []*events.Event {
			return []*events.Event{call(t, "queued", ""), call(t, "ringing", ""), call(t, "in-progress", ""), call(t, "completed", "")}
		}, "completed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			evs := c.life(t)
			// The first permutation is the identity: the in-order run.
			ordertest.Permutations(len(evs), func(perm []int) {
				g, err := ordertest.Run(twilioevent.Ordering, evs, perm)
				if err != nil {
					t.Fatal(err)
				}
				if got := finalStatus(g); got != c.want {
					t.Fatalf("arrival %v: final status %q, want %q", perm, got, c.want)
				}
			})
		})
	}
}

// Two final statuses of one message (which Twilio does not send) end in
// the same one whichever arrives first: undelivered.
func TestOrderingFinalStatusesAreDeterministic(t *testing.T) {
	evs := []*events.Event{message(t, "failed"), message(t, "undelivered"), message(t, "canceled")}
	ordertest.Permutations(len(evs), func(perm []int) {
		g, err := ordertest.Run(twilioevent.Ordering, evs, perm)
		if err != nil {
			t.Fatal(err)
		}
		if got := finalStatus(g); got != "undelivered" {
			t.Fatalf("arrival %v: final status %q", perm, got)
		}
	})
}

func TestOrderingPositions(t *testing.T) {
	for _, c := range []struct {
		e      *events.Event
		object string
		pos    events.Position
	}{
		{callback(t, "message.sent", nil), "message:SM9f8e7d6c5b4a39281706f5e4d3c2b1a0", events.Position{Rank: 5}},
		{callback(t, "message.undelivered", nil), "message:SM9f8e7d6c5b4a39281706f5e4d3c2b1a0", events.Position{Rank: 10}},
		// An older callback that names its status only as SmsStatus.
		{callback(t, "message.sent", map[string]string{"MessageStatus": ""}), "message:SM9f8e7d6c5b4a39281706f5e4d3c2b1a0", events.Position{Rank: 5}},
		{callback(t, "call.busy", nil), "call:CA5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d", events.Position{At: 3, Rank: 7}},
		// A status Twilio may add later ranks 0.
		{message(t, "partially_delivered"), "message:SM9f8e7d6c5b4a39281706f5e4d3c2b1a0", events.Position{}},
		{call(t, "answered-by-machine", "5"), "call:CA5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d", events.Position{At: 5}},
	} {
		object, pos, err := twilioevent.Ordering(c.e)
		if err != nil || object != c.object || pos != c.pos {
			t.Errorf("%s: %q %+v %v; want %q %+v", c.e.ID, object, pos, err, c.object, c.pos)
		}
	}
}

// A status this package does not know never hides a known one: it runs
// before any, and is stale after one.
func TestOrderingUnknownStatus(t *testing.T) {
	unknown, sent := message(t, "partially_delivered"), message(t, "sent")
	g, err := ordertest.Run(twilioevent.Ordering, []*events.Event{unknown, sent}, []int{0, 1})
	if err != nil || len(g.Applied) != 2 {
		t.Errorf("unknown then sent: applied %d, %v", len(g.Applied), err)
	}
	g, err = ordertest.Run(twilioevent.Ordering, []*events.Event{unknown, sent}, []int{1, 0})
	if err != nil || len(g.Stale) != 1 || g.Stale[0] != unknown {
		t.Errorf("sent then unknown: stale %d, %v", len(g.Stale), err)
	}
}

func TestOrderingUndecodable(t *testing.T) {
	for _, c := range []struct{ name, body, field string }{
		{"SequenceNumber not a number", "CallSid=CA1&CallStatus=ringing&SequenceNumber=secret", "SequenceNumber"},
		{"SequenceNumber negative", "CallSid=CA1&CallStatus=ringing&SequenceNumber=-1", "SequenceNumber"},
		{"SequenceNumber too large", "CallSid=CA1&CallStatus=ringing&SequenceNumber=99999999999999999999", "SequenceNumber"},
		{"no SID", "MessageStatus=sent&To=secret", "MessageSid"},
		{"not a form", "MessageSid=SM1&x=%zzsecret", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &events.Event{Source: "twilio", ID: "X:y", Type: "call.ringing", Data: []byte(c.body)}
			object, _, err := twilioevent.Ordering(e)
			var de *events.DecodeError
			if !errors.Is(err, events.ErrUndecodable) || !errors.As(err, &de) || de.Field != c.field || object != "" {
				t.Fatalf("Ordering = %q, %v; want an undecodable error on field %q", object, err, c.field)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "9999") {
				t.Errorf("error quotes the payload: %v", err)
			}
		})
	}
}

// FuzzOrdering holds the Order to the parser: a callback the parser
// accepts is about the message or call whose SID its ID carries, and an
// Order error is always undecodable.
func FuzzOrdering(f *testing.F) {
	for _, name := range []string{"message.delivered", "call.busy"} {
		body, err := os.ReadFile("../../testdata/twilio/" + name + ".form")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte("MessageSid=SM1&SmsStatus=sent&MessageSid=SM2"))
	f.Add([]byte("CallSid=CA1&CallStatus=ringing&SequenceNumber=%2B1"))
	f.Add([]byte("CallSid=CA1&MessageSid=&CallStatus=busy&SequenceNumber=007"))
	p := twilioevent.NewParser()
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := p.Parse(nil, body)
		if err != nil {
			e = &events.Event{Source: "twilio", ID: "X:y", Type: "message.sent", Data: body}
		}
		object, _, oerr := twilioevent.Ordering(e)
		if oerr != nil {
			if !errors.Is(oerr, events.ErrUndecodable) {
				t.Fatalf("error %v does not wrap ErrUndecodable", oerr)
			}
			return
		}
		if err != nil {
			return
		}
		kind, status, _ := strings.Cut(e.Type, ".")
		sid := strings.TrimSuffix(e.ID, ":"+status)
		if object != kind+":"+sid {
			t.Fatalf("Ordering says %q of the %s %q", object, kind, e.ID)
		}
	})
}
