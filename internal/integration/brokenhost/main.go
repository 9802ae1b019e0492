// Command brokenhost is a webhook host with the classic mistake, for the
// crash-test kit (verify/crashtest) to catch: its Stripe handler starts
// the work in a goroutine and returns, so the event is acknowledged before
// its effect is committed. A kill between the two loses the event: the
// sender was told 200 and never sends it again.
//
//	STRIPE_WEBHOOK_SECRET=whsec_... brokenhost -addr 127.0.0.1:9000 -db /tmp/effects.db
//
// Each payment_intent.succeeded event's effect is a row of the table
// effects (event_id), in the SQLite file -db. It runs until killed.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/verify"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "brokenhost:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	dsn := flag.String("db", "", "the SQLite file its effects go to")
	work := flag.Duration("work", 10*time.Millisecond, "how long the handler works before it answers, and again before it commits")
	flag.Parse()

	db, err := sql.Open("sqlite", *dsn+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return err
	}
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS effects (event_id TEXT NOT NULL)`); err != nil {
		return err
	}
	v, err := verify.NewStripe(os.Getenv("STRIPE_WEBHOOK_SECRET"))
	if err != nil {
		return fmt.Errorf("STRIPE_WEBHOOK_SECRET: %w", err)
	}
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
		time.Sleep(*work) // checking the payment, say
		// The mistake: the effect is committed after the answer.
		go func() {
			time.Sleep(*work)
			if _, err := db.Exec(`INSERT INTO effects (event_id) VALUES ($1)`, e.ID); err != nil {
				fmt.Fprintln(os.Stderr, "brokenhost: recording", e.ID+":", err)
			}
		}()
		return nil
	})
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r,
		dispatch.WithStore(store), dispatch.WithLogger(logger))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	return (&http.Server{Handler: ep, ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
}
