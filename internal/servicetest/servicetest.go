// Package servicetest is how hookkit's own tests reach the real Redis and
// PostgreSQL of the development and CI machines: the environment variables
// that name them, skipping or failing when they are absent, counting round
// trips, and table names no other test uses. It is internal: test
// plumbing, not API.
package servicetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"sync/atomic"
	"testing"
)

// The environment variables through which tests reach real services.
const (
	RedisURLEnv        = "HOOKKIT_TEST_REDIS_URL"
	PostgresURLEnv     = "HOOKKIT_TEST_POSTGRES_URL"
	RequireServicesEnv = "HOOKKIT_REQUIRE_SERVICES"
)

// ServiceURL returns the URL in the environment variable env. When it is
// unset the test is skipped, or fails if HOOKKIT_REQUIRE_SERVICES=1 (as in
// CI), so a missing service is never mistaken for a passing test.
func ServiceURL(t testing.TB, env string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		Unreachable(t, env+" is not set")
	}
	return u
}

// Unreachable skips the test with reason, or fails it when services are
// required.
func Unreachable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(RequireServicesEnv) == "1" {
		t.Fatalf("%s, and %s=1 requires the service", reason, RequireServicesEnv)
	}
	t.Skipf("%s; set it to run against a real server", reason)
}

// CountWrites wraps c so that every Write adds one to writes. Database and
// Redis clients write a request whole and then wait for the reply, so the
// count is the number of round trips: wrap the connections a client dials
// to show how many an operation takes.
func CountWrites(c net.Conn, writes *atomic.Int64) net.Conn {
	return countingConn{Conn: c, writes: writes}
}

// CountingDial is a client's dial function (pgx's DialFunc, go-redis's
// Dialer) whose connections count their writes into writes.
func CountingDial(writes *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return CountWrites(c, writes), nil
	}
}

// RandomName returns prefix and 12 random hex digits: a table or schema
// name no other test uses.
func RandomName(prefix string) string {
	var raw [6]byte
	rand.Read(raw[:])
	return prefix + hex.EncodeToString(raw[:])
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}
