package crashtest_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/verify/crashtest"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// deliveries are n events signed with secret for the test hosts.
func deliveries(n int, secret string) []crashtest.Delivery {
	out := make([]crashtest.Delivery, n)
	for i := range out {
		id := fmt.Sprintf("evt_%04d", i)
		out[i] = crashtest.Delivery{
			ID:     id,
			Path:   "/webhooks",
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   []byte(`{"id":"` + id + `"}`),
			Signer: verifytest.HMAC{Secret: []byte(secret), Header: hostHeader},
		}
	}
	return out
}

// storm is a configuration that crashes the test host of mode (at least
// three times) while 300 events arrive.
func storm(t *testing.T, mode string, env ...string) crashtest.Config {
	effects := filepath.Join(t.TempDir(), "effects")
	return crashtest.Config{
		Command:    hostCommand(mode, effects, env...),
		Effects:    fileEffects(effects),
		Deliveries: deliveries(300, hostSecret),
		Kills:      3,
		KillAfter:  [2]time.Duration{50 * time.Millisecond, 150 * time.Millisecond},
		Settle:     2 * time.Second,
	}
}

// A host that records its effect and its idempotency record in one write
// before it answers survives every kill: nothing lost, nothing doubled,
// every event acknowledged and counted once.
func TestRunGoodHost(t *testing.T) {
	cfg := storm(t, "good")
	cfg.Seed = 42
	var readyChecks atomic.Int32
	cfg.Ready = func(ctx context.Context, base string) error {
		readyChecks.Add(1)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	res := crashtest.Run(t, cfg)
	if res.Lost != 0 || res.Doubled != 0 || res.Acknowledged != 300 || res.Effects != 300 || res.Sent != 300 {
		t.Errorf("a good host: %v, want 300 sent, acknowledged and effects, 0 lost, 0 doubled", res)
	}
	if res.Kills < 3 || res.Seed != 42 {
		t.Errorf("kills %d, seed %d; want at least 3, and 42", res.Kills, res.Seed)
	}
	if res.Statuses[0] == 0 || res.Attempts <= res.Sent {
		t.Errorf("answers %v in %d attempts: the kills cut no request, and no delivery was retried", res.Statuses, res.Attempts)
	}
	if n := readyChecks.Load(); n < 4 {
		t.Errorf("Ready was asked %d times; want at least once per start (4)", n)
	}
	if !strings.Contains(res.String(), fmt.Sprintf("seed 42: %d kills, 300 sent, 300 acknowledged", res.Kills)) {
		t.Errorf("summary %q", res.String())
	}
}

// A host that answers before it commits loses the events a kill catches
// between the two: the kit counts them lost, by ID.
func TestRunCatchesAnAckBeforeTheCommit(t *testing.T) {
	res := crashtest.Run(t, storm(t, "ackfirst"))
	if res.Lost == 0 || len(res.LostIDs) != res.Lost {
		t.Fatalf("a host that acknowledges before committing: %v; want lost events", res)
	}
	if res.Acknowledged != res.Sent || res.Effects != res.Sent-res.Lost {
		t.Errorf("%v: want every event acknowledged, and an effect for each not lost", res)
	}
}

// A host that commits its effect, then answers, without an idempotency
// record, runs again an event a kill caught between the two: the kit
// counts it doubled.
func TestRunCatchesADoubleRun(t *testing.T) {
	res := crashtest.Run(t, storm(t, "double"))
	if res.Doubled == 0 || len(res.DoubledIDs) != res.Doubled || res.Lost != 0 {
		t.Fatalf("a host that runs a retried event again: %v; want doubled events, none lost", res)
	}
}

// A command that starts the server as its own child ("go run" does) is
// killed with its child: every process it started has ended when Run
// returns, and each restart could take the port again.
func TestRunKillsTheCommandsChildrenToo(t *testing.T) {
	if raceDetector {
		t.Skip("time-bound storm: skipped under the race detector, run by the plain go test work step")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	pids := filepath.Join(t.TempDir(), "pids")
	cfg := storm(t, "wrapper", "CRASHTEST_PIDS="+pids)
	cfg.Kills = 2
	res := crashtest.Run(t, cfg)
	if res.Lost != 0 || res.Doubled != 0 || res.Kills < 2 {
		t.Errorf("%v; want at least 2 kills, 0 lost, 0 doubled", res)
	}
	text, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	children := strings.Fields(string(text))
	if len(children) != res.Kills+1 {
		t.Fatalf("children %v; want one per start (%d)", children, res.Kills+1)
	}
	for _, p := range children {
		pid, err := strconv.Atoi(p)
		if err != nil {
			t.Fatal(err)
		}
		if !processGone(t, pid) {
			t.Errorf("the command's child %d still runs", pid)
		}
	}
}

// recorder is a testing.TB that records the failures Run reports instead
// of failing the test; Fatal ends Run's goroutine, as it would a test's.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.mu.Lock()
	r.fatal = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }
func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// runRecorded runs cfg with a recorder and returns what Run returned (the
// zero Result when it stopped with Fatal) and the failures it reported.
func runRecorded(t *testing.T, cfg crashtest.Config) (crashtest.Result, *recorder) {
	rec := &recorder{TB: t}
	var res crashtest.Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		res = crashtest.Run(rec, cfg)
	}()
	<-done
	return res, rec
}

