package verify_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/verify"
)

// firstRead calls arrived once, on the first Read of the body it wraps:
// ReadBody has by then allocated whatever it allocates before the bytes.
type firstRead struct {
	io.ReadCloser
	once    sync.Once
	arrived func()
}

func (f *firstRead) Read(p []byte) (int, error) {
	f.once.Do(f.arrived)
	return f.ReadCloser.Read(p)
}

// A declared Content-Length is not a reservation: 1,000 connections that
// each declare a megabyte and send one byte make ReadBody hold a few
// kilobytes each, not the megabyte (the attack that took a host from 24 MiB
// to 2.8 GiB in 8 s). Before the fix the heap grew by about 1 GiB here.
func TestDeclaredLengthIsNotAReservation(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	const (
		conns    = 1000
		declared = verify.DefaultMaxBodyBytes
		// The bound: 16 KiB of first buffer per connection plus net/http's
		// own per-connection buffers, with room to spare; the old
		// allocation alone was 1,000 MiB.
		maxHeapGrowth = 96 << 20
	)
	v, err := verify.NewHMAC([]byte("k"), "X-Sig")
	if err != nil {
		t.Fatal(err)
	}

	var arrived sync.WaitGroup
	arrived.Add(conns)
	mw := verify.Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &firstRead{ReadCloser: r.Body, arrived: arrived.Done}
		mw.ServeHTTP(w, r)
	}))
	defer srv.Close()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	clients := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	head := fmt.Sprintf("POST /hook HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{",
		srv.Listener.Addr(), declared)
	for range conns {
		c, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
	}
	waitGroupOrFail(t, &arrived, 30*time.Second)

	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	growth := int64(during.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew %.1f MiB for %d connections declaring %d bytes", float64(growth)/(1<<20), conns, declared)
	if growth >= maxHeapGrowth {
		t.Errorf("the declared lengths were allocated up front: the heap grew %d bytes, want under %d", growth, maxHeapGrowth)
	}
}

func waitGroupOrFail(t *testing.T, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("the server did not start reading every body within %s", d)
	}
}

// A body that arrives in pieces is read whole, whether its length was
// declared or not, and one past the limit is refused either way.
func TestReadBodyGrowsAsBytesArrive(t *testing.T) {
	for _, size := range []int{0, 1, 1500, 16 << 10, 16<<10 + 1, 100_000, verify.DefaultMaxBodyBytes} {
		for _, declared := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d-declared-%v", size, declared), func(t *testing.T) {
				body := bytes.Repeat([]byte("x"), size)
				r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(bytes.NewReader(body[:size/2]), bytes.NewReader(body[size/2:])))
				r.ContentLength = int64(size)
				if !declared {
					r.ContentLength = -1
				}
				got, err := verify.ReadBody(nil, r, 0)
				if err != nil {
					t.Fatal(err)
				}
				// Never nil, not even for an empty body.
				if got == nil || !bytes.Equal(got, body) {
					t.Errorf("got %d bytes (nil: %v), want the %d sent", len(got), got == nil, len(body))
				}
			})
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 20_001)))
	r.ContentLength = -1
	if _, err := verify.ReadBody(nil, r, 20_000); !errors.Is(err, verify.ErrBodyTooLarge) {
		t.Errorf("one byte past the limit: got %v, want %v", err, verify.ErrBodyTooLarge)
	}
}

// A typical event (1.5 KB, its length declared) is read with at most two
// allocations: the buffer and the limiting reader.
func TestReadBodyAllocations(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 1500)
	rd := bytes.NewReader(body)
	r := httptest.NewRequest(http.MethodPost, "/", rd)
	rc := io.NopCloser(rd)
	allocs := testing.AllocsPerRun(100, func() {
		rd.Reset(body)
		r.Body = rc
		r.ContentLength = int64(len(body))
		if _, err := verify.ReadBody(nil, r, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("got %v allocations per read, want at most 2", allocs)
	}
}
