package drivertest_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// orderedSQLite opens a SQLite file through driverName (a pool of 4) with
// hookkit's tables migrated, the kept events' runner stopped before the
// database closes.
func orderedSQLite(t *testing.T, driverName string) (*sql.DB, sqltx.Tables) {
	t.Helper()
	db, err := sql.Open(driverName, filepath.Join(t.TempDir(), "app.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(4)
	hk, err := sqltx.NewSQLite(db, txstep.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := hk.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hk.StopKept(context.Background()) })
	return db, hk
}

// bookingSender returns a function that delivers a GoConverso event of
// type typ about booking id, at millisecond ms of the last hour, signed,
// to r on hk's transactional step, and returns its status.
func bookingSender(t *testing.T, hk sqltx.Tables, r *dispatch.Router) func(typ, id string, ms int) int {
	t.Helper()
	signer := verifytest.HMAC{Secret: []byte("gc_drivertest"), Header: "X-Goconverso-Signature"}
	v, err := verify.NewHMAC(signer.Secret, signer.Header)
	if err != nil {
		t.Fatal(err)
	}
	ep := dispatch.NewEndpoint(v, conversoevent.NewParser(), r, dispatch.WithAcceptor(hk.Acceptor()), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	t.Cleanup(func() { ep.Shutdown(context.Background()) })
	hour := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15")
	return func(typ, id string, ms int) int {
		body := fmt.Appendf(nil, `{"event":%q,"timestamp":"%s:%02d:%02d.%03dZ","data":{"booking_id":%q,"status":"confirmed"}}`,
			typ, hour, ms/60000%60, ms/1000%60, ms%1000, id)
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, verifytest.NewRequest(signer, "/", body))
		return rec.Code
	}
}
