package integration_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// Twilio signs no time: a captured status callback verifies forever, and
// once the accept step has forgotten its key (past the keep window, 96
// hours by default) nothing about its key says it was processed. What
// protects the host is the ordering guard (issue 27, item 4): the
// message's position is kept in the host's database for good, so a
// "sent" replayed after "delivered" was applied is answered 200 stale and
// never runs, and "delivered" itself replayed runs as a tie
// (dispatch.Tie), which the handler skips. Without the guard the same
// replays run again and move the message back to "sent": the test
// catches what the guard prevents.
func TestTwilioReplayAfterTheKeepWindowIsStale(t *testing.T) {
	const token = "twilio_replay_token"
	for _, c := range []struct {
		db      string
		guarded bool
	}{
		{"sqlite", true}, {"postgres", true}, {"sqlite", false},
	} {
		name := c.db + "/guarded"
		if !c.guarded {
			name = c.db + "/unguarded"
		}
		t.Run(name, func(t *testing.T) {
			db, newTables := relSQLite(t, 4), sqltx.NewSQLite
			if c.db == "postgres" {
				db, newTables = relPostgres(t, 4), sqltx.NewPostgres
			}
			tables, err := newTables(db, txstep.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if err := tables.Migrate(relCtx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tables.StopKept(relCtx) }) // before db closes
			if _, err := db.ExecContext(relCtx, `CREATE TABLE sms (sid TEXT PRIMARY KEY, status TEXT NOT NULL, runs INTEGER NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			r := dispatch.NewRouter()
			if c.guarded {
				r.Use(dispatch.Ordered(twilioevent.Ordering))
			}
			for _, status := range []string{"sent", "delivered"} {
				dispatch.On(r, twilioevent.MessageType(status), func(ctx context.Context, _ *events.Event, m *twilioevent.MessageStatus) error {
					if dispatch.Tie(ctx) {
						// The message's own status again: for a Twilio
						// message a tie is the callback replayed (its
						// statuses all rank apart), so its effect is
						// already there.
						return nil
					}
					tx, _ := sqltx.Tx(ctx)
					_, err := tx.ExecContext(ctx, `INSERT INTO sms (sid, status, runs) VALUES ($1, $2, 1)
						ON CONFLICT (sid) DO UPDATE SET status = excluded.status, runs = sms.runs + 1`, m.MessageSid, m.MessageStatus)
					return err
				})
			}
			v, err := verify.NewTwilio(token)
			if err != nil {
				t.Fatal(err)
			}
			ep := dispatch.NewEndpoint(v, twilioevent.NewParser(), r,
				dispatch.WithAcceptor(tables.Acceptor()), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
			t.Cleanup(func() { ep.Shutdown(context.Background()) })

			signer := verifytest.Twilio{AuthToken: token}
			callback := func(status string) []byte {
				return []byte(url.Values{"AccountSid": {"AC0123456789abcdef0123456789abcdef"},
					"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "MessageStatus": {status},
					"To": {"+15550100"}, "From": {"+15550101"}}.Encode())
			}
			deliver := func(body []byte) int {
				rec := httptest.NewRecorder()
				ep.ServeHTTP(rec, verifytest.NewRequest(signer, "/webhooks/twilio", body))
				return rec.Code
			}
			sent, delivered := callback("sent"), callback("delivered")
			for _, b := range [][]byte{sent, delivered} {
				if code := deliver(b); code != http.StatusOK {
					t.Fatalf("in-order callback: %d, want 200", code)
				}
			}
			// The keep window passes: the keys are pruned, as the accept
			// step prunes them once they are older than Config.Keep.
			if _, err := db.ExecContext(relCtx, `DELETE FROM hookkit_idempotency`); err != nil {
				t.Fatal(err)
			}
			for _, b := range [][]byte{sent, delivered} {
				if code := deliver(b); code != http.StatusOK {
					t.Fatalf("replayed callback: %d, want 200", code)
				}
			}
			status, runs := smsRow(t, db)
			if c.guarded && (status != "delivered" || runs != 2) {
				t.Errorf("guarded: the message is %q after %d runs; want delivered after 2 (the replays stale, never run)", status, runs)
			}
			if !c.guarded && runs != 4 {
				t.Errorf("unguarded: %d runs, want 4: without the guard the replays past the keep window run again", runs)
			}
		})
	}
}

func smsRow(t *testing.T, db *sql.DB) (status string, runs int) {
	t.Helper()
	if err := db.QueryRowContext(relCtx, `SELECT status, runs FROM sms`).Scan(&status, &runs); err != nil {
		t.Fatal(err)
	}
	return status, runs
}
