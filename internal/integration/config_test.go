package integration_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/admin"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/record"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/pgxstore"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
	"github.com/hookkit/hookkit/verify"
)

// Every package's ErrInvalidConfig is the same error, and every
// constructor a host calls answers a configuration that cannot work with an
// error wrapping it and naming what is wrong: a host checks one sentinel,
// whichever package it configured.
func TestEveryConstructorWrapsTheOneErrInvalidConfig(t *testing.T) {
	for name, sentinel := range map[string]error{
		"verify":      verify.ErrInvalidConfig,
		"events":      events.ErrInvalidConfig,
		"idempotency": idempotency.ErrInvalidConfig,
	} {
		if sentinel != dispatch.ErrInvalidConfig {
			t.Errorf("%v: got %p, want %p", name, sentinel, dispatch.ErrInvalidConfig)
		}
	}

	db, err := sql.Open("sqlite", t.TempDir()+"/config.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	stripe, err := verify.NewStripe("whsec_test")
	if err != nil {
		t.Fatal(err)
	}
	constructors := []struct {
		name, says string
		build      func() error
	}{
		{"verify.NewStripe", "empty", func() error { _, err := verify.NewStripe(""); return err }},
		{"verify.NewTwilio", "empty", func() error { _, err := verify.NewTwilio(""); return err }},
		{"verify.NewStandard", "empty", func() error { _, err := verify.NewStandard(""); return err }},
		{"verify.NewHMAC", "header", func() error { _, err := verify.NewHMAC([]byte("k"), ""); return err }},
		{"verify.MiddlewareSafely", "nil Verifier", func() error { _, err := verify.MiddlewareSafely(nil); return err }},
		{"events.NewJSONParserSafely", "Source", func() error { _, err := events.NewJSONParserSafely(events.JSONConfig{}); return err }},
		{"dispatch.NewEndpointSafely", "Verifier", func() error {
			_, err := dispatch.NewEndpointSafely(nil, stripeevent.NewParser(), dispatch.NewRouter())
			return err
		}},
		{"dispatch.NewEndpointSafely option", "WithTimeout", func() error {
			_, err := dispatch.NewEndpointSafely(stripe, stripeevent.NewParser(), dispatch.NewRouter(), dispatch.WithTimeout(-1))
			return err
		}},
		{"idempotency.NewMemoryStore", "MaxEntries", func() error {
			_, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxEntries: -1})
			return err
		}},
		{"sqlstore.NewSQLite", "nil DB", func() error { _, err := sqlstore.NewSQLite(nil, sqlstore.Config{}); return err }},
		{"sqlstore.NewPostgres", "nil DB", func() error { _, err := sqlstore.NewPostgres(nil, sqlstore.Config{}); return err }},
		{"sqlstore table", "x;y", func() error { _, err := sqlstore.NewSQLite(db, sqlstore.Config{Table: "x;y"}); return err }},
		{"pgxstore.New", "nil DB", func() error { _, err := pgxstore.New(nil, pgxstore.Config{}); return err }},
		{"sqltx.NewSQLite", "nil database", func() error { _, err := sqltx.NewSQLite(nil, txstep.Config{}); return err }},
		{"sqltx.NewSQLite keep", "Keep", func() error { _, err := sqltx.NewSQLite(db, txstep.Config{Keep: -1}); return err }},
		{"sqltx table", "x;y", func() error { _, err := sqltx.NewSQLite(db, txstep.Config{DeadLetterTable: "x;y"}); return err }},
		{"pgxtx.New", "nil", func() error { _, err := pgxtx.New(nil, txstep.Config{}); return err }},
		{"riverqueue.New", "Transactor", func() error {
			_, err := riverqueue.New(riversqlite.New(db), nil, dispatch.NewRouter(), riverqueue.Config{})
			return err
		}},
		{"riverqueue.New config", "BatchSize", func() error {
			_, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), dispatch.NewRouter(), riverqueue.Config{BatchSize: -1})
			return err
		}},
		{"record.New", "empty directory", func() error { _, err := record.New("", record.Config{}); return err }},
		{"admin.New", "Store", func() error { _, err := admin.New(admin.Config{}); return err }},
	}
	for _, c := range constructors {
		t.Run(c.name, func(t *testing.T) {
			var err error
			func() { err = c.build() }() // must not panic
			if err == nil {
				t.Fatalf("err: got nil error, want one")
			}
			if !errors.Is(err, dispatch.ErrInvalidConfig) {
				t.Errorf("%v does not wrap ErrInvalidConfig", err)
			}
			if got := err.Error(); !strings.Contains(got, c.says) {
				t.Errorf("err.Error(): got %q, want it to contain %q", got, c.says)
			}
		})
	}
}

// A Tables constructor that fails returns a nil Tables, never a nil
// pointer inside a non-nil interface, which a host's tables != nil would
// take for a working one.
func TestFailedTablesAreNil(t *testing.T) {
	db, err := sql.Open("sqlite", t.TempDir()+"/nil.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/unused") // connects lazily: never here
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	for name, build := range map[string]func() (sqltx.Tables, error){
		"sqltx.NewSQLite":   func() (sqltx.Tables, error) { return sqltx.NewSQLite(db, txstep.Config{LockTimeout: -1}) },
		"sqltx.NewPostgres": func() (sqltx.Tables, error) { return sqltx.NewPostgres(db, txstep.Config{DeadLetterTable: "x;y"}) },
		"pgxtx.New":         func() (sqltx.Tables, error) { return pgxtx.New(pool, txstep.Config{Keep: -1}) },
	} {
		tables, err := build()
		if !errors.Is(err, dispatch.ErrInvalidConfig) {
			t.Fatalf("%v: got %v, want %v", name, err, dispatch.ErrInvalidConfig)
		}
		if tables != nil {
			t.Errorf("%s returned a non-nil %T", name, tables)
		}
	}
}

// A Transactor on a nil database (a host's pool not opened yet) fails its
// Begin with an error, never a nil dereference in a worker.
func TestTransactorsOnNilDatabasesFail(t *testing.T) {
	for name, begin := range map[string]func() error{
		"sqltx": func() error { _, err := sqltx.NewTransactor(nil).Begin(context.Background()); return err },
		"pgxtx": func() error { _, err := pgxtx.NewTransactor(nil).Begin(context.Background()); return err },
	} {
		var err error
		func() { err = begin() }() // must not panic
		if !errors.Is(err, dispatch.ErrInvalidConfig) {
			t.Fatalf("%v: got %v, want %v", name, err, dispatch.ErrInvalidConfig)
		}
		if got := err.Error(); !strings.Contains(got, "nil database") {
			t.Errorf("%v: got %q, want it to contain %q", name, got, "nil database")
		}
	}
}

// A dead letter without its event is refused by every sink with an error,
// never a nil dereference.
func TestDeadLetterSinksRefuseALetterWithoutItsEvent(t *testing.T) {
	db, err := sql.Open("sqlite", t.TempDir()+"/dl.db?_txlock=immediate&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tables, err := sqltx.NewSQLite(db, txstep.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tables.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, sink := range map[string]dispatch.DeadLetterSink{
		"memory": &dispatch.MemoryDeadLetters{},
		"sqltx":  tables.DeadLetterSink(),
	} {
		var err error
		func() { err = sink.DeadLetter(context.Background(), dispatch.DeadLetter{Err: errors.New("x")}) }() // must not panic
		if !errors.Is(err, events.ErrMalformedEvent) {
			t.Errorf("%v: got %v, want %v", name, err, events.ErrMalformedEvent)
		}
	}
}
