package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		require.Error(t, err, dsn)
		for _, secret := range secrets {
			assert.NotContains(t, logged, secret, "startup line for %s", dsn)
			assert.NotContains(t, err.Error(), secret, "startup error for %s", dsn)
		}
	}
	assert.Equal(t, "postgres://hk:redacted@db.internal:5432/app?password=redacted&sslmode=require",
		redact("postgres://hk:s3cret@db.internal:5432/app?sslmode=require&password=other"))
	assert.Equal(t, "bookings.db", redact("bookings.db"), "a SQLite path has no credential")
}
