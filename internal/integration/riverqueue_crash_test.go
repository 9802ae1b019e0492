package integration_test

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hookkit/hookkit/internal/integration/crashtest"
	crashkit "github.com/hookkit/hookkit/verify/crashtest"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// recoveryBound is how soon after a crash every acknowledged event's
// effect must be there.
const recoveryBound = 15 * time.Second

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
		if err := db.QueryRow(`SELECT COUNT(*) FROM effects WHERE event_id = $1`, fmt.Sprintf("evt_callback_%03d", i)).Scan(&c); err != nil {
			t.Fatal(err)
		}
		byCount[c]++
	}
	return byCount
}

// TestRiverQueueCrash kills a real host process with SIGKILL at random
// moments, at least five times, while 150 callbacks (450 on SQLite) arrive
// from senders that retry each until answered 200. Every acknowledged
// callback is a River job; after the last restart the workers (and River's
// rescuer, for jobs a kill interrupted) run them all, within 15 s, and each
// effect is there exactly once. No delivery is ever answered 409: River's
// unique insert answers a duplicate 200 at once.
func TestRiverQueueCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for a minute")
	}
	bin := crashtest.Build(t, "github.com/hookkit/hookkit/internal/integration/crashhost")
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			dsn, db := crashDatabase(t, name)
			// SQLite acknowledges fast enough (group commit) that 150
			// callbacks can be done before the fifth kill: send more.
			n := 150
			if name == "sqlite" {
				n = 450
			}
			// The host is up again after its last kill: every
			// acknowledged callback's effect must be there within 15 s
			// (Settle). Jobs a kill left running are retried by hookkit's
			// sweep within seconds; River's own rescue alone takes over a
			// minute.
			res := crashkit.Run(t, crashkit.Config{
				Command:    crashHost(bin, "-db", dsn, "-mode", "river", "-effects", "effects"),
				Deliveries: stormOf("evt_callback_%03d", n),
				Effects:    countEffects(db, "effects"),
				Senders:    2,
				KillAfter:  [2]time.Duration{80 * time.Millisecond, 300 * time.Millisecond},
				Timeout:    3 * time.Minute,
				Settle:     recoveryBound,
			})
			if !(res.Acknowledged == n && res.Lost == 0 && res.Doubled == 0) {
				t.Errorf("every acknowledged callback processed within %s of the last restart, exactly once: %v", recoveryBound, res)
			}
			if res.Statuses[http.StatusConflict] != 0 {
				t.Errorf("no delivery was ever answered 409: got %d, want 0", res.Statuses[http.StatusConflict])
			}
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
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// It acknowledges as fast as it can read: a longer storm and quicker
	// kills, so that they land while its memory holds a backlog. The last
	// process has 3 s to drain what it holds.
	res := crashkit.Run(t, crashkit.Config{
		Command:    crashHost(bin, "-db", dsn, "-mode", "memory", "-effects", "effects"),
		Deliveries: stormOf("evt_callback_%03d", 600),
		Effects:    countEffects(db, "effects"),
		Senders:    2,
		Kills:      2,
		KillAfter:  [2]time.Duration{50 * time.Millisecond, 150 * time.Millisecond},
		Settle:     3 * time.Second,
	})
	if res.Lost <= 0 {
		t.Errorf("acknowledged callbacks lost with the process: got %d, want some (%v)", res.Lost, res)
	}
	if res.Effects <= 0 {
		t.Errorf("callbacks the memory queue ran: got %d, want some, those no kill caught (%v)", res.Effects, res)
	}
}

