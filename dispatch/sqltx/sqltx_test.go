package sqltx_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

func TestConfigIsValidated(t *testing.T) {
	db := &sql.DB{} // never used: each configuration is refused first
	for name, cfg := range map[string]txstep.Config{
		"negative keep":           {Keep: -1},
		"negative lock timeout":   {LockTimeout: -1},
		"bad dead-letter table":   {DeadLetterTable: "no spaces"},
		"bad idempotency table":   {IdempotencyTable: "x;drop"},
		"schema-qualified SQLite": {DeadLetterTable: "s.t"},
	} {
		if _, err := sqltx.NewSQLite(db, cfg); err == nil {
			t.Fatalf("NewSQLite with a %s: got nil error, want one", name)
		}
	}
	if _, err := sqltx.NewPostgres(nil, txstep.Config{}); err == nil {
		t.Fatalf("NewPostgres with a nil database: got nil error, want one")
	}
}

// A handler that needs the transaction, on an Endpoint mounted without the
// transactional step, finds none (ok = false, never a nil *sql.Tx to
// dereference) and fails with an error that names the missing step: 500,
// retried, and logged at WARN with that text, never a panic.
func TestTxOutsideTheTransactionalStep(t *testing.T) {
	_, ok := sqltx.Tx(context.Background())
	if ok {
		t.Errorf("ok: got true, want false")
	}

	var logs bytes.Buffer
	v, err := verify.NewStripe("whsec_misuse")
	if err != nil {
		t.Fatal(err)
	}
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
		tx, ok := sqltx.Tx(ctx)
		if !ok {
			return dispatch.ErrNoTransaction
		}
		_, err := tx.ExecContext(ctx, `SELECT 1`)
		return err
	})
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	defer ep.Shutdown(context.Background())
	body := []byte(`{"id":"evt_misuse","type":"payment_intent.succeeded","created":1795420800,"data":{"object":{}}}`)
	rec := httptest.NewRecorder()
	ep.ServeHTTP(rec, verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_misuse"}, "/webhooks/stripe", body))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("retried until the Endpoint is mounted as it should be: got %d, want %d", rec.Code, http.StatusInternalServerError)
	}
	if got := logs.String(); !strings.Contains(got, "dispatch.WithAcceptor(db.Acceptor())") {
		t.Errorf("the log names the missing step: got %q, want it to contain %q", got, "dispatch.WithAcceptor(db.Acceptor())")
	}
}
