package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hookkit/hookkit/events/fixture"
)

// The environment of a backend process a test starts from its own binary
// (TestMain): the database, the address, and the file that holds the
// backend's clock.
const (
	childDBEnv    = "BOOKINGS_TEST_CHILD_DB"
	childAddrEnv  = "BOOKINGS_TEST_CHILD_ADDR"
	childClockEnv = "BOOKINGS_TEST_CHILD_CLOCK"
)

// childHoldSweep is how often a child backend sweeps its holds.
const childHoldSweep = 20 * time.Millisecond

func TestMain(m *testing.M) {
	if dsn := os.Getenv(childDBEnv); dsn != "" {
		os.Exit(serveChild(dsn, os.Getenv(childAddrEnv), os.Getenv(childClockEnv)))
	}
	os.Exit(m.Run())
}

// serveChild runs the backend on dsn and addr, with the demo's secrets
// and the clock read from clockFile, until SIGTERM (or SIGKILL, which is
// the point).
func serveChild(dsn, addr, clockFile string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := openStore(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.close()
	st.setClock(fileClock(clockFile))
	a, err := newApp(ctx, st, config{secrets: demoSecrets, logger: logger, holdSweep: childHoldSweep})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := serve(ctx, a, ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// fileClock is a clock whose time is written in file (RFC 3339), which
// the test rewrites to move it; it panics when the file cannot be read,
// which a test's child must not hide.
func fileClock(file string) func() time.Time {
	return func() time.Time {
		b, err := os.ReadFile(file)
		if err != nil {
			panic(err)
		}
		t, err := time.Parse(time.RFC3339Nano, string(bytes.TrimSpace(b)))
		if err != nil {
			panic(err)
		}
		return t
	}
}

// child is a backend process a test started from its own binary.
type child struct {
	t      *testing.T
	dsn    string
	addr   string
	clock  string
	cmd    *exec.Cmd
	stderr bytes.Buffer
	exited chan struct{}
}

func newChild(t *testing.T, dsn string) *child {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &child{t: t, dsn: dsn, addr: addr, clock: filepath.Join(t.TempDir(), "clock")}
	t.Cleanup(c.kill)
	return c
}

// setClock moves the child's clock to now, atomically (a rename), so that
// the child never reads half a time.
func (c *child) setClock(now time.Time) {
	c.t.Helper()
	tmp := c.clock + ".new"
	if err := os.WriteFile(tmp, []byte(now.UTC().Format(time.RFC3339Nano)), 0o600); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, c.clock); err != nil {
		c.t.Fatal(err)
	}
}

// start starts the backend and waits until it answers HTTP.
func (c *child) start() {
	c.t.Helper()
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childDBEnv+"="+c.dsn, childAddrEnv+"="+c.addr, childClockEnv+"="+c.clock)
	c.stderr.Reset()
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	exited := make(chan struct{})
	c.exited = exited
	go func() { c.cmd.Wait(); close(exited) }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		// Any answer means it serves: GET on a webhook route is 405.
		res, err := client.Get("http://" + c.addr + stripeRoute)
		if err == nil {
			res.Body.Close()
			return
		}
		select {
		case <-exited:
			c.t.Fatalf("the backend exited: %s", c.stderr.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the backend does not serve after 30s: %v\n%s", err, c.stderr.String())
		}
	}
}

// kill sends SIGKILL to the backend's process, by its pid (the process
// this test started, nothing else), and waits until it is gone.
func (c *child) kill() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	select {
	case <-c.exited:
	default:
		c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.exited
	}
	c.cmd = nil
}