// crashDatabase opens a fresh database for crash hosts: a SQLite file, or
// a PostgreSQL schema of the test's own.
func crashDatabase(t *testing.T, name string) (dsn string, db *sql.DB) {
	t.Helper()
	var err error
	if name == "sqlite" {
		dsn = filepath.Join(t.TempDir(), "crash.db")
		db, err = sql.Open("sqlite", dsn+"?_pragma=busy_timeout(10000)")
	} else {
		dsn = postgresSchemaURL(t)
		db, err = sql.Open("pgx", dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return dsn, db
}

func jobState(t *testing.T, db *sql.DB) (state string, attempt int) {
	t.Helper()
	err := db.QueryRow(`SELECT state, attempt FROM river_job WHERE kind = 'hookkit.webhook'`).Scan(&state, &attempt)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return state, attempt
}

// A worker paused in the middle of a handler (SIGSTOP, for longer than the
// sweep's grace and the liveness timeout, while another replica sweeps)
// keeps its job: when it resumes (SIGCONT) it commits the one effect, and
// nobody ran the job beside it.
func TestRiverQueuePausedWorkerCommitsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("pauses a process for seconds")
	}
	bin := crashtest.Build(t, "github.com/hookkit/hookkit/internal/integration/crashhost")
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			dsn, db := crashDatabase(t, name)
			a := crashtest.NewHost(t, bin, "-db", dsn, "-mode", "river", "-effects", "effects", "-work", "3s")
			a.Start()
			if got := a.Send(callbacks(1)[0]); got != http.StatusOK {
				t.Fatalf("the callback: got %d, want %d", got, http.StatusOK)
			}
			waitFor(t, "the job running on a", 10*time.Second, func() bool { s, _ := jobState(t, db); return s == "running" })
			b := crashtest.NewHost(t, bin, "-db", dsn, "-mode", "river", "-effects", "effects")
			b.Start()
			a.Pause()
			time.Sleep(8 * time.Second) // past the grace (2 s) and the liveness timeout (5 s), eight sweeps of b's
			a.Resume()
			waitFor(t, "the job completed", 20*time.Second, func() bool { s, _ := jobState(t, db); return s == "completed" })
			_, attempt := jobState(t, db)
			if got, want := effectCounts(t, db, 1), (map[int]int{1: 1}); !reflect.DeepEqual(got, want) {
				t.Errorf("one effect: got %v, want %v", got, want)
			}
			if attempt != 1 {
				t.Errorf("one attempt: the paused one, never rescued: got %d, want 1", attempt)
			}
		})
	}
}

// Two replicas on one PostgreSQL; one is killed (SIGKILL) with jobs
// running and queued, and never comes back: the survivor finishes them all
// within 15 s.
func TestRiverQueueSurvivorFinishesADeadReplicasJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a process")
	}
	bin := crashtest.Build(t, "github.com/hookkit/hookkit/internal/integration/crashhost")
	dsn, db := crashDatabase(t, "postgres")
	doomed := crashtest.NewHost(t, bin, "-db", dsn, "-mode", "river", "-effects", "effects", "-work", "500ms")
	survivor := crashtest.NewHost(t, bin, "-db", dsn, "-mode", "river", "-effects", "effects", "-work", "500ms")
	doomed.Start()
	const n = 60
	deliveries := callbacks(n)
	for _, d := range deliveries {
		if got := doomed.Send(d); got != http.StatusOK {
			t.Fatalf("a callback to the doomed replica: got %d, want %d", got, http.StatusOK)
		}
	}
	waitFor(t, "jobs running on the doomed replica", 10*time.Second, func() bool {
		var running int
		if err := db.QueryRow(`SELECT count(*) FROM river_job WHERE state = 'running'`).Scan(&running); err != nil {
			t.Fatal(err)
		}
		return running > 0
	})
	survivor.Start()
	doomed.Kill()
	start := time.Now()
	waitFor(t, fmt.Sprintf("the survivor finishes every job within %s", recoveryBound), recoveryBound, func() bool { return effectCounts(t, db, n)[1] == n })
	t.Logf("all %d effects %v after the kill", n, time.Since(start).Round(100*time.Millisecond))
	waitIdle(t, db) // a job run twice would have shown by now
	if got, want := effectCounts(t, db, n), (map[int]int{1: n}); !reflect.DeepEqual(got, want) {
		t.Errorf("each exactly once: got %v, want %v", got, want)
	}
}
