package redisstore_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/redisstore"
)

// replyDropper is a TCP proxy in front of Redis. Armed with a marker, it
// forwards the next command that contains the marker (so Redis runs it) and
// then drops Redis's reply and the client's connection, as a network that
// loses a reply would. go-redis sees EOF and retries the same command, with
// the same arguments, on a fresh connection.
type replyDropper struct {
	ln      net.Listener
	backend string
	marker  atomic.Pointer[[]byte]
	dropped atomic.Int32
	wg      sync.WaitGroup
}

func newReplyDropper(t *testing.T, backend string) *replyDropper {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyDropper{ln: ln, backend: backend}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *replyDropper) arm(marker string) {
	m := []byte(marker)
	p.marker.Store(&m)
}

func (p *replyDropper) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.backend)
		if err != nil {
			client.Close()
			continue
		}
		var dropNext atomic.Bool
		p.wg.Add(2)
		go func() { // client → Redis
			defer p.wg.Done()
			defer server.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := client.Read(buf)
				if n > 0 {
					if m := p.marker.Load(); m != nil && bytes.Contains(buf[:n], *m) && p.marker.CompareAndSwap(m, nil) {
						dropNext.Store(true)
					}
					if _, werr := server.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() { // Redis → client
			defer p.wg.Done()
			defer client.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := server.Read(buf)
				if n > 0 && dropNext.Load() {
					p.dropped.Add(1)
					return // Redis ran the command; its reply is lost with the connection
				}
				if n > 0 {
					if _, werr := client.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					if err != io.EOF {
						return
					}
					return
				}
			}
		}()
	}
}

// A claim whose reply is lost is retried by go-redis; the retry finds the
// key holding the caller's own token and must answer Acquired, not Busy
// (which would block the event for the whole lease).
func TestRedisStoreLostReply(t *testing.T) {
	direct := newClient(t, nil)
	prefix := testPrefix(t, direct)
	proxy := newReplyDropper(t, direct.Options().Addr)
	client := redis.NewClient(&redis.Options{Addr: proxy.ln.Addr().String(), MaxRetries: 3})
	t.Cleanup(func() { client.Close() })
	s := newStore(t, client, redisstore.Config{Prefix: prefix})

	// Load the scripts first, so each operation is one EVALSHA.
	c, err := s.Claim(ctx, "warm", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "warm", c.Token, time.Hour); err != nil {
		t.Fatal(err)
	}

	proxy.arm(prefix + "lost-claim")
	c, err = s.Claim(ctx, "lost-claim", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := proxy.dropped.Load(); got != 1 {
		t.Fatalf("the first reply was dropped: got %d, want 1", got)
	}
	if c.State != idempotency.Acquired {
		t.Errorf("the retried claim found its own lease: got %v, want %v", c.State, idempotency.Acquired)
	}

	// A retried completion is a second Complete: ErrLeaseLost, as the
	// contract says, with the key completed by the first.
	proxy.arm(prefix + "lost-claim")
	if err := s.Complete(ctx, "lost-claim", c.Token, time.Hour); !errors.Is(err, idempotency.ErrLeaseLost) {
		t.Fatalf("Complete after the lost reply: got %v, want %v", err, idempotency.ErrLeaseLost)
	}
	if got := proxy.dropped.Load(); got != 2 {
		t.Fatalf("replies dropped: got %d, want 2", got)
	}
	again, err := s.Claim(ctx, "lost-claim", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if again.State != idempotency.Completed {
		t.Errorf("again.State: got %v, want %v", again.State, idempotency.Completed)
	}

	// Another holder's token is still another holder's.
	other, err := s.Claim(ctx, "held", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if other.State != idempotency.Acquired {
		t.Fatalf("other.State: got %v, want %v", other.State, idempotency.Acquired)
	}
	busy, err := s.Claim(ctx, "held", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if busy.State != idempotency.Busy {
		t.Errorf("busy.State: got %v, want %v", busy.State, idempotency.Busy)
	}
	if err := s.Complete(ctx, "held", other.Token+"x", time.Hour); !errors.Is(err, idempotency.ErrLeaseLost) {
		t.Fatalf("Complete with a wrong token: got %v, want %v", err, idempotency.ErrLeaseLost)
	}
}
