package crashtest_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookkit/hookkit/verify/crashtest"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// A host's test proves its payments server loses and doubles nothing when
// it is killed mid-storm. The server (its main package in ./cmd/payments)
// takes -addr and -db flags and its Stripe secret from the environment,
// and records each payment_intent.succeeded event's effect as a row of
// its payments table, with the event's ID.
func Example() {
	// In a host's test, t is the test's own *testing.T.
	t := &testing.T{}

	bin := crashtest.Build(t, "./cmd/payments")
	dsn := filepath.Join(t.TempDir(), "payments.db")
	db, err := sql.Open("sqlite", dsn) // with the host's SQLite driver imported
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	const secret = "whsec_crash_test"
	var deliveries []crashtest.Delivery
	for i := range 300 {
		id := fmt.Sprintf("evt_crash_%03d", i)
		deliveries = append(deliveries, crashtest.Delivery{
			ID:     id,
			Path:   "/webhooks/stripe",
			Header: http.Header{"Content-Type": {"application/json"}},
			Body: fmt.Appendf(nil, `{"id":%q,"type":"payment_intent.succeeded","created":%d,"data":{"object":{"id":"pi_%03d"}}}`,
				id, time.Now().Unix(), i),
			Signer: verifytest.Stripe{Secret: secret}, // a fresh signature for every attempt
		})
	}
	res := crashtest.Run(t, crashtest.Config{
		Command: func(addr string) *exec.Cmd {
			cmd := exec.Command(bin, "-addr", addr, "-db", dsn)
			cmd.Env = append(os.Environ(), "STRIPE_WEBHOOK_SECRET="+secret)
			return cmd
		},
		Deliveries: deliveries,
		Effects:    crashtest.QueryEffects(db, `SELECT event_id, COUNT(*) FROM payments GROUP BY event_id`),
	})
	if res.Lost > 0 || res.Doubled > 0 {
		t.Errorf("%v", res)
	}
}
