package stripeevent_test

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
	"github.com/hookkit/hookkit/events/internal/ordertest"
	"github.com/hookkit/hookkit/events/stripeevent"
)

// recorded parses the recorded event name (testdata/stripe), re-encoded
// after edit changes its envelope (a map) and data.object (another).
func recorded(t testing.TB, name string, edit func(env, obj map[string]any)) *events.Event {
	t.Helper()
	body, err := os.ReadFile("../../testdata/stripe/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber() // amounts and times stay as written
		var env map[string]any
		if err := d.Decode(&env); err != nil {
			t.Fatal(err)
		}
		edit(env, env["data"].(map[string]any)["object"].(map[string]any))
		if body, err = json.Marshal(env); err != nil {
			t.Fatal(err)
		}
	}
	e, err := stripeevent.NewParser().Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// as returns an edit that makes an event of type typ (with a fresh ID)
// about the object, at created, with status, and sets more of data.object.
func as(typ string, created int64, status string, more map[string]any) func(env, obj map[string]any) {
	return func(env, obj map[string]any) {
		env["type"], env["created"] = typ, created
		env["id"] = fmt.Sprintf("evt_%s_%d_%s", typ, created, status)
		obj["status"] = status
		for k, v := range more {
			obj[k] = v
		}
	}
}

// objectState is what a host keeps of the object: the last event applied
// to it, its status and whether it was refunded.
type objectState struct {
	event, status string
	refunded      bool
}

func finalObject(t testing.TB, g *ordertest.Guard) objectState {
	t.Helper()
	if len(g.Applied) == 0 {
		return objectState{}
	}
	e := g.Applied[len(g.Applied)-1]
	var o struct {
		Status   string `json:"status"`
		Refunded bool   `json:"refunded"`
	}
	if err := json.Unmarshal(e.Data, &o); err != nil {
		t.Fatal(err)
	}
	return objectState{e.Type, o.Status, o.Refunded}
}

// Every arrival order of an object's life ends in the state of the
// in-order run, whether its events are seconds apart or share a second.
func TestOrderingEveryArrivalOrder(t *testing.T) {
	const t0 = 1795420800
	pi := func(t *testing.T, typ string, at int64, status string) *events.Event {
		return recorded(t, "payment_intent.succeeded", as(typ, at, status, nil))
	}
	sub := func(t *testing.T, name string, at int64) *events.Event {
		return recorded(t, name, func(env, _ map[string]any) { env["created"] = at })
	}
	charge := func(t *testing.T, typ string, at int64, refunded bool) *events.Event {
		return recorded(t, "charge.refunded", as(typ, at, "succeeded", map[string]any{"refunded": refunded}))
	}
	invoice := func(t *testing.T, typ string, at int64, status string) *events.Event {
		return recorded(t, "invoice.payment_failed", as(typ, at, status, nil))
	}
	for _, c := range []struct {
		name string
		life func(t *testing.T, gap int64) []*events.Event // in the order they happened
		want objectState
	}{
		{"payment intent: a declined attempt, then a paid one", func(t *testing.T, gap int64) []*events.Event {
			return []*events.Event{
				pi(t, "payment_intent.created", t0, "requires_payment_method"),
				pi(t, "payment_intent.payment_failed", t0+gap, "requires_payment_method"),
				pi(t, "payment_intent.processing", t0+2*gap, "processing"),
				pi(t, "payment_intent.succeeded", t0+3*gap, "succeeded"),
			}
		}, objectState{"payment_intent.succeeded", "succeeded", false}},
		{"subscription: created, past due, deleted", func(t *testing.T, gap int64) []*events.Event {
			return []*events.Event{
				sub(t, "customer.subscription.created", t0),
				sub(t, "customer.subscription.updated", t0+gap),
				sub(t, "customer.subscription.deleted", t0+2*gap),
			}
		}, objectState{"customer.subscription.deleted", "canceled", false}},
		{"charge: paid, then refunded in full", func(t *testing.T, gap int64) []*events.Event {
			return []*events.Event{
				recorded(t, "charge.refunded", as("charge.pending", t0, "pending", map[string]any{"refunded": false})),
				charge(t, "charge.succeeded", t0+gap, false),
				charge(t, "charge.refunded", t0+2*gap, true),
			}
		}, objectState{"charge.refunded", "succeeded", true}},
		{"invoice: finalized, a failed attempt, paid", func(t *testing.T, gap int64) []*events.Event {
			return []*events.Event{
				invoice(t, "invoice.created", t0, "draft"),
				invoice(t, "invoice.finalized", t0+gap, "open"),
				invoice(t, "invoice.payment_failed", t0+2*gap, "open"),
				invoice(t, "invoice.payment_succeeded", t0+3*gap, "paid"),
			}
		}, objectState{"invoice.payment_succeeded", "paid", false}},
	} {
		for _, gap := range []int64{60, 0} {
			t.Run(fmt.Sprintf("%s, %ds apart", c.name, gap), func(t *testing.T) {
				evs := c.life(t, gap)
				// The first permutation is the identity: the in-order run.
				ordertest.Permutations(len(evs), func(perm []int) {
					g, err := ordertest.Run(stripeevent.Ordering, evs, perm)
					if err != nil {
						t.Fatal(err)
					}
					if got := finalObject(t, g); got != c.want {
						t.Fatalf("arrival %v: final %+v, want %+v", perm, got, c.want)
					}
				})
			})
		}
	}
}

// The recorded subscription: deleted delivered before the update that
// preceded it ends deleted, the update stale; in one second too.
func TestOrderingSubscriptionDeletedBeforeUpdated(t *testing.T) {
	for _, sameSecond := range []bool{false, true} {
		var edit func(env, _ map[string]any)
		if sameSecond {
			edit = func(env, _ map[string]any) { env["created"] = 1795420830 }
		}
		deleted := recorded(t, "customer.subscription.deleted", edit)
		updated := recorded(t, "customer.subscription.updated", edit)
		g, err := ordertest.Run(stripeevent.Ordering, []*events.Event{deleted, updated}, []int{0, 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Stale) != 1 || g.Stale[0] != updated || finalObject(t, g).status != "canceled" {
			t.Errorf("same second %v: stale %d, final %+v", sameSecond, len(g.Stale), finalObject(t, g))
		}
	}
}

// Two updates of one subscription in one second whose statuses share a
// rank (past_due, then active again) have equal positions: both run in
// either order. Which is the newer only Stripe can say (re-fetch).
func TestOrderingTiesBothRun(t *testing.T) {
	pastDue := recorded(t, "customer.subscription.updated", as("customer.subscription.updated", 1795420820, "past_due", nil))
	active := recorded(t, "customer.subscription.updated", as("customer.subscription.updated", 1795420820, "active", nil))
	_, p1, err1 := stripeevent.Ordering(pastDue)
	_, p2, err2 := stripeevent.Ordering(active)
	if err1 != nil || err2 != nil || p1.Compare(p2) != 0 {
		t.Fatalf("positions %+v %+v (%v %v), want equal", p1, p2, err1, err2)
	}
	for _, perm := range [][]int{{0, 1}, {1, 0}} {
		g, err := ordertest.Run(stripeevent.Ordering, []*events.Event{pastDue, active}, perm)
		if err != nil || len(g.Applied) != 2 {
			t.Errorf("arrival %v: %d of 2 ran (%v)", perm, len(g.Applied), err)
		}
	}
}

// Where Stripe moves an object back and forth between statuses, the later
// of two events in one second is never stale, whichever status it has:
// ranking such statuses apart would drop it (a declined confirmation right
// after its payment intent was created, a subscription paid again in the
// second it fell past due).
func TestOrderingNeverDropsAMoveBackInOneSecond(t *testing.T) {
	for _, c := range []struct{ fixture, typ, from, to string }{
		{"payment_intent.succeeded", "payment_intent.payment_failed", "requires_confirmation", "requires_payment_method"},
		{"payment_intent.succeeded", "payment_intent.payment_failed", "requires_action", "requires_payment_method"},
		{"payment_intent.succeeded", "payment_intent.payment_failed", "processing", "requires_payment_method"},
		{"payment_intent.succeeded", "payment_intent.requires_action", "processing", "requires_action"},
		{"payment_intent.succeeded", "payment_intent.updated", "requires_action", "requires_confirmation"},
		{"customer.subscription.updated", "customer.subscription.updated", "active", "past_due"},
		{"customer.subscription.updated", "customer.subscription.updated", "past_due", "active"},
		{"customer.subscription.updated", "customer.subscription.updated", "unpaid", "active"},
		{"customer.subscription.updated", "customer.subscription.paused", "active", "paused"},
		{"customer.subscription.updated", "customer.subscription.resumed", "paused", "active"},
		{"customer.subscription.updated", "customer.subscription.updated", "active", "trialing"},
	} {
		earlier := recorded(t, c.fixture, as(c.typ, 1795420900, c.from, nil))
		later := recorded(t, c.fixture, as(c.typ, 1795420900, c.to, nil))
		g, err := ordertest.Run(stripeevent.Ordering, []*events.Event{earlier, later}, []int{0, 1})
		if err != nil || len(g.Stale) != 0 {
			t.Errorf("%s then %s in one second: %d stale (%v)", c.from, c.to, len(g.Stale), err)
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
		{"payment intent succeeded", recorded(t, "payment_intent.succeeded", nil), "pi_3OdQh2LkdIwHu7ix1pLqDp2K", events.Position{At: 1795420801, Rank: 4}},
		{"payment intent failed", recorded(t, "payment_intent.payment_failed", nil), "pi_3OdQk9LkdIwHu7ix0Yc2Wq8m", events.Position{At: 1795421400, Rank: 1}},
		{"charge refunded in full", recorded(t, "charge.refunded", nil), "ch_3OdQh2LkdIwHu7ix1GxR4bYt", events.Position{At: 1795422000, Rank: 4}},
		{"charge refunded in part", recorded(t, "charge.refunded", as("charge.refunded", 1795422000, "succeeded", map[string]any{"refunded": false})),
			"ch_3OdQh2LkdIwHu7ix1GxR4bYt", events.Position{At: 1795422000, Rank: 3}},
		{"subscription updated", recorded(t, "customer.subscription.updated", nil), "sub_1OdQm2LkdIwHu7ixG9sKzR3w", events.Position{At: 1795420820, Rank: 2}},
		{"subscription deleted", recorded(t, "customer.subscription.deleted", nil), "sub_1OdQm2LkdIwHu7ixG9sKzR3w", events.Position{At: 1795420830, Rank: 4}},
		{"invoice paid", recorded(t, "invoice.payment_succeeded", nil), "in_1OdQm2LkdIwHu7ixq5Tn8Ybc", events.Position{At: 1795424406, Rank: 5}},
		{"checkout session complete", recorded(t, "checkout.session.completed", nil), "cs_test_a1Q2w3E4r5T6y7U8i9O0pZxCvBnM", events.Position{At: 1795420805, Rank: 3}},
		{"a status stripe-go does not name", recorded(t, "customer.subscription.updated", as("customer.subscription.updated", 7, "dormant", nil)),
			"sub_1OdQm2LkdIwHu7ixG9sKzR3w", events.Position{At: 7}},
		{"an object type without a lattice", recorded(t, "payment_intent.succeeded", func(env, obj map[string]any) { obj["object"] = "refund" }),
			"pi_3OdQh2LkdIwHu7ix1pLqDp2K", events.Position{At: 1795420801}},
		{"no object type", recorded(t, "payment_intent.succeeded", func(env, obj map[string]any) { delete(obj, "object") }),
			"pi_3OdQh2LkdIwHu7ix1pLqDp2K", events.Position{At: 1795420801}},
		{"an object without an id: not ordered", recorded(t, "payment_intent.succeeded", func(env, obj map[string]any) { delete(obj, "id") }),
			"", events.Position{}},
	} {
		object, pos, err := stripeevent.Ordering(c.e)
		if err != nil || object != c.object || pos != c.pos {
			t.Errorf("%s: %q %+v %v; want %q %+v", c.name, object, pos, err, c.object, c.pos)
		}
	}
}

func TestOrderingUndecodable(t *testing.T) {
	for _, c := range []struct {
		name, object, field string
		created             bool
	}{
		{"id a number", `{"id":4242,"object":"charge"}`, "data.object.id", true},
		{"id a lone surrogate", `{"id":"ch_secret\udc00","object":"charge"}`, "data.object.id", true},
		{"object type a number", `{"id":"ch_1","object":7,"status":"secret"}`, "data.object.object", true},
		{"status an object", `{"id":"ch_1","object":"charge","status":{"secret":1}}`, "data.object.status", true},
		{"status invalid UTF-8", "{\"id\":\"ch_1\",\"object\":\"charge\",\"status\":\"secret\xff\"}", "data.object.status", true},
		{"data.object not an object", `"secret"`, "data.object", true},
		{"a key differing only in case", `{"ID":"secret","id":"ch_1"}`, "data.object", true},
		{"no created", `{"id":"ch_1","object":"charge","status":"succeeded"}`, "created", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			created := ""
			if c.created {
				created = `"created":1795420800,`
			}
			body := `{"id":"evt_1",` + created + `"type":"charge.updated","data":{"object":` + c.object + `}}`
			e, err := stripeevent.NewParser().Parse(nil, []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			object, _, err := stripeevent.Ordering(e)
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

// FuzzOrdering holds the id the Order reads to the one encoding/json (and
// so stripe-go) decodes from data.object, and its failures to
// undecodable errors.
func FuzzOrdering(f *testing.F) {
	for _, name := range []string{"customer.subscription.updated", "charge.refunded"} {
		f.Add(recorded(f, name, nil).Data)
	}
	f.Add([]byte(`{"id":"ch_1","object":"charge","status":"succeeded","refunded":true,"id":"ch_2"}`))
	f.Add([]byte(`{"id":"sub_\u00e9","object":"subscription","status":"\ud800"}`))
	f.Add([]byte(`{"Status":"x","id":"a"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := &events.Event{Source: "stripe", ID: "evt_1", Type: "charge.updated", Time: time.Unix(1795420800, 0), Data: data}
		object, _, err := stripeevent.Ordering(e)
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
