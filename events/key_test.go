package events_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// L3 (issue 27): the signed IDs "evt_\ud800" and "evt_\udc00" are two
// events, but both decoded to "evt_\ufffd", one key: the first ran, the
// second was answered as its duplicate and never ran. Through an Endpoint
// each is now a 400 and no handler runs; on the old parser the first was
// 200 and ran, the second 200 "duplicate".
func TestLoneSurrogateIDsAreMalformedAtTheEndpoint(t *testing.T) {
	const secret = "etail_hookkit_fixtures"
	v, err := verify.NewHMAC([]byte(secret), "Etail-Signature")
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("*", func(context.Context, *events.Event) error {
		runs.Add(1)
		return nil
	})
	ep := dispatch.NewEndpoint(v, etailevent.NewParser(), r, dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ep.Shutdown(ctx)
	})
	for _, id := range []string{`evt_\ud800`, `evt_\udc00`, "evt_\xff", `evt_\ud800\u0041`} {
		body := []byte(`{"id":"` + id + `","type":"payment.succeeded","created":1795420851,"data":{"object":{"id":"pay_1","amount":100,"currency":"USD","status":"succeeded"}}}`)
		req := verifytest.NewRequest(verifytest.HMAC{Secret: []byte(secret), Header: "Etail-Signature"}, "/webhooks/etail", body)
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("ID %q: %d %s, want 400", id, rec.Code, strings.TrimSpace(rec.Body.String()))
		}
	}
	if n := runs.Load(); n != 0 {
		t.Errorf("the handler ran %d times for malformed IDs", n)
	}
}
