// Command bookings is a small booking backend in the shape of ReserveEasy:
// it takes Stripe deposit events, Twilio SMS status callbacks, GoConverso
// booking events (Standard Webhooks) and Etail Depot payments through
// hookkit, and keeps bookings, transactions and an outbox of notifications
// in SQLite (or PostgreSQL).
//
//	go run ./examples/bookings -demo
//	go run github.com/hookkit/hookkit/examples/bookings@latest -demo
//
// starts it on a free port with demo secrets and a temporary database,
// sends it the repository's recorded deliveries over real HTTP (plus a
// duplicate, a tampered body, a stale signature, a forged Twilio callback
// and an unknown event type), prints each step as it begins and each
// delivery as it is answered — a failed deposit's two-hour hold ending in
// a cancellation when the demo moves the backend's clock past it, a
// deposit after that flagged for refund, a failed confirmation SMS
// followed by an email and a support alert — and exits non-zero if any
// answer or effect differs from what hookkit and the backend promise. The deliveries are a copy of testdata/ built
// into the program (recorded/), so the demo runs from anywhere, the module
// cache included; -fixtures DIR sends your own recordings instead.
//
//	STRIPE_WEBHOOK_SECRET=whsec_... TWILIO_AUTH_TOKEN=... BOOKINGS_WEBHOOK_SECRET=whsec_... \
//	ETAIL_WEBHOOK_SECRET=... PUBLIC_URL=https://api.example.com go run ./examples/bookings -db bookings.db
//
// runs it for real; -record DIR writes every delivery to DIR in the
// testdata fixture format, for replay in tests. With STRIPE_API_KEY (a
// restricted key that may read events) and TWILIO_ACCOUNT_SID set, it
// also recovers the webhooks that never arrived from Stripe's List Events
// and Twilio's Messages APIs, every five minutes (reconcile.go). With BOOKINGS_API_TOKEN set,
// GET /bookings/{id} and the dead-letter routes answer requests that carry
// "Authorization: Bearer <that token>" (and 401 to others); without it they
// are not mounted.
//
// Stripe, GoConverso and Etail events run their handler before the answer,
// in the database transaction that also completes the event
// (dispatch/sqltx). Twilio's status callbacks are acknowledged once their
// job is committed in River's tables in the same database, SQLite or
// PostgreSQL (dispatch/riverqueue), and River's workers run the handler,
// retrying failures; a job that fails every attempt is discarded, a dead
// letter. A failed deposit holds its booking for two hours: the deadline
// is written with the failure, and every replica's hold sweep cancels the
// bookings whose hold has ended (holds.go).
//
// -admin ADDR serves River's web UI on ADDR, to see queued, retrying and
// discarded jobs, behind HTTP Basic authentication whose password is
// BOOKINGS_API_TOKEN (any user name).
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
	"sync"
	"syscall"
	"time"

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
	adminAddr := flag.String("admin", "", "also serve River's web UI on this address (HTTP Basic authentication, password BOOKINGS_API_TOKEN)")
	dsn := flag.String("db", "bookings.db", "SQLite file, or a postgres:// URL (the demo uses a temporary SQLite file)")
	recordDir := flag.String("record", "", "write every delivery to this directory, in the testdata fixture format")
	demo := flag.Bool("demo", false, "run the demo on a free port with demo secrets and a temporary database, then exit")
	fixtures := flag.String("fixtures", "", "the demo's recorded deliveries, a directory in the testdata format (default: the copy of the repository's testdata built into the program)")
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
	if *adminAddr != "" && sec.APIToken == "" {
		return errAdminWithoutToken
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	st, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer st.close()
	cfg := config{secrets: sec, logger: logger}
	if *recordDir != "" {
		archive, err := record.New(*recordDir, record.Config{Logger: logger})
		if err != nil {
			return err
		}
		cfg.archive = archive
	}
	a, err := newApp(ctx, st, cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	var adminLn net.Listener
	if *adminAddr != "" {
		if adminLn, err = net.Listen("tcp", *adminAddr); err != nil {
			ln.Close()
			return err
		}
		logger.Info("River's web UI listening", "addr", adminLn.Addr().String())
	}
	logger.Info("bookings backend listening", "addr", ln.Addr().String(), "db", redact(*dsn))
	return serve(ctx, a, ln, adminLn)
}

// serve starts the workers and runs the HTTP server on ln, and River's UI
// on adminLn unless it is nil, until ctx ends; then it stops taking
// requests, lets the endpoints and the workers drain, and returns.
func serve(ctx context.Context, a *app, ln, adminLn net.Listener) error {
	if err := a.start(ctx); err != nil {
		ln.Close()
		if adminLn != nil {
			adminLn.Close()
		}
		return err
	}
	servers := []*http.Server{newServer(a.handler)}
	listeners := []net.Listener{ln}
	if adminLn != nil {
		ui, err := a.adminHandler(ctx)
		if err != nil {
			ln.Close()
			adminLn.Close()
			return errors.Join(err, a.shutdown(context.Background()))
		}
		servers, listeners = append(servers, newServer(ui)), append(listeners, adminLn)
	}
	var serving sync.WaitGroup
	failed := make(chan error, len(servers))
	for i, srv := range servers {
		serving.Go(func() {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				failed <- err
			}
		})
	}
	var err error
	select {
	case err = <-failed:
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := []error{err}
	for _, srv := range servers {
		errs = append(errs, srv.Shutdown(shutdownCtx))
	}
	serving.Wait()
	return errors.Join(append(errs, a.shutdown(shutdownCtx))...)
}

// newServer is an HTTP server with the timeouts a webhook receiver wants.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler: h,
		// A sender posts a few kilobytes at once; a client that trickles
		// its headers or body, or idles on a kept-alive connection, is
		// holding the server, not delivering a webhook.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
}
