package integration_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/internal/integration/crashtest"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// callbacks are n distinct events, signed for the crash host.
func callbacks(n int) []crashtest.Delivery {
	deliveries := make([]crashtest.Delivery, n)
	for i := range deliveries {
		body := []byte(fmt.Sprintf(`{"id":"evt_callback_%03d","type":"payment_intent.succeeded","created":1795420800,"data":{"object":{}}}`, i))
		h := http.Header{"Content-Type": {"application/json"}}
		h.Set("Stripe-Signature", verifytest.Stripe{Secret: "whsec_crash_tests"}.Header(body))
		deliveries[i] = crashtest.Delivery{Path: "/webhooks/stripe", Header: h, Body: body}
	}
	return deliveries
}

// effectCounts returns, for n callbacks, how many had 0, 1, 2... effects.
func effectCounts(t *testing.T, db *sql.DB, n int) map[int]int {
	byCount := map[int]int{}
	for i := range n {
		var c int
		require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM effects WHERE event_id = $1`, fmt.Sprintf("evt_callback_%03d", i)).Scan(&c))
		byCount[c]++
	}
	return byCount
}

// TestCrash kills a real host process with SIGKILL at random moments, at
// least five times, while 150 callbacks arrive from senders that retry
// each until answered 200. Every acknowledged callback is a River job; after
// the last restart the workers (and River's rescuer, for jobs a kill
// interrupted) run them all, and each effect is there exactly once. No
// delivery is ever answered 409: River's unique insert answers a duplicate
// 200 at once.
func TestRiverQueueCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for a minute")
	}
	bin := crashtest.Build(t, "github.com/hookkit/hookkit/internal/integration/crashhost")
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var dsn string
			var db *sql.DB
			var err error
			if name == "sqlite" {
				dsn = filepath.Join(t.TempDir(), "crash.db")
				db, err = sql.Open("sqlite", dsn+"?_pragma=busy_timeout(10000)")
			} else {
				dsn = postgresSchemaURL(t)
				db, err = sql.Open("pgx", dsn)
			}
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			host := crashtest.NewHost(t, bin, "-db", dsn, "-mode", "river", "-effects", "effects")
			host.Start()

			const n = 150
			deliveries := callbacks(n)
			res := crashtest.Storm(t, host, deliveries, crashtest.Options{Senders: 2, KillAfter: [2]time.Duration{80 * time.Millisecond, 300 * time.Millisecond}})

			count := func() map[int]int { return effectCounts(t, db, n) }
			start := time.Now()
			require.Eventually(t, func() bool { return count()[1] == n }, 2*time.Minute, 250*time.Millisecond,
				"every acknowledged callback processed after the last restart")
			t.Logf("%d kills; answers %v; all %d processed %v after the storm", res.Kills, res.Answers, n, time.Since(start).Round(100*time.Millisecond))
			time.Sleep(time.Second)
			assert.Equal(t, map[int]int{1: n}, count(), "each effect exactly once")
			assert.Zero(t, res.Answers[http.StatusConflict], "no delivery was ever answered 409")
		})
	}
}

// The same storm on the in-memory queue hookkit removed (claim, keep in
// memory, answer 200) loses acknowledged callbacks: the senders were told
// 200 and never send them again. The test catches what River prevents.
func TestRiverQueueCrashCatchesTheMemoryQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	bin := crashtest.Build(t, "github.com/hookkit/hookkit/internal/integration/crashhost")
	dsn := filepath.Join(t.TempDir(), "crash.db")
	db, err := sql.Open("sqlite", dsn+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	host := crashtest.NewHost(t, bin, "-db", dsn, "-mode", "memory", "-effects", "effects")
	host.Start()
	// It acknowledges as fast as it can read: a longer storm and quicker
	// kills, so that they land while its memory holds a backlog.
	const n = 600
	res := crashtest.Storm(t, host, callbacks(n), crashtest.Options{Senders: 2, MinKills: 2,
		KillAfter: [2]time.Duration{50 * time.Millisecond, 150 * time.Millisecond}})
	time.Sleep(3 * time.Second) // the last process drains what it holds
	counts := effectCounts(t, db, n)
	t.Logf("%d kills; answers %v; callbacks by number of effects %v", res.Kills, res.Answers, counts)
	assert.Positive(t, counts[0], "acknowledged callbacks were lost with the process")
}
