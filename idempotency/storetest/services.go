package storetest

import (
	"os"
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