// failed reports whether one of the failures reported contains each of
// the parts.
func (r *recorder) failed(parts ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errors {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(e, p)
		}
		if all {
			return true
		}
	}
	return false
}

// A configuration that makes no sense is refused before any process
// starts, naming the field.
func TestRunRefusesAConfigurationNamingTheField(t *testing.T) {
	var started atomic.Bool
	valid := func() crashtest.Config {
		return crashtest.Config{
			Command:    func(string) *exec.Cmd { started.Store(true); return exec.Command("false") },
			Effects:    func(context.Context) (map[string]int, error) { return nil, nil },
			Deliveries: deliveries(2, hostSecret),
		}
	}
	for _, c := range []struct {
		name   string
		change func(*crashtest.Config)
		want   string
	}{
		{"no command", func(c *crashtest.Config) { c.Command = nil }, "Command is nil"},
		{"no effects", func(c *crashtest.Config) { c.Effects = nil }, "Effects is nil"},
		{"no deliveries", func(c *crashtest.Config) { c.Deliveries = nil }, "Deliveries is empty"},
		{"an empty ID", func(c *crashtest.Config) { c.Deliveries[1].ID = "" }, "Deliveries[1].ID is empty"},
		{"one ID twice", func(c *crashtest.Config) { c.Deliveries[1].ID = c.Deliveries[0].ID }, `same ID "evt_0000"`},
		{"a URL for a path", func(c *crashtest.Config) { c.Deliveries[0].Path = "http://example.com/webhooks" }, "Deliveries[0].Path"},
		{"negative kills", func(c *crashtest.Config) { c.Kills = -1 }, "negative"},
		{"a backoff upside down", func(c *crashtest.Config) { c.Backoff = [2]time.Duration{time.Second, time.Millisecond} }, "Backoff"},
		{"no first backoff", func(c *crashtest.Config) { c.Backoff = [2]time.Duration{0, time.Second} }, "Backoff"},
		{"kill bounds upside down", func(c *crashtest.Config) { c.KillAfter = [2]time.Duration{time.Second, time.Millisecond} }, "KillAfter"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := valid()
			c.change(&cfg)
			_, rec := runRecorded(t, cfg)
			if !rec.fatal || !rec.failed("crashtest:", c.want) {
				t.Errorf("failures %q (fatal %v); want a fatal one naming %q", rec.errors, rec.fatal, c.want)
			}
		})
	}
	if started.Load() {
		t.Error("a refused configuration started its command")
	}
}

// Deliveries signed with the wrong secret are answered 400, which no
// sender retries: the run says so at once instead of retrying until its
// timeout.
func TestRunReportsADeliveryNoSenderRetries(t *testing.T) {
	cfg := storm(t, "good")
	cfg.Deliveries = deliveries(20, "not the host's secret")
	cfg.Timeout = 10 * time.Minute
	res, rec := runRecorded(t, cfg)
	if !rec.failed(`delivery "evt_00`, "answered 400, which no sender retries", "signature") {
		t.Errorf("failures %q; want the refused delivery reported with its answer", rec.errors)
	}
	// Each delivery is answered 400 once and never sent again; attempts
	// that found the server down (a kill, a restart) had no answer, and a
	// sender retries those.
	if rec.failed("did not end within") || res.Acknowledged != 0 || res.Statuses[http.StatusBadRequest] != 20 {
		t.Errorf("%v, failures %q: want each delivery answered 400 once, and the run over before its timeout", res, rec.errors)
	}
}

// A server that cannot start fails the run with what it printed.
func TestRunReportsAServerThatCannotStart(t *testing.T) {
	cfg := storm(t, "exit")
	_, rec := runRecorded(t, cfg)
	if !rec.fatal || !rec.failed("starting the server", "exited before it was ready", "refusing to start: no database configured") {
		t.Errorf("failures %q; want a fatal one with the server's output", rec.errors)
	}
}

// A storm that cannot end (the server answers 503 to everything) stops at
// its timeout, killing the server until then, and fails the run.
func TestRunStopsAtItsTimeout(t *testing.T) {
	cfg := storm(t, "busy")
	cfg.Deliveries = deliveries(5, hostSecret)
	cfg.Kills = 1
	cfg.Timeout = 2 * time.Second
	res, rec := runRecorded(t, cfg)
	if !rec.failed("did not end within 2s: 0 of 5 events acknowledged") {
		t.Errorf("failures %q; want the timeout reported", rec.errors)
	}
	if res.Kills < 2 || res.Statuses[http.StatusServiceUnavailable] == 0 || res.Lost != 0 {
		t.Errorf("%v", res)
	}
}

// A storm over before its kills proves nothing: the run fails.
func TestRunFailsAStormShorterThanItsKills(t *testing.T) {
	cfg := storm(t, "good")
	cfg.Deliveries = deliveries(1, hostSecret)
	cfg.KillAfter = [2]time.Duration{time.Minute, time.Minute}
	res, rec := runRecorded(t, cfg)
	if !rec.failed("over after 0 kills, before the 3 asked") {
		t.Errorf("failures %q; want the short storm reported", rec.errors)
	}
	if res.Kills != 0 || res.Lost != 0 || res.Effects != 1 {
		t.Errorf("%v", res)
	}
}
