package crashtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/verify/verifytest"
)

// Config describes a host to crash-test: how to start its server, what its
// senders deliver, and how to count what its handlers did. Zero values
// are defaults; Run refuses a configuration that makes no sense, naming
// the field.
type Config struct {
	// Command returns the command that starts the host's server listening
	// on addr, a free port on 127.0.0.1 the kit chose
	// ("127.0.0.1:41234"). Run calls it for every start, with the same
	// addr. The command runs in a process group of its own (on Unix; see
	// the package documentation), and its output, when Stdout or Stderr
	// is nil, is kept to show when the server fails to start.
	Command func(addr string) *exec.Cmd

	// Ready reports whether the server started at baseURL
	// ("http://127.0.0.1:41234") serves; Run polls it after each start
	// until it returns nil. Nil waits until the port accepts connections,
	// which is enough for a server that listens only once it can serve.
	Ready func(ctx context.Context, baseURL string) error

	// Deliveries are the events the senders deliver, each with an ID of
	// its own, each retried until it is answered 2xx.
	Deliveries []Delivery

	// Effects counts what the host's handlers did, by Delivery.ID: how
	// many times each event took effect (1 is right; 0 for an
	// acknowledged event is a loss; 2 or more is a double). IDs of no
	// delivery are ignored. It must read the host's storage directly (the
	// database the server writes, opened by the test), not through the
	// server: Run calls it while the server runs, to wait for effects
	// that come after the answer, and once more after it stopped the
	// server for good, for the verdict. [QueryEffects] builds one from an
	// SQL query.
	Effects func(ctx context.Context) (map[string]int, error)

	// Senders bounds the deliveries in flight at once (default 8).
	Senders int

	// Backoff is a sender's delay after a failed attempt: Backoff[0]
	// after the first, doubling after each further failure up to
	// Backoff[1] (default 50ms to 1s). Each delay is jittered, between
	// half and the whole of it, as senders spread their retries.
	Backoff [2]time.Duration

	// Kills is the least number of times Run kills the server with
	// SIGKILL and starts it again (default 5). Run kills it at moments
	// drawn from Seed for as long as deliveries remain unacknowledged; a
	// storm over before Kills kills fails the test: give it more
	// deliveries, or a shorter KillAfter.
	Kills int

	// KillAfter bounds how long the server runs, once ready, before each
	// kill: a duration drawn from Seed between KillAfter[0] and
	// KillAfter[1] (default 100ms to 500ms).
	KillAfter [2]time.Duration

	// Seed seeds the kill schedule and every sender's jitter; zero picks
	// one. The seed used is in Result.Seed and in its summary: set it
	// here to run the same schedule again.
	Seed uint64

	// Timeout bounds the storm, kills included, from the first start to
	// the last acknowledgement (default 2 minutes). Deliveries not
	// acknowledged by then fail the test.
	Timeout time.Duration

	// Settle bounds how long, once every delivery is acknowledged, Run
	// waits for each acknowledged event's effect before it stops the
	// server: the time the host needs to finish what it acknowledged
	// before doing it, a durable queue's workers say (default 15s). A
	// host whose effects precede its answer never waits.
	Settle time.Duration

	// StartTimeout bounds each start, from the command's start to Ready
	// (default 30s).
	StartTimeout time.Duration

	// RequestTimeout is a sender's timeout for one attempt (default 10s).
	RequestTimeout time.Duration
}

// Delivery is one event as its sender delivers it: a POST of Body to Path
// on the server, signed afresh by Signer for every attempt, as a sender
// signs each retry with a new timestamp.
type Delivery struct {
	// ID names the event in the counts Config.Effects returns: the event
	// ID the host records (or derives) for it.
	ID string
	// Path is the webhook route ("/webhooks/stripe", with a query if the
	// sender adds one); the kit sends it to the server's loopback
	// address, never elsewhere.
	Path string
	// Header is sent with every attempt (Content-Type, say); the
	// signer's headers replace any of the same name.
	Header http.Header
	// Body is sent byte for byte.
	Body []byte
	// Signer signs every attempt (verifytest.Stripe, verifytest.Standard
	// with a fixed ID, ...). Nil sends Header as it is.
	Signer verifytest.Signer
}

// Result is what a run saw: what the senders were told, and what the
// host's effects say.
type Result struct {
	// Seed is the seed of the kill schedule and the senders' jitter.
	Seed uint64
	// Kills is how many times the server was killed mid-storm.
	Kills int
	// Sent is how many events the senders delivered (len(Deliveries)).
	Sent int
	// Attempts is how many requests they made, retries included.
	Attempts int
	// Acknowledged is how many events were answered 2xx.
	Acknowledged int
	// Effects is the sum of the effect counts of the events delivered.
	Effects int
	// Lost is how many acknowledged events have no effect: their sender
	// was told 200 and will never send them again.
	Lost int
	// Doubled is how many events took effect more than once.
	Doubled int
	// LostIDs and DoubledIDs are their IDs, sorted.
	LostIDs, DoubledIDs []string
	// Statuses counts the answers by status code; 0 counts the requests
	// that got no answer (the server was dead, or died mid-request).
	Statuses map[int]int
	// Duration is how long the run took, the settling included.
	Duration time.Duration
}

