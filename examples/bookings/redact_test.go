package main

import (
	"context"
	"strings"
	"testing"
)

// No credential of a -db URL reaches the log: not in the startup line
// (redact), not in a startup error (openStore). Before, only the URL's
// user-info password was hidden, and ?password= was logged as it was.
func TestDatabaseCredentialsAreNeverLogged(t *testing.T) {
	secrets := []string{"pw-userinfo", "pw-query", "pw-ssl", "tok-1"}
	for _, dsn := range []string{
		"postgres://hk:pw-userinfo@127.0.0.1:1/test?password=pw-query&sslpassword=pw-ssl&connect_timeout=1",
		"postgresql://127.0.0.1:1/test?user=hk&password=pw-query&connect_timeout=1",
		"postgres://hk@127.0.0.1:1/test?sslpassword=pw-ssl&api_token=tok-1&connect_timeout=1",
		"postgres://hk:pw-userinfo@127.0.0.1:notaport/test?password=pw-query",
		"postgres://hk:pw%2Duserinfo@127.0.0.1:1/test?password=pw%2Dquery&connect_timeout=1",
	} {
		logged := redact(dsn)
		_, err := openStore(context.Background(), dsn)
		if err == nil {
			t.Fatalf("%v: got nil error, want one", dsn)
		}
		for _, secret := range secrets {
			if strings.Contains(logged, secret) {
				t.Errorf("startup line for %s: got %q, want it not to contain %q", dsn, logged, secret)
			}
			if got := err.Error(); strings.Contains(got, secret) {
				t.Errorf("startup error for %s: got %q, want it not to contain %q", dsn, got, secret)
			}
		}
	}
	if got := redact("postgres://hk:s3cret@db.internal:5432/app?sslmode=require&password=other"); got != "postgres://hk:redacted@db.internal:5432/app?password=redacted&sslmode=require" {
		t.Errorf("redact(\"postgres://hk:s3cret@db.internal:5432/app?sslmode=require&password=other\"): got %q, want %q", got, "postgres://hk:redacted@db.internal:5432/app?password=redacted&sslmode=require")
	}
	if got := redact("bookings.db"); got != "bookings.db" {
		t.Errorf("a SQLite path has no credential: got %q, want %q", got, "bookings.db")
	}
}
