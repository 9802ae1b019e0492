package hotpath_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const secret = "whsec_hotpath_benchmarks"

// senders is how many clients post at once, each on a connection of its
// own, each waiting for its answer before its next delivery.
const senders = 16

// fixtureID is the event ID of the recorded delivery the load is made of.
const fixtureID = "evt_3OdQh2LkdIwHu7ix1Tn5aQ0b"

// deliveries returns n signed HTTP/1.1 requests of the recorded 2 KiB
// payment_intent.succeeded event (compacted, as Stripe sends it), each with
// an event ID of its own, as long as a real one, written in full before
// the load starts so that the senders only write and read.
func deliveries(tb testing.TB, n int) [][]byte {
	tb.Helper()
	raw, err := os.ReadFile("../../testdata/stripe/payment_intent.succeeded.json")
	if err != nil {
		tb.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		tb.Fatal(err)
	}
	template := compact.Bytes()
	if bytes.Count(template, []byte(fixtureID)) != 1 {
		tb.Fatalf("the fixture does not hold its ID %s once", fixtureID)
	}
	var run [6]byte
	rand.Read(run[:])
	prefix := "evt_" + hex.EncodeToString(run[:])
	mac := hmac.New(sha256.New, []byte(secret))
	t := strconv.FormatInt(time.Now().Unix(), 10)
	reqs := make([][]byte, n)
	for i := range reqs {
		id := fmt.Sprintf("%s%0*d", prefix, len(fixtureID)-len(prefix), i)
		body := bytes.Replace(template, []byte(fixtureID), []byte(id), 1)
		mac.Reset()
		mac.Write([]byte(t + "."))
		mac.Write(body)
		var req bytes.Buffer
		fmt.Fprintf(&req, "POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"+
			"Content-Type: application/json; charset=utf-8\r\nStripe-Signature: t=%s,v1=%x\r\nContent-Length: %d\r\n\r\n",
			t, mac.Sum(nil), len(body))
		req.Write(body)
		reqs[i] = req.Bytes()
	}
	return reqs
}

// loadResult is what the senders saw.
type loadResult struct {
	elapsed   time.Duration
	latencies []time.Duration // sorted
}

func (r loadResult) rate() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

func (r loadResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(float64(len(r.latencies))*p))]
}

// post sends reqs to addr from senders concurrent connections and fails
// unless every answer is 200.
func post(tb testing.TB, addr string, reqs [][]byte) loadResult {
	tb.Helper()
	var (
		next      atomic.Int64
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, len(reqs))
		failed    atomic.Value
	)
	conns := make([]net.Conn, senders)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			tb.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	start := time.Now()
	for _, c := range conns {
		wg.Go(func() {
			in := bufio.NewReaderSize(c, 4096)
			mine := make([]time.Duration, 0, len(reqs)/senders+1)
			defer func() {
				mu.Lock()
				latencies = append(latencies, mine...)
				mu.Unlock()
			}()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(reqs)) || failed.Load() != nil {
					return
				}
				sent := time.Now()
				if _, err := c.Write(reqs[i]); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				if err := readAnswer(in); err != nil {
					failed.CompareAndSwap(nil, fmt.Errorf("delivery %d: %w", i, err))
					return
				}
				mine = append(mine, time.Since(sent))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, ok := failed.Load().(error); ok {
		tb.Fatal(err)
	}
	slices.Sort(latencies)
	return loadResult{elapsed: elapsed, latencies: latencies}
}

// readAnswer reads one HTTP/1.1 response and fails unless it is 200.
func readAnswer(in *bufio.Reader) error {
	status, err := in.ReadSlice('\n')
	if err != nil {
		return err
	}
	ok := bytes.HasPrefix(status, []byte("HTTP/1.1 200 "))
	statusLine := ""
	if !ok {
		statusLine = string(bytes.TrimSpace(status)) // ReadSlice's buffer is reused
	}
	length := -1
	for {
		line, err := in.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil {
				return fmt.Errorf("Content-Length: %w", err)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return fmt.Errorf("a %s body: this reader wants a Content-Length", bytes.TrimSpace(value))
		}
	}
	if length < 0 {
		return fmt.Errorf("no Content-Length in the answer %q", statusLine)
	}
	if ok {
		_, err = in.Discard(length)
		return err
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(in, body); err != nil {
		return err
	}
	return fmt.Errorf("%s: %s", statusLine, body)
}

// sendRaw writes one request on a new connection to addr and returns a
// reader of the answer (the connection closes with the test).
func sendRaw(tb testing.TB, addr string, req []byte) *bufio.Reader {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if _, err := c.Write(req); err != nil {
		tb.Fatal(err)
	}
	return bufio.NewReader(c)
}
