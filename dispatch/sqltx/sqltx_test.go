package sqltx_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/deadlettertest"
	"github.com/hookkit/hookkit/dispatch/internal/txaccepttest"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/sqltx/internal/sqltxtest"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

func TestSQLite(t *testing.T) {
	txaccepttest.Run(t, func(t *testing.T) txaccepttest.Binding {
		path := filepath.Join(t.TempDir(), "app.db")
		open := func(t *testing.T) *sql.DB {
			db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			// One writer at a time: deliveries queue for a connection
			// rather than in SQLite's busy handler.
			db.SetMaxOpenConns(4)
			return db
		}
		return sqltxtest.Binding(t, open(t), false, sqltxtest.NewTables(), open)
	})
}

func TestConfigIsValidated(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "x.db"))
	require.NoError(t, err)
	defer db.Close()
	for name, cfg := range map[string]sqltx.Config{
		"negative keep":           {Keep: -1},
		"negative lock timeout":   {LockTimeout: -1},
		"bad dead-letter table":   {DeadLetterTable: "no spaces"},
		"bad idempotency table":   {IdempotencyTable: "x;drop"},
		"schema-qualified SQLite": {DeadLetterTable: "s.t"},
	} {
		_, err := sqltx.NewSQLite(db, cfg)
		require.Error(t, err, name)
	}
	_, err = sqltx.NewPostgres(nil, sqltx.Config{})
	require.Error(t, err)
}

// A handler that needs the transaction, on an Endpoint mounted without the
// transactional step, finds none (ok = false, never a nil *sql.Tx to
// dereference) and fails with an error that names the missing step: 500,
// retried, and logged at WARN with that text, never a panic.
func TestTxOutsideTheTransactionalStep(t *testing.T) {
	_, ok := sqltx.Tx(context.Background())
	assert.False(t, ok)

	var logs bytes.Buffer
	v, err := verify.NewStripe("whsec_misuse")
	require.NoError(t, err)
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
	assert.Equal(t, http.StatusInternalServerError, rec.Code, "retried until the Endpoint is mounted as it should be")
	assert.Contains(t, logs.String(), "dispatch.WithAcceptor(db.Acceptor())")
}

func TestDeadLettersConformance(t *testing.T) {
	deadlettertest.Run(t, func(t *testing.T, _ *dispatch.Router) deadlettertest.Harness {
		db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "dl.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		hk, err := sqltx.NewSQLite(db, sqltx.Config{})
		require.NoError(t, err)
		require.NoError(t, hk.Migrate(context.Background()))
		return deadlettertest.Harness{Store: hk.DeadLetters(), Options: []dispatch.Option{dispatch.WithAcceptor(hk.Acceptor())}}
	})
}
