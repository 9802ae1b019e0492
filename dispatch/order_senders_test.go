package dispatch_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// stripeEvent is the recorded Stripe event fixture with its event ID, its
// object's id and its created time replaced.
func stripeEvent(t *testing.T, fixture, id, object string, created int64) []byte {
	t.Helper()
	body := stripeBody(t, fixture, id)
	body = regexp.MustCompile(`"created": \d+`).ReplaceAll(body, fmt.Appendf(nil, `"created": %d`, created))
	// The object's id is the first "id" inside data.object.
	i := bytes.Index(body, []byte(`"object": {`))
	j := i + bytes.Index(body[i:], []byte(`"id": "`)) + len(`"id": "`)
	k := j + bytes.IndexByte(body[j:], '"')
	return append(append(append([]byte{}, body[:j]...), object...), body[k:]...)
}

// stripeHost keeps the last event applied per object, with Stripe's
// default ordering.
type stripeHost struct {
	mu   sync.Mutex
	last map[string]string // object id -> event type applied last
	ties int
}

func newStripeHost(t *testing.T) (*stripeHost, http.Handler) {
	h := &stripeHost{last: map[string]string{}}
	r := dispatch.NewRouter()
	r.Use(dispatch.Ordered(stripeevent.Ordering))
	r.HandleFunc("*", func(ctx context.Context, e *events.Event) error {
		object, _, err := stripeevent.Ordering(e)
		if err != nil {
			return err
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.last[object] = e.Type
		if dispatch.Tie(ctx) {
			h.ties++ // a handler would re-fetch the object from Stripe here
		}
		return nil
	})
	return h, newStripeEndpoint(t, r)
}

// Stripe, as its documentation warns: events of one object in any order.
// A payment_failed of an earlier attempt arriving after succeeded leaves
// the intent paid; a subscription's deletion arriving before the update
// that preceded it leaves it deleted; in one second, the status lattice
// decides; two updates with the same status in one second both run, the
// second told it ties (re-fetch).
func TestOrderedStripe(t *testing.T) {
	const t0 = 1795420800
	for _, c := range []struct {
		name   string
		object string
		events []struct {
			fixture string
			created int64
		} // in arrival order
		want string
		ties int
	}{
		{"payment_failed of an earlier attempt after succeeded", "pi_order_1", []struct {
			fixture string
			created int64
		}{{"payment_intent.succeeded", t0 + 60}, {"payment_intent.payment_failed", t0}}, "payment_intent.succeeded", 0},
		{"payment_failed after succeeded, the same second", "pi_order_2", []struct {
			fixture string
			created int64
		}{{"payment_intent.succeeded", t0}, {"payment_intent.payment_failed", t0}}, "payment_intent.succeeded", 0},
		{"subscription deleted before the update that preceded it", "sub_order_1", []struct {
			fixture string
			created int64
		}{{"customer.subscription.deleted", t0 + 30}, {"customer.subscription.updated", t0 + 20}}, "customer.subscription.deleted", 0},
		{"subscription deleted before an update of the same second", "sub_order_2", []struct {
			fixture string
			created int64
		}{{"customer.subscription.deleted", t0}, {"customer.subscription.updated", t0}}, "customer.subscription.deleted", 0},
		{"two updates with one status in one second: both run, a tie", "sub_order_3", []struct {
			fixture string
			created int64
		}{{"customer.subscription.updated", t0}, {"customer.subscription.updated", t0}}, "customer.subscription.updated", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, ep := newStripeHost(t)
			for i, e := range c.events {
				body := stripeEvent(t, e.fixture, fmt.Sprintf("evt_%s_%d", c.object, i), c.object, e.created)
				if code, _ := deliver(ep, signed(body)); code != http.StatusOK {
					t.Fatalf("%s: %d", e.fixture, code)
				}
			}
			if h.last[c.object] != c.want || h.ties != c.ties {
				t.Errorf("applied last %s with %d ties, want %s with %d", h.last[c.object], h.ties, c.want, c.ties)
			}
		})
	}
}

// smsCallback is Twilio's recorded status callback of message sid, with
// status.
func smsCallback(t *testing.T, status, sid string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../testdata/twilio/message." + status + ".form")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(strings.TrimSpace(string(raw)), "SM9f8e7d6c5b4a39281706f5e4d3c2b1a0", sid))
}

// Every arrival order of an SMS's queued, sent, delivered and failed
// callbacks (24), each with a retry of its first: the message ends failed
// (final, whatever arrives after it), and the fallback email goes out
// exactly once; without the failure it ends delivered and no email goes.
func TestOrderedSMSEveryArrivalOrder(t *testing.T) {
	const token = "twilio_order_token"
	var mu sync.Mutex
	status := map[string]string{}
	emails := map[string]int{}
	r := dispatch.NewRouter()
	r.Use(dispatch.Ordered(twilioevent.Ordering))
	r.HandleFunc("message.*", func(_ context.Context, e *events.Event) error {
		m, err := twilioevent.DecodeMessageStatus(e.Data)
		if err != nil {
			return dispatch.Permanent(err)
		}
		mu.Lock()
		defer mu.Unlock()
		status[m.MessageSid] = m.MessageStatus
		if m.MessageStatus == "failed" || m.MessageStatus == "undelivered" {
			emails[m.MessageSid]++ // the fallback email, in the handler's transaction
		}
		return nil
	})
	v, err := verify.NewTwilio(token)
	if err != nil {
		t.Fatal(err)
	}
	ep := dispatch.NewEndpoint(v, twilioevent.NewParser(), r, dispatch.WithLogger(quiet))
	for _, c := range []struct {
		statuses []string
		want     string
		emails   int
	}{
		{[]string{"queued", "sent", "delivered", "failed"}, "failed", 1},
		{[]string{"queued", "sent", "delivered"}, "delivered", 0},
	} {
		n := 0
		idx := make([]int, len(c.statuses))
		for i := range idx {
			idx[i] = i
		}
		permute(idx, func(perm []int) {
			n++
			sid := fmt.Sprintf("SM%032d", n*10+len(c.statuses))
			for _, k := range append(perm, perm[0]) {
				req := verifytest.NewRequest(verifytest.Twilio{AuthToken: token}, "/webhooks/twilio", smsCallback(t, c.statuses[k], sid))
				if code, _ := deliver(ep, req); code != http.StatusOK {
					t.Fatalf("%v: %s: %d", perm, c.statuses[k], code)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if status[sid] != c.want || emails[sid] != c.emails {
				t.Errorf("arrival %v of %v: ends %s with %d emails, want %s with %d", perm, c.statuses, status[sid], emails[sid], c.want, c.emails)
			}
		})
	}
}
