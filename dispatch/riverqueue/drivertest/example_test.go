package drivertest_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// riverqueue.New on SQLite (riverqueue's package doc shows the same on
// PostgreSQL): Twilio's status callback is answered 200 once its job is
// committed; River's worker then runs the handler, in the job's
// transaction.
func Example_sqlite() {
	dir, err := os.MkdirTemp("", "riverqueue-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "app.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ran := make(chan string, 1)
	r := dispatch.NewRouter()
	r.HandleFunc("message.*", func(ctx context.Context, e *events.Event) error {
		m, err := twilioevent.DecodeMessageStatus(e.Data)
		if err != nil {
			return dispatch.Permanent(err)
		}
		ran <- m.MessageSid + " " + m.MessageStatus
		return nil
	})
	// A Handle, whatever the database: what a host keeps.
	var q riverqueue.Handle
	q, err = riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, riverqueue.Config{
		Logger: slog.New(slog.DiscardHandler),
		River:  &river.Config{FetchPollInterval: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := q.Migrate(ctx); err != nil { // safe on every replica at start
		log.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer q.Stop(ctx)

	v, err := verify.NewTwilio("twilio_auth_token", verify.WithPublicURL("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	ep := dispatch.NewEndpoint(v, twilioevent.NewParser(), r, dispatch.WithAcceptor(q), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	defer ep.Shutdown(ctx)
	form := []byte("MessageSid=SM1&MessageStatus=undelivered&To=%2B15551234567")
	rec := httptest.NewRecorder()
	ep.ServeHTTP(rec, verifytest.NewRequest(verifytest.Twilio{AuthToken: "twilio_auth_token"}, "https://api.example.com/webhooks/twilio", form))
	fmt.Println("sender:", rec.Code)
	fmt.Println("worker:", <-ran)
	// Output:
	// sender: 200
	// worker: SM1 undelivered
}
