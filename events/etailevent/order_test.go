package etailevent_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/internal/ordertest"
)

// recorded parses the recorded event name (testdata/etail) as an event of
// type typ at created, its object's status set to status; typ "" keeps the
// recording as it is.
func recorded(t testing.TB, name, typ string, created int64, status string) *events.Event {
	t.Helper()
	body, err := os.ReadFile("../../testdata/etail/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if typ != "" {
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		var env map[string]any
		if err := d.Decode(&env); err != nil {
			t.Fatal(err)
		}
		env["id"] = fmt.Sprintf("evt_%s_%d", typ, created)
		env["type"], env["created"] = typ, created
		env["data"].(map[string]any)["object"].(map[string]any)["status"] = status
		if body, err = json.Marshal(env); err != nil {
			t.Fatal(err)
		}
	}
	e, err := etailevent.NewParser().Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Every arrival order of a payment's and an order's life ends as the
// in-order run does, seconds apart or in one second.
func TestOrderingEveryArrivalOrder(t *testing.T) {
	const t0 = 1795420840
	for _, c := range []struct {
		name, fixture string
		life          [][2]string // type, status: in the order they happened
		want          string
	}{
		{"payment declined, paid on retry, refunded", "payment.succeeded",
			[][2]string{{"payment.failed", "failed"}, {"payment.succeeded", "succeeded"}, {"payment.refunded", "refunded"}}, "refunded"},
		{"order created, fulfilled, cancelled (returned)", "order.created",
			[][2]string{{"order.created", "created"}, {"order.fulfilled", "fulfilled"}, {"order.cancelled", "cancelled"}}, "cancelled"},
	} {
		for _, gap := range []int64{10, 0} {
			t.Run(fmt.Sprintf("%s, %ds apart", c.name, gap), func(t *testing.T) {
				var evs []*events.Event
				for i, ev := range c.life {
					evs = append(evs, recorded(t, c.fixture, ev[0], t0+int64(i)*gap, ev[1]))
				}
				evs = append(evs, evs[1]) // a retry of the second event
				// The first permutation is the identity: the in-order run.
				ordertest.Permutations(len(evs), func(perm []int) {
					g, err := ordertest.Run(etailevent.Ordering, evs, perm)
					if err != nil {
						t.Fatal(err)
					}
					last := g.Applied[len(g.Applied)-1]
					if _, status, _ := strings.Cut(last.Type, "."); status != c.want {
						t.Fatalf("arrival %v: final %s, want %s", perm, last.Type, c.want)
					}
				})
			})
		}
	}
}

func TestOrderingPositions(t *testing.T) {
	for _, c := range []struct {
		name   string
		e      *events.Event
		object string
		pos    events.Position
	}{
		{"payment.succeeded", recorded(t, "payment.succeeded", "", 0, ""), "pay_8Hn2Kq4Lm6Pz", events.Position{At: 1795420851, Rank: 2}},
		{"order.fulfilled", recorded(t, "order.fulfilled", "", 0, ""), "ord_5Tq7Wn2Xc9Bv", events.Position{At: 1795420852, Rank: 2}},
		{"account.updated: no lattice", recorded(t, "account.updated", "", 0, ""), "acct_3Fk8Lp2Qr6Ms", events.Position{At: 1795420891}},
		{"a payment status not documented", recorded(t, "payment.succeeded", "payment.disputed", 5, "disputed"), "pay_8Hn2Kq4Lm6Pz", events.Position{At: 5}},
	} {
		object, pos, err := etailevent.Ordering(c.e)
		if err != nil || object != c.object || pos != c.pos {
			t.Errorf("%s: %q %+v %v; want %q %+v", c.name, object, pos, err, c.object, c.pos)
		}
	}
	// The documented example.
	e, err := etailevent.NewParser().Parse(nil, []byte(documentedPaymentSucceeded))
	if err != nil {
		t.Fatal(err)
	}
	if object, pos, err := etailevent.Ordering(e); object != "pay_1234567890" || pos != (events.Position{At: 1640995200, Rank: 2}) || err != nil {
		t.Errorf("documented payment.succeeded: %q %+v %v", object, pos, err)
	}
}

func TestOrderingUndecodable(t *testing.T) {
	at := time.Unix(1795420851, 0)
	for _, c := range []struct {
		name, data, field string
		time              time.Time
	}{
		{"id a number", `{"id":4242,"status":"succeeded"}`, "data.object.id", at},
		{"id invalid UTF-8", "{\"id\":\"pay_secret\xc3\"}", "data.object.id", at},
		{"status a number", `{"id":"pay_1","status":4242}`, "data.object.status", at},
		{"data.object an array", `["secret"]`, "data.object", at},
		{"no created", `{"id":"pay_1","status":"succeeded"}`, "created", time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &events.Event{Source: "etail", ID: "evt_1", Type: "payment.succeeded", Time: c.time, Data: []byte(c.data)}
			object, _, err := etailevent.Ordering(e)
			var de *events.DecodeError
			if !errors.Is(err, events.ErrUndecodable) || !errors.As(err, &de) || de.Field != c.field || object != "" {
				t.Fatalf("Ordering = %q, %v; want an undecodable error on field %s", object, err, c.field)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "4242") {
				t.Errorf("error quotes the payload: %v", err)
			}
		})
	}
}

// FuzzOrdering holds the id the Order reads to the one encoding/json
// decodes from data.object, and its failures to undecodable errors.
func FuzzOrdering(f *testing.F) {
	f.Add(recorded(f, "payment.refunded", "", 0, "").Data)
	f.Add([]byte(`{"id":"pay_1","status":"failed","id":"pay_2"}`))
	f.Add([]byte(`{"iD":"pay_1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := &events.Event{Source: "etail", ID: "evt_1", Type: "payment.failed", Time: time.Unix(1795420851, 0), Data: data}
		object, _, err := etailevent.Ordering(e)
		if err != nil {
			if !errors.Is(err, events.ErrUndecodable) {
				t.Fatalf("error %v does not wrap ErrUndecodable", err)
			}
			return
		}
		// What encoding/json reads at id: the last of a repeated key,
		// whatever came before it.
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			t.Fatalf("Ordering read a data.object encoding/json refuses: %v", err)
		}
		var id string
		if raw := obj["id"]; raw != nil {
			if err := json.Unmarshal(raw, &id); err != nil && string(raw) != "null" {
				t.Fatalf("Ordering read object %q from a non-string id", object)
			}
		}
		if object != id {
			t.Fatalf("Ordering read object %q, encoding/json %q", object, id)
		}
	})
}
