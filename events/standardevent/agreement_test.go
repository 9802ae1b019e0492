package standardevent_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/standardevent"
	"github.com/hookkit/hookkit/verify"
)

const secret = "whsec_aG9va2tpdCBmaXh0dXJlcyBzZWNyZXQh"

// headerState is what a delivery carries under one header name.
type headerState int

const (
	absent headerState = iota
	empty
	valued
)

// TestParserIDIsTheVerifiedID feeds the verifier and the parsers every mix
// of absent, empty and valued svix- and webhook- id, timestamp and
// signature headers (3^6 sets, with the two families' values distinct, and
// again equal), and checks that whenever verify.Standard accepts a delivery
// the parsers return as its ID exactly the ID the signature was checked
// over, never the other family's.
//
// Each signature header carries v1 entries over every (id, timestamp)
// pair the delivery offers, so the verifier accepts whichever values it
// reads; which ID it read is then found by signing for one ID only. On the
// old parser, which read webhook-id before svix-id, the sets with both ids
// valued and distinct fail: the verifier checked svix-id, the parser
// returned webhook-id. The verifier's decision and the ID are also checked
// against svix-js's rule (svixJS), which the old verifier, reading a svix-
// header only when non-empty, followed in all but the sets with an empty
// svix- header beside a valued webhook- one.
func TestParserIDIsTheVerifiedID(t *testing.T) {
	key, err := verify.DecodeStandardSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.NewStandard(secret)
	if err != nil {
		t.Fatal(err)
	}
	parsers := map[string]events.Parser{
		"standardevent": standardevent.NewParser("test"),
		"conversoevent": conversoevent.NewStandardParser(),
	}
	body := []byte(`{"type":"booking.reminder","event":"booking.reminder","timestamp":"2026-11-23T08:03:00.000Z","data":{"booking_id":"12345"}}`)
	now := time.Now()
	type family struct{ id, ts string }
	sign := func(ids []string, tss []string) string {
		var entries []string
		for _, id := range ids {
			for _, ts := range tss {
				m := hmac.New(sha256.New, key)
				m.Write([]byte(id + "." + ts + "."))
				m.Write(body)
				entries = append(entries, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
			}
		}
		return strings.Join(entries, " ")
	}
	accepted, checked := 0, 0
	for _, sameValues := range []bool{false, true} {
		svix := family{"msg_svix", strconv.FormatInt(now.Unix(), 10)}
		std := family{"msg_webhook", strconv.FormatInt(now.Add(-time.Second).Unix(), 10)}
		if sameValues {
			std = svix
		}
		ids, tss := []string{svix.id, std.id}, []string{svix.ts, std.ts}
		for mix := range 729 {
			states := [6]headerState{}
			for i, n := 0, mix; i < 6; i, n = i+1, n/3 {
				states[i] = headerState(n % 3)
			}
			build := func(sig string) *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/webhooks/bookings", strings.NewReader(string(body)))
				for i, h := range []struct{ name, value string }{
					{verify.SvixIDHeader, svix.id}, {verify.SvixTimestampHeader, svix.ts}, {verify.SvixSignatureHeader, sig},
					{verify.StandardIDHeader, std.id}, {verify.StandardTimestampHeader, std.ts}, {verify.StandardSignatureHeader, sig},
				} {
					switch states[i] {
					case empty:
						r.Header[h.name] = []string{""}
					case valued:
						r.Header[h.name] = []string{h.value}
					}
				}
				return r
			}
			checked++
			verr := v.Verify(build(sign(ids, tss)), body)
			jsID, jsAccepts := svixJS(build(sign(ids, tss)).Header)
			if (verr == nil) != jsAccepts {
				t.Fatalf("headers %v: hookkit's verifier says %v, svix-js's rule accepts: %v", states, verr, jsAccepts)
			}
			if verr != nil {
				continue // refused: the endpoint answers 400 and never parses
			}
			accepted++
			for name, p := range parsers {
				e, err := p.Parse(build(sign(ids, tss)), body)
				if err != nil {
					t.Fatalf("%s: headers %v: verified, then the parser refused: %v", name, states, err)
				}
				if e.ID != jsID {
					t.Fatalf("%s: headers %v: ID %q, svix-js reads %q", name, states, e.ID, jsID)
				}
				if err := v.Verify(build(sign([]string{e.ID}, tss)), body); err != nil {
					t.Fatalf("%s: headers %v: the parser's ID %q is not the ID the verifier checked: %v", name, states, e.ID, err)
				}
				for _, other := range ids {
					if other != e.ID && v.Verify(build(sign([]string{other}, tss)), body) == nil {
						t.Fatalf("%s: headers %v: the verifier checked %q, the parser returned %q", name, states, other, e.ID)
					}
				}
			}
		}
	}
	if checked != 2*729 || accepted == 0 {
		t.Fatalf("checked %d header sets, %d accepted", checked, accepted)
	}
	t.Logf("%d header sets, %d verified, each parsed to its signed ID", checked, accepted)
}

// svixJS models which id svix-js's Webhook.verify reads and whether it goes
// on to check a signature: it sets webhook-id to svix-id ?? webhook-id ??
// "" (likewise timestamp and signature; ?? keeps an empty string), then
// standardwebhooks' verify refuses a delivery unless all three are
// non-empty (svix-webhooks javascript/src/webhook.ts; standard-webhooks
// libraries/javascript/src/index.ts). Every signature header in the test
// signs every (id, timestamp) pair offered, so a delivery whose three
// values are non-empty verifies.
func svixJS(h http.Header) (id string, accepts bool) {
	read := func(svix, std string) string {
		if v, ok := h[svix]; ok {
			return v[0]
		}
		if v, ok := h[std]; ok {
			return v[0]
		}
		return ""
	}
	id = read(verify.SvixIDHeader, verify.StandardIDHeader)
	ts := read(verify.SvixTimestampHeader, verify.StandardTimestampHeader)
	sig := read(verify.SvixSignatureHeader, verify.StandardSignatureHeader)
	return id, id != "" && ts != "" && sig != ""
}