// String is a one-line summary of r.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "crashtest: seed %d: %d kills, %d sent, %d acknowledged in %d attempts, %d effects: %d lost, %d doubled (%v)",
		r.Seed, r.Kills, r.Sent, r.Acknowledged, r.Attempts, r.Effects, r.Lost, r.Doubled, r.Duration.Round(100*time.Millisecond))
	if len(r.Statuses) > 0 {
		b.WriteString("; answers")
		for _, status := range slices.Sorted(maps.Keys(r.Statuses)) {
			if status == 0 {
				fmt.Fprintf(&b, " none×%d", r.Statuses[status])
			} else {
				fmt.Fprintf(&b, " %d×%d", status, r.Statuses[status])
			}
		}
	}
	if r.Lost > 0 {
		fmt.Fprintf(&b, "; lost %s", someIDs(r.LostIDs))
	}
	if r.Doubled > 0 {
		fmt.Fprintf(&b, "; doubled %s", someIDs(r.DoubledIDs))
	}
	return b.String()
}

// someIDs lists the first few of ids.
func someIDs(ids []string) string {
	if len(ids) <= 5 {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:5], ", ") + fmt.Sprintf(" and %d more", len(ids)-5)
}

// Run starts the host's server, storms it with cfg's deliveries while it
// kills the server with SIGKILL at seeded random moments (until every
// delivery is acknowledged, at least Kills times) and starts it again,
// waits (up to Settle) for the effect of every acknowledged event,
// stops the server, counts the effects and returns the verdict. It logs
// the verdict's summary. It fails t when the configuration is refused, the
// server cannot be started, a delivery is refused for good (a 4xx other
// than 408, 409, 425 and 429: a wrong secret or route, not a crash), the
// storm outlasts Timeout, or it ended before Kills kills; the effects are
// the caller's to judge:
//
//	if res := crashtest.Run(t, cfg); res.Lost > 0 || res.Doubled > 0 {
//		t.Error(res)
//	}
func Run(t testing.TB, cfg Config) Result {
	t.Helper()
	if err := cfg.setDefaults(); err != nil {
		t.Fatalf("crashtest: %v", err)
	}
	began := time.Now()
	srv := newServer(t, &cfg)
	t.Cleanup(srv.stop)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	if err := srv.start(ctx); err != nil {
		t.Fatalf("crashtest: starting the server: %v", err)
	}

	st := newStorm(&cfg, srv.baseURL())
	defer st.close()
	stormed := make(chan struct{})
	go func() { st.run(ctx); close(stormed) }()
	kills := killLoop(t, ctx, &cfg, srv, stormed)
	<-stormed

	res := Result{Seed: cfg.Seed, Kills: kills, Sent: len(cfg.Deliveries)}
	res.Attempts, res.Statuses = st.counts()
	acked := st.acknowledged()
	for _, ok := range acked {
		if ok {
			res.Acknowledged++
		}
	}
	refusals, unfinished := st.refusals()
	for _, msg := range refusals {
		t.Errorf("crashtest: %s", msg)
	}
	if unfinished > 0 {
		t.Errorf("crashtest: the storm did not end within %v: %d of %d events acknowledged; the server's output ends:\n%s",
			cfg.Timeout, res.Acknowledged, res.Sent, srv.output())
	}
	if kills < cfg.Kills && unfinished == 0 {
		t.Errorf("crashtest: the storm was over after %d kills, before the %d asked: give it more deliveries, or a shorter KillAfter",
			kills, cfg.Kills)
	}

	settle(&cfg, acked)
	srv.stop() // nothing changes the host's storage from here on
	countCtx, cancelCount := context.WithTimeout(context.Background(), time.Minute)
	defer cancelCount()
	counts, err := cfg.Effects(countCtx)
	if err != nil {
		t.Fatalf("crashtest: counting the effects: %v", err)
	}
	judge(&res, cfg.Deliveries, acked, counts)
	res.Duration = time.Since(began)
	t.Log(res.String())
	return res
}

