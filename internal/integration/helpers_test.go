package integration_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // database/sql's "sqlite"

	"github.com/hookkit/hookkit/internal/servicetest"
)

// postgresSchemaURL returns the test database's URL with a schema of the
// test's own on the search path, dropped when the test ends.
func postgresSchemaURL(t testing.TB) string {
	base := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
	schema := servicetest.RandomName("hookkit_it_")
	admin, err := pgxpool.New(context.Background(), base)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	if err := admin.Ping(context.Background()); err != nil {
		servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
	}
	_, err = admin.Exec(context.Background(), `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`) })
	u, err := url.Parse(base)
	require.NoError(t, err)
	query := u.Query()
	query.Set("search_path", schema)
	u.RawQuery = query.Encode()
	return u.String()
}
