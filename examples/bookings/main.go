// Command bookings is a small booking backend in the shape of ReserveEasy:
// it takes Stripe deposit events, Twilio SMS status callbacks, GoConverso
// booking events (Standard Webhooks) and Etail Depot payments through
// hookkit, and keeps bookings, transactions and an outbox of notifications
// in SQLite (or PostgreSQL).
//
//	go run ./examples/bookings -demo
//
// starts it on a free port with demo secrets and a temporary database,
// sends it the repository's recorded deliveries over real HTTP (plus a
// duplicate, a tampered body, a stale signature, a forged Twilio callback
// and an unknown event type), prints what each did, and exits non-zero if
// any answer differs from what hookkit promises.
//
//	STRIPE_WEBHOOK_SECRET=whsec_... TWILIO_AUTH_TOKEN=... BOOKINGS_WEBHOOK_SECRET=whsec_... \
//	ETAIL_WEBHOOK_SECRET=... PUBLIC_URL=https://api.example.com go run ./examples/bookings -db bookings.db
//
// runs it for real; -record DIR writes every delivery to DIR in the
// testdata fixture format, for replay in tests. With BOOKINGS_API_TOKEN set,
// GET /bookings/{id} answers requests that carry "Authorization: Bearer
// <that token>" (and 401 to others); without it the route is not mounted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/record"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bookings:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	dsn := flag.String("db", "bookings.db", "SQLite file, or a postgres:// URL (the demo uses a temporary SQLite file)")
	recordDir := flag.String("record", "", "write every delivery to this directory, in the testdata fixture format")
	demo := flag.Bool("demo", false, "run the demo on a free port with demo secrets and a temporary database, then exit")
	fixtures := flag.String("fixtures", "", "the demo's recorded deliveries (default: the repository's testdata)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *demo {
		return runDemo(ctx, *recordDir, *fixtures)
	}

	sec, err := secretsFromEnv()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	st, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer st.db.Close()
	var archive dispatch.Archive
	if *recordDir != "" {
		archive = &record.Dir{Path: *recordDir, Logger: logger}
	}
	a, err := newApp(st, sec, logger, archive)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	logger.Info("bookings backend listening", "addr", ln.Addr().String(), "db", redact(*dsn))
	return serve(ctx, ln, a)
}

// serve runs the HTTP server until ctx ends, then stops taking requests,
// lets the endpoints drain, and returns.
func serve(ctx context.Context, ln net.Listener, a *app) error {
	srv := &http.Server{
		Handler: a.handler,
		// A sender posts a few kilobytes at once; a client that trickles
		// its headers or body, or idles on a kept-alive connection, is
		// holding the server, not delivering a webhook.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := errors.Join(srv.Shutdown(shutdownCtx), a.shutdown(shutdownCtx))
	<-errc // http.ErrServerClosed
	return err
}