// killLoop kills the server at seeded random moments, starting it again
// after each kill, until the storm ends or ctx does; it returns how many
// kills it made.
func killLoop(t testing.TB, ctx context.Context, cfg *Config, srv *server, stormed <-chan struct{}) int {
	t.Helper()
	schedule := rand.New(rand.NewPCG(cfg.Seed, scheduleStream))
	kills := 0
	for {
		timer := time.NewTimer(between(schedule, cfg.KillAfter[0], cfg.KillAfter[1]))
		select {
		case <-stormed:
			timer.Stop()
			return kills
		case <-ctx.Done():
			timer.Stop()
			return kills
		case <-srv.exited():
			timer.Stop()
			// Not a kill of ours: the host crashed by itself. Its
			// senders retry; start it again, and say so.
			t.Errorf("crashtest: the server exited by itself; its output ends:\n%s", srv.output())
			srv.kill()
		case <-timer.C:
			srv.kill()
			kills++
		}
		if err := srv.start(ctx); err != nil {
			if ctx.Err() != nil {
				return kills
			}
			t.Fatalf("crashtest: starting the server again after kill %d: %v", kills, err)
		}
	}
}

// settle waits, up to cfg.Settle, until every acknowledged event has an
// effect: a host may finish after it answered (a durable queue's
// workers). Errors while it waits (a busy database) are left to the final
// count to report.
func settle(cfg *Config, acked []bool) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Settle)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		counts, err := cfg.Effects(ctx)
		if err == nil && allHaveEffect(cfg.Deliveries, acked, counts) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func allHaveEffect(deliveries []Delivery, acked []bool, counts map[string]int) bool {
	for i, d := range deliveries {
		if acked[i] && counts[d.ID] == 0 {
			return false
		}
	}
	return true
}

// judge fills res's effect counts, losses and doubles.
func judge(res *Result, deliveries []Delivery, acked []bool, counts map[string]int) {
	for i, d := range deliveries {
		n := counts[d.ID]
		res.Effects += n
		if acked[i] && n == 0 {
			res.LostIDs = append(res.LostIDs, d.ID)
		}
		if n > 1 {
			res.DoubledIDs = append(res.DoubledIDs, d.ID)
		}
	}
	slices.Sort(res.LostIDs)
	slices.Sort(res.DoubledIDs)
	res.Lost, res.Doubled = len(res.LostIDs), len(res.DoubledIDs)
}

// scheduleStream is the PCG stream of the kill schedule; each delivery's
// jitter has the stream of its index.
const scheduleStream = ^uint64(0)

// between draws a duration in [lo, hi].
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// Errors of a Config Run refuses.
var errConfig = errors.New("invalid Config")

// setDefaults fills the zero fields and refuses nonsense, naming the field.
func (c *Config) setDefaults() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{errConfig}, args...)...)
	}
	switch {
	case c.Command == nil:
		return bad("Command is nil: it starts the host's server")
	case c.Effects == nil:
		return bad("Effects is nil: it counts what the host did")
	case len(c.Deliveries) == 0:
		return bad("Deliveries is empty")
	case c.Senders < 0, c.Kills < 0, c.Timeout < 0, c.Settle < 0, c.StartTimeout < 0, c.RequestTimeout < 0,
		c.Backoff[0] < 0, c.Backoff[1] < 0, c.KillAfter[0] < 0, c.KillAfter[1] < 0:
		return bad("a negative count or duration (Senders, Kills, Timeout, Settle, StartTimeout, RequestTimeout, Backoff, KillAfter)")
	}
	ids := make(map[string]int, len(c.Deliveries))
	for i, d := range c.Deliveries {
		switch {
		case d.ID == "":
			return bad("Deliveries[%d].ID is empty", i)
		case !strings.HasPrefix(d.Path, "/"):
			return bad("Deliveries[%d].Path %q is not a path: the kit sends only to the server it started", i, d.Path)
		}
		if j, dup := ids[d.ID]; dup {
			return bad("Deliveries[%d] and [%d] have the same ID %q: each event is counted by its ID", j, i, d.ID)
		}
		ids[d.ID] = i
	}
	c.Senders = orDefault(c.Senders, 8)
	c.Kills = orDefault(c.Kills, 5)
	c.Timeout = orDefault(c.Timeout, 2*time.Minute)
	c.Settle = orDefault(c.Settle, 15*time.Second)
	c.StartTimeout = orDefault(c.StartTimeout, 30*time.Second)
	c.RequestTimeout = orDefault(c.RequestTimeout, 10*time.Second)
	if c.Backoff == [2]time.Duration{} {
		c.Backoff = [2]time.Duration{50 * time.Millisecond, time.Second}
	}
	if c.KillAfter == [2]time.Duration{} {
		c.KillAfter = [2]time.Duration{100 * time.Millisecond, 500 * time.Millisecond}
	}
	switch {
	case c.Backoff[0] == 0 || c.Backoff[1] < c.Backoff[0]:
		return bad("Backoff %v: want a first delay above zero and a longest one at least as long", c.Backoff)
	case c.KillAfter[1] < c.KillAfter[0]:
		return bad("KillAfter %v: the first bound is above the second", c.KillAfter)
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64() | 1 // never zero, which would mean "pick one" when set again
	}
	return nil
}

// orDefault returns v, or def when v is zero.
func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}
