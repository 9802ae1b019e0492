package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookkit/hookkit/internal/integration/crashtest"
)

// The bookings backend's secrets in this test.
const (
	bookingsStripeSecret = "whsec_hookkit_cli_e2e"
	bookingsAPIToken     = "cli-e2e-api-token"
)

// bookingsListening is the log line examples/bookings writes once it
// serves, with its address.
var bookingsListening = regexp.MustCompile(`msg="bookings backend listening" addr=(\S+)`)

// startBookings runs examples/bookings on a free loopback port with a
// SQLite database in dir, and returns its base URL; the process is
// interrupted (by pid) and waited for when the test ends.
func startBookings(t *testing.T, bin, db string) string {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-db", db)
	cmd.Env = append(os.Environ(),
		"STRIPE_WEBHOOK_SECRET="+bookingsStripeSecret,
		"TWILIO_AUTH_TOKEN=cli_e2e_twilio",
		"BOOKINGS_WEBHOOK_SECRET=whsec_Y2xpX2UyZV9ib29raW5nc19zZWNyZXQ=",
		"ETAIL_WEBHOOK_SECRET=cli_e2e_etail",
		"BOOKINGS_API_TOKEN="+bookingsAPIToken,
	)
	stderr, err := cmd.StderrPipe() // its log, where it says it serves
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT) // the process this test started
		cmd.Wait()
	})
	addr := make(chan string, 1)
	var log bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		found := false
		for sc.Scan() {
			if m := bookingsListening.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				addr <- m[1]
			} else if !found {
				log.WriteString(sc.Text() + "\n")
			}
		}
		if !found {
			close(addr)
		}
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("examples/bookings exited before serving:\n%s", log.String())
		}
		return "http://" + a
	case <-time.After(time.Minute):
		t.Fatal("examples/bookings is not serving after a minute")
	}
	return ""
}

