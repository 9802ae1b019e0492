package sqlstore_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
)

func TestTableNames(t *testing.T) {
	db := &sql.DB{}
	for _, bad := range []string{"x; DROP TABLE y", `a"b`, "1abc", "a.b.c", "a-b", "a b"} {
		_, err := sqlstore.NewPostgres(db, sqlstore.Config{Table: bad})
		if !errors.Is(err, idempotency.ErrInvalidConfig) {
			t.Fatalf("table %q: got %v, want %v", bad, err, idempotency.ErrInvalidConfig)
		}
		_, err = sqlstore.NewSQLite(db, sqlstore.Config{Table: bad})
		if !errors.Is(err, idempotency.ErrInvalidConfig) {
			t.Fatalf("table %q: got %v, want %v", bad, err, idempotency.ErrInvalidConfig)
		}
	}
	_, err := sqlstore.NewSQLite(db, sqlstore.Config{Table: "main.t"})
	if !errors.Is(err, idempotency.ErrInvalidConfig) {
		t.Fatalf("SQLite table main.t: got %v, want %v", err, idempotency.ErrInvalidConfig)
	}
	s, err := sqlstore.NewPostgres(db, sqlstore.Config{Table: "webhooks.idem_keys"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Schema(); !strings.Contains(got, `CREATE TABLE IF NOT EXISTS "webhooks"."idem_keys"`) {
		t.Errorf("Schema: got %q, want it to contain %q", got, `CREATE TABLE IF NOT EXISTS "webhooks"."idem_keys"`)
	}
}
