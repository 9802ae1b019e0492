package clitest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
)

// bareEndpointEnv makes the test binary a bare Endpoint server instead of
// running tests (see serveBareEndpoint).
const bareEndpointEnv = "HOOKKIT_CLITEST_BARE_ENDPOINT"

// serveBareEndpoint serves a bare hookkit Endpoint (Stripe's verifier and
// parser, a handler that returns nil, the default in-memory idempotency
// store) on a free loopback port until its standard input closes: the
// server hookkit send measures, in a process of its own so that each
// side's CPU is its own.
func serveBareEndpoint() int {
	v, err := verify.NewStripe(stripeSecret)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	router := dispatch.NewRouter()
	router.HandleFunc("*", func(context.Context, *events.Event) error { return nil })
	endpoint := dispatch.NewEndpoint(v, stripeevent.NewParser(), router,
		dispatch.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: endpoint}
	go srv.Serve(ln)
	fmt.Printf("listening on http://%s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	srv.Close()
	return 0
}

// cpu is a finished process's user and system time.
func cpu(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }

// loadRun is one run of hookkit send against a bare Endpoint.
type loadRun struct {
	deliveries  int
	elapsed     time.Duration // hookkit send's own, start to exit
	rate        float64       // deliveries/s, as send's summary says
	senderCPU   time.Duration
	endpointCPU time.Duration
	summary     string
}

var rateLine = regexp.MustCompile(`(?m)^(\d+) deliveries in \S+ \((\d+)/s\), concurrency \d+: (\d+) × 200$`)

// sendLoad starts a bare Endpoint in its own process, runs
// hookkit send --repeat n --concurrency c --unique against it with a
// recorded Stripe delivery, and returns the rate and each process's CPU.
func sendLoad(tb testing.TB, n, c int) loadRun {
	tb.Helper()
	server := exec.Command(os.Args[0])
	server.Env = append(os.Environ(), bareEndpointEnv+"=1")
	stdin, err := server.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := server.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	server.Stderr = os.Stderr
	if err := server.Start(); err != nil {
		tb.Fatal(err)
	}
	defer func() {
		if server.ProcessState == nil {
			server.Process.Kill() // the process this test started
			server.Wait()
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := readyLine.FindStringSubmatch(line)
	if m == nil {
		tb.Fatalf("the bare Endpoint did not start: %q %v", line, err)
	}
	body := filepath.Join(repoTestdata(), "stripe", "payment_intent.succeeded.json")
	send := exec.Command(hookkitBin, "send", "--scheme", "stripe", "--secret", stripeSecret, "--url", m[1]+"/stripe",
		"--repeat", strconv.Itoa(n), "--concurrency", strconv.Itoa(c), "--unique", body)
	start := time.Now()
	out, err := send.CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		tb.Fatalf("hookkit send: %v\n%s", err, out)
	}
	stdin.Close()
	if err := server.Wait(); err != nil {
		tb.Fatalf("the bare Endpoint: %v", err)
	}
	r := rateLine.FindStringSubmatch(string(out))
	if r == nil || r[1] != strconv.Itoa(n) || r[3] != strconv.Itoa(n) {
		tb.Fatalf("hookkit send did not get %d answers 200:\n%s", n, out)
	}
	rate, _ := strconv.ParseFloat(r[2], 64)
	return loadRun{deliveries: n, elapsed: elapsed, rate: rate, senderCPU: cpu(send.ProcessState), endpointCPU: cpu(server.ProcessState), summary: string(out)}
}

// BenchmarkSendLoad is hookkit's load tool measured against the bare
// Endpoint it loads: hookkit send --repeat 10000 --concurrency 16 of
// distinct recorded Stripe deliveries (2 KiB), each side in its own
// process. It reports the deliveries per second and each process's CPU
// time per delivery (getrusage, user + system): the sender must cost less
// than the server it measures.
//
//	go test -run '^$' -bench SendLoad -benchtime 1x ./cmd/hookkit/clitest
func BenchmarkSendLoad(b *testing.B) {
	const n, c = 10000, 16
	for b.Loop() {
		run := sendLoad(b, n, c)
		b.ReportMetric(run.rate, "deliveries/s")
		b.ReportMetric(float64(run.senderCPU.Microseconds())/n, "sender-cpu-µs/delivery")
		b.ReportMetric(float64(run.endpointCPU.Microseconds())/n, "endpoint-cpu-µs/delivery")
		b.Logf("%s", run.summary)
		if run.senderCPU >= run.endpointCPU {
			b.Errorf("the sender used %s of CPU, the Endpoint %s: the load tool costs more than what it measures", run.senderCPU, run.endpointCPU)
		}
	}
}