// hookkitRun runs the hookkit command and returns its stdout and exit
// status.
func hookkitRun(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOOKKIT_ADMIN_TOKEN="+bookingsAPIToken)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return stdout.String() + stderr.String(), exit.ExitCode()
	case err != nil:
		t.Fatalf("hookkit %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String() + stderr.String(), 0
}

// TestHookkitDeadLettersOverBookings drives examples/bookings, built from
// the workspace, with the hookkit command: trigger sends two Stripe events
// its handlers fail permanently (a deposit for a booking the backend does
// not have, past the senders' retry window; a refund without booking_id),
// and deadletters lists them through the backend's dispatch/admin routes,
// shows one, re-runs it (it fails again, then succeeds once the booking
// exists, and the deposit is then recorded), and discards the other.
func TestHookkitDeadLettersOverBookings(t *testing.T) {
	bookings := crashtest.Build(t, "github.com/hookkit/hookkit/examples/bookings")
	hookkit := crashtest.Build(t, "github.com/hookkit/hookkit/cmd/hookkit")
	db := filepath.Join(t.TempDir(), "bookings.db")
	base := startBookings(t, bookings, db)
	stripeURL := base + "/api/v1/webhooks/stripe/payment-events"
	admin := base + "/dead-letters"

	old := strconv.FormatInt(time.Now().Add(-80*time.Hour).Unix(), 10) // past the 72 h the senders retry for
	out, code := hookkitRun(t, hookkit, "trigger", "payment_intent.succeeded", "--secret", bookingsStripeSecret, "--url", stripeURL,
		"--set", "id=evt_cli_e2e_paid", "--set", "created="+old, "--set", "data.object.metadata.booking_id=bk_cli_e2e")
	if code != 0 {
		t.Fatalf("hookkit's exit code: got %d, want 0: %s", code, out)
	}
	if !regexp.MustCompile(`^200 OK `).MatchString(out) {
		t.Fatalf("hookkit's output: got %q, want it to match %s", out, `^200 OK `)
	}
	out, code = hookkitRun(t, hookkit, "trigger", "charge.refunded", "--secret", bookingsStripeSecret, "--url", stripeURL,
		"--set", "id=evt_cli_e2e_refund", "--set", "data.object.metadata.booking_id-")
	if code != 0 {
		t.Fatalf("hookkit's exit code: got %d, want 0: %s", code, out)
	}

	// Without the token: refused.
	cmd := exec.Command(hookkit, "deadletters", "list", "--admin", admin)
	cmd.Env = append(os.Environ(), "HOOKKIT_ADMIN_TOKEN=wrong")
	denied, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("hookkit with a wrong token: exit 0, want an error: %s", denied)
	}
	if !strings.Contains(string(denied), "the admin API answered 403") {
		t.Fatalf("hookkit with a wrong token: got %q, want it to contain %q", denied, "the admin API answered 403")
	}

	out, code = hookkitRun(t, hookkit, "deadletters", "list", "--admin", admin)
	if code != 0 {
		t.Fatalf("hookkit's exit code: got %d, want 0: %s", code, out)
	}
	if !regexp.MustCompile(`(?m)^stripe:evt_cli_e2e_paid +payment_intent\.succeeded +1 .*no such booking`).MatchString(out) {
		t.Fatalf("hookkit's output: got %q, want it to match %s", out, `(?m)^stripe:evt_cli_e2e_paid +payment_intent\.succeeded +1 .*no such booking`)
	}
	if !regexp.MustCompile(`(?m)^stripe:evt_cli_e2e_refund +charge\.refunded +1 .*no booking_id`).MatchString(out) {
		t.Fatalf("hookkit's output: got %q, want it to match %s", out, `(?m)^stripe:evt_cli_e2e_refund +charge\.refunded +1 .*no booking_id`)
	}

	out, code = hookkitRun(t, hookkit, "deadletters", "list", "--admin", admin, "--json", "--all")
	if code != 0 {
		t.Fatalf("hookkit's exit code: got %d, want 0: %s", code, out)
	}
	var listing struct {
		DeadLetters []struct{ Key, Type string } `json:"dead_letters"`
	}
	if err := json.Unmarshal([]byte(out), &listing); err != nil {
		t.Fatalf("%v: %v", out, err)
	}
	if len(listing.DeadLetters) != 2 {
		t.Fatalf("listing.DeadLetters: got %d items, want %d: %v", len(listing.DeadLetters), 2, listing.DeadLetters)
	}

	out, code = hookkitRun(t, hookkit, "deadletters", "show", "stripe:evt_cli_e2e_paid", "--admin", admin)
	if code != 0 {
		t.Fatalf("hookkit's exit code: got %d, want 0: %s", code, out)
	}
	if !regexp.MustCompile(`(?m)^type: +payment_intent\.succeeded$`).MatchString(out) {
		t.Fatalf("hookkit's output: got %q, want it to match %s", out, `(?m)^type: +payment_intent\.succeeded$`)
	}
	if !strings.Contains(out, `"booking_id": "bk_cli_e2e"`) {
		t.Fatalf("out: got %q, want it to contain %q", out, `"booking_id": "bk_cli_e2e"`)
	}

	// The booking is still missing: the re-run fails again, the letter stays.
	out, code = hookkitRun(t, hookkit, "deadletters", "rerun", "stripe:evt_cli_e2e_paid", "--admin", admin)
	if code != 1 {
		t.Fatalf("%v: got %d, want 1", out, code)
	}
	if !strings.Contains(out, "the handler failed again") {
		t.Fatalf("out: got %q, want it to contain %q", out, "the handler failed again")
	}

	// The operator fixes the cause (the booking now exists) and re-runs it.
	conn, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	now := time.Now().UTC().Format(time.RFC3339)
	_, err = conn.ExecContext(context.Background(), `INSERT INTO bookings (id, customer_phone, status, created_at, updated_at)
		VALUES ('bk_cli_e2e', '+15550001111', 'pending', ?, ?)`, now, now)
	if err != nil {
		t.Fatal(err)
	}
	out, code = hookkitRun(t, hookkit, "deadletters", "rerun", "stripe:evt_cli_e2e_paid", "--admin", admin)
	if code != 0 {
		t.Fatalf("hookkit's exit code: got %d, want 0: %s", code, out)
	}
	if out != "re-ran stripe:evt_cli_e2e_paid\n" {
		t.Fatalf("out: got %q, want %q", out, "re-ran stripe:evt_cli_e2e_paid\n")
	}
	var paid bool
	var status string
	if err := conn.QueryRow(`SELECT deposit_paid, status FROM bookings WHERE id = 'bk_cli_e2e'`).Scan(&paid, &status); err != nil {
		t.Fatal(err)
	}
	if !paid {
		t.Fatalf("the re-run handler recorded the deposit")
	}
	if status != "confirmed" {
		t.Fatalf("status: got %q, want %q", status, "confirmed")
	}

	out, code = hookkitRun(t, hookkit, "deadletters", "discard", "stripe:evt_cli_e2e_refund", "--admin", admin)
	if code != 0 {
		t.Fatalf("hookkit's exit code: got %d, want 0: %s", code, out)
	}
	if out != "discarded stripe:evt_cli_e2e_refund\n" {
		t.Fatalf("out: got %q, want %q", out, "discarded stripe:evt_cli_e2e_refund\n")
	}
	out, code = hookkitRun(t, hookkit, "deadletters", "list", "--admin", admin)
	if code != 0 {
		t.Fatalf("hookkit's exit code: got %d, want 0: %s", code, out)
	}
	if out != "no dead letters\n" {
		t.Fatalf("out: got %q, want %q", out, "no dead letters\n")
	}
}