// send delivers a recorded delivery, rebooked for booking id, to the
// child over HTTP.
func (c *child) send(name, id, phone string) {
	c.t.Helper()
	f, err := fixture.Read(testdata, name)
	if err != nil {
		c.t.Fatal(err)
	}
	status, err := send(context.Background(), "http://"+c.addr, rebook(f, id, phone), demoSigners()[path.Dir(name)], nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if status != http.StatusOK {
		c.t.Fatalf("%s for booking %s: got %d, want 200", name, id, status)
	}
}

// The two-hour hold across a crash: deposits fail while one backend
// process runs; it is killed with SIGKILL; a new process starts, still
// before the deadline, and one of the deposits arrives; then the clock
// passes the deadline. The booking whose deposit never came is cancelled
// (once), the one paid in time stays confirmed, and a deposit after the
// deadline is flagged for refund, not re-confirmed.
func TestDepositHoldSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the backend as a process, twice")
	}
	for name, open := range databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := open(t)
			failedAt := recordedAt.Add(time.Hour)
			c := newChild(t, dsn)
			c.setClock(failedAt)
			c.start()
			bookings := map[string]string{"unpaid": "+15550002001", "paidintime": "+15550002002", "paidlate": "+15550002003"}
			for id, phone := range bookings {
				c.send("standard/booking.created", id, phone)
				c.send("stripe/payment_intent.payment_failed", id, phone)
			}
			c.kill()

			c.setClock(failedAt.Add(holdDuration - time.Minute))
			c.start()
			c.send("stripe/payment_intent.succeeded", "paidintime", bookings["paidintime"])
			c.setClock(failedAt.Add(holdDuration + time.Minute))

			st, err := openStore(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.close()
			waitFor(t, "the unpaid booking cancelled", 10*time.Second, func() bool {
				b, err := st.booking(context.Background(), "unpaid")
				if err != nil {
					t.Fatal(err)
				}
				return b.Status == "cancelled"
			})
			// The paid-late booking's hold ended too; its deposit arrives
			// now, whether or not a sweep has released it yet.
			c.send("stripe/payment_intent.succeeded", "paidlate", bookings["paidlate"])
			c.kill()

			want := map[string]struct {
				status    string
				refundDue bool
				outbox    []string
			}{
				"unpaid":     {"cancelled", false, []string{"email_payment_failed", "email_hold_released"}},
				"paidintime": {"confirmed", false, []string{"email_payment_failed", "sms_confirmation"}},
				"paidlate":   {"cancelled", true, []string{"email_payment_failed", "email_hold_released", "support_refund_due"}},
			}
			for id, w := range want {
				b, err := st.booking(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if b.Status != w.status || b.RefundDue != w.refundDue || fmt.Sprint(b.Outbox) != fmt.Sprint(w.outbox) {
					t.Errorf("booking %s: got status %q, refund_due %t, outbox %q; want %q, %t, %q",
						id, b.Status, b.RefundDue, b.Outbox, w.status, w.refundDue, w.outbox)
				}
			}
		})
	}
}

// A sweep killed mid-way: many holds end at once, the backend is killed
// with SIGKILL while it releases them, and a new process finishes the job.
// Every booking is cancelled, each customer told once.
func TestHoldSweepKilledMidway(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the backend as a process, twice")
	}
	const held = 100
	for name, open := range databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := open(t)
			failedAt := recordedAt.Add(time.Hour)
			c := newChild(t, dsn)
			c.setClock(failedAt)
			c.start()
			for i := range held {
				id, phone := fmt.Sprintf("swept%02d", i), fmt.Sprintf("+1555000%04d", 3000+i)
				c.send("standard/booking.created", id, phone)
				c.send("stripe/payment_intent.payment_failed", id, phone)
			}
			st, err := openStore(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.close()
			count := func(query string) int {
				var n int
				if err := st.db.QueryRow(query).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			c.setClock(failedAt.Add(holdDuration))
			// Kill as soon as the sweep has begun releasing: the test asks
			// the database without pausing, so the kill lands mid-sweep
			// unless the sweep finished in the meantime (logged).
			for deadline := time.Now().Add(10 * time.Second); count(`SELECT COUNT(*) FROM bookings WHERE status = 'cancelled'`) == 0; {
				if time.Now().After(deadline) {
					t.Fatal("no hold released within 10s of its end")
				}
			}
			c.kill()
			releasedBeforeKill := count(`SELECT COUNT(*) FROM bookings WHERE status = 'cancelled'`)
			c.start()
			waitFor(t, "every hold released", 10*time.Second, func() bool {
				return count(`SELECT COUNT(*) FROM bookings WHERE status = 'cancelled'`) == held
			})
			c.kill()
			if got := count(`SELECT COUNT(*) FROM outbox WHERE kind = 'email_hold_released'`); got != held {
				t.Errorf("customers told their booking was released: got %d, want %d", got, held)
			}
			if got := count(`SELECT COUNT(*) FROM bookings WHERE hold_expired_at IS NULL`); got != 0 {
				t.Errorf("bookings without hold_expired_at: got %d, want 0", got)
			}
			t.Logf("%d of %d released before the kill", releasedBeforeKill, held)
		})
	}
}
