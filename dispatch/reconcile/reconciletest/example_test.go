package reconciletest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
)

// The server answers Stripe's List Events as Stripe documents it: newest
// first, limit and has_more, starting_after for the next page.
func ExampleServer() {
	srv := reconciletest.NewServer(reconciletest.Config{StripeKey: "sk_test_example"})
	defer srv.Close()
	start := time.Unix(1700000000, 0)
	for i, id := range []string{"evt_1", "evt_2", "evt_3"} {
		srv.AddStripeEvent(reconciletest.StripeEvent(id, "charge.refunded", start.Add(time.Duration(i)*time.Second), `{"id":"ch_1","object":"charge"}`))
	}
	for _, query := range []string{"limit=2", "limit=2&starting_after=evt_2"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/events?"+query, nil)
		req.Header.Set("Authorization", "Bearer sk_test_example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		var list struct {
			HasMore bool `json:"has_more"`
			Data    []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		fmt.Println(query, "->", list.Data, "has_more:", list.HasMore)
	}
	// Output:
	// limit=2 -> [{evt_3} {evt_2}] has_more: true
	// limit=2&starting_after=evt_2 -> [{evt_1}] has_more: false
}
