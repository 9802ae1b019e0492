package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/hookkit/hookkit/dispatch"
	hkadmin "github.com/hookkit/hookkit/dispatch/admin"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/verify"
)

// The routes senders deliver to.
const (
	stripeRoute   = "/api/v1/webhooks/stripe/payment-events"
	twilioRoute   = "/api/v1/webhooks/twilio/sms-status"
	bookingsRoute = "/webhooks/bookings"
	etailRoute    = "/webhooks/etail"
)

// secrets are the senders' signing secrets, from the environment.
type secrets struct {
	Stripe, Twilio, Bookings, Etail string
	// PublicURL is the scheme://host Twilio requests, behind a proxy.
	PublicURL string
	// APIToken guards the routes that are not webhooks (the booking API),
	// from BOOKINGS_API_TOKEN; without it they are not mounted.
	APIToken string
	// StripeAPIKey (STRIPE_API_KEY) and TwilioAccountSid
	// (TWILIO_ACCOUNT_SID), optional, let the backend recover webhooks
	// that never arrived from the senders' APIs (reconcile.go).
	StripeAPIKey, TwilioAccountSid string
}

// secretsFromEnv reads the secrets; a missing one is an error naming its
// variable, never a verifier that accepts anything.
func secretsFromEnv() (secrets, error) {
	s := secrets{
		Stripe:    os.Getenv("STRIPE_WEBHOOK_SECRET"),
		Twilio:    os.Getenv("TWILIO_AUTH_TOKEN"),
		Bookings:  os.Getenv("BOOKINGS_WEBHOOK_SECRET"),
		Etail:     os.Getenv("ETAIL_WEBHOOK_SECRET"),
		PublicURL: os.Getenv("PUBLIC_URL"),
		APIToken:  os.Getenv("BOOKINGS_API_TOKEN"),

		StripeAPIKey:     os.Getenv("STRIPE_API_KEY"),
		TwilioAccountSid: os.Getenv("TWILIO_ACCOUNT_SID"),
	}
	var missing []error
	for _, v := range []struct{ name, value string }{{"STRIPE_WEBHOOK_SECRET", s.Stripe}, {"TWILIO_AUTH_TOKEN", s.Twilio},
		{"BOOKINGS_WEBHOOK_SECRET", s.Bookings}, {"ETAIL_WEBHOOK_SECRET", s.Etail}} {
		if v.value == "" {
			missing = append(missing, fmt.Errorf("%s is not set", v.name))
		}
	}
	return s, errors.Join(missing...)
}

// config is what the backend runs with besides its database.
type config struct {
	secrets secrets
	logger  *slog.Logger
	// archive, when set, records every delivery (-record).
	archive dispatch.Archive
	// smsRetry, when set, replaces the delays between attempts of an SMS
	// status job (riverqueue.StandardWebhooksSchedule).
	smsRetry []time.Duration
	// holdSweep is how often the backend releases bookings whose deposit
	// hold has ended (default defaultHoldSweep).
	holdSweep time.Duration
	// reconcileEvery is the period of the reconciliation job (default
	// defaultReconcileEvery); negative, runs start only from the admin
	// route.
	reconcileEvery time.Duration
	// apiURL, when set, is where the reconcilers find Stripe's and
	// Twilio's APIs: the demo's local stand-in for both.
	apiURL string
	// clock, when set, is the time against which the endpoints measure an
	// event's age (dispatch.WithClock): the demo and the tests replay
	// deliveries recorded on 2026-11-23, which Etail Depot's endpoint
	// (an HMAC over the body alone: no signed time) would otherwise refuse
	// as replays older than the keep window.
	clock func() time.Time
}

// app is the bookings backend: its store, its handlers and its four webhook
// endpoints, each with its router (by event source, for re-running dead
// letters), and the Twilio route's River queue.
type app struct {
	store     *store
	handlers  *handlers
	jobs      *smsJobs
	holds     *holdSweeper
	reconcile *reconciling
	endpoints []*dispatch.Endpoint
	routers   map[string]*dispatch.Router
	handler   http.Handler
	telemetry *telemetry
	logger    *slog.Logger
	apiToken  string
}

// newApp builds the HTTP handler of the backend on st; start runs the
// Twilio route's workers.
func newApp(ctx context.Context, st *store, cfg config) (*app, error) {
	sec, logger := cfg.secrets, cfg.logger
	stripeV, err := verify.NewStripe(sec.Stripe)
	if err != nil {
		return nil, fmt.Errorf("STRIPE_WEBHOOK_SECRET: %w", err)
	}
	var twilioOpts []verify.Option
	if sec.PublicURL != "" {
		twilioOpts = append(twilioOpts, verify.WithPublicURL(sec.PublicURL))
	}
	twilioV, err := verify.NewTwilio(sec.Twilio, twilioOpts...)
	if err != nil {
		return nil, fmt.Errorf("TWILIO_AUTH_TOKEN / PUBLIC_URL: %w", err)
	}
	bookingsV, err := verify.NewStandard(sec.Bookings)
	if err != nil {
		return nil, fmt.Errorf("BOOKINGS_WEBHOOK_SECRET: %w", err)
	}
	etailV, err := verify.NewHMAC([]byte(sec.Etail), "Etail-Signature")
	if err != nil {
		return nil, fmt.Errorf("ETAIL_WEBHOOK_SECRET: %w", err)
	}

	h := &handlers{store: st, logger: logger}
	template := defaultReminderTemplate
	h.reminderTemplate.Store(&template)
	a := &app{store: st, handlers: h, logger: logger, apiToken: sec.APIToken,
		holds: newHoldSweeper(st, logger, cfg.holdSweep)}
	stripeR, twilioR, bookingR, etailR := h.stripeRoutes(), h.twilioRoutes(), h.bookingRoutes(), h.etailRoutes()
	a.routers = map[string]*dispatch.Router{stripeevent.Source: stripeR, twilioevent.Source: twilioR,
		conversoevent.Source: bookingR, etailevent.Source: etailR}
	// Events kept on the bookings database (a GoConverso status event
	// before its booking.created) run again on their schedule from the
	// start, even before the sender's next delivery, on whichever replica.
	st.hookkit.RunKept(conversoevent.Source, bookingR)
	st.hookkit.RunKept(stripeevent.Source, stripeR)
	// Every delivery and every attempt is traced and counted (GET /metrics).
	if a.telemetry, err = newTelemetry(); err != nil {
		return nil, err
	}
	for _, r := range a.routers {
		r.Observe(a.telemetry.observer)
	}
	// Twilio's status callbacks are acknowledged into River, in the
	// bookings database, and processed by its workers.
	rc := &river.Config{}
	job, err := scheduleReconcile(rc, cfg)
	if err != nil {
		return nil, err
	}
	if a.jobs, err = newSMSJobs(ctx, st, twilioR, logger, cfg.smsRetry, rc); err != nil {
		return nil, err
	}
	a.telemetry.observer.Watch("sms_status", a.jobs.queue) // River's queue and its dead letters
	a.telemetry.observer.Watch("bookings", st.hookkit)     // the other routes' dead letters

	common := []dispatch.Option{dispatch.WithLogger(logger)}
	if cfg.clock != nil {
		common = append(common, dispatch.WithClock(cfg.clock))
	}
	if cfg.archive != nil {
		common = append(common, dispatch.WithArchive(cfg.archive))
	}
	// The other routes run their handler in the bookings database's
	// transaction, with the event's key claimed in it: one commit holds
	// the booking's change and the event's completion (dispatch/sqltx).
	inTx := append([]dispatch.Option{dispatch.WithAcceptor(st.hookkit.Acceptor())}, common...)
	queued := append([]dispatch.Option{dispatch.WithAcceptor(a.jobs.queue)}, common...)
	mux := http.NewServeMux()
	mount := func(route string, e *dispatch.Endpoint) {
		a.endpoints = append(a.endpoints, e)
		mux.Handle(route, e)
	}
	stripeEP := dispatch.NewEndpoint(stripeV, stripeevent.NewParser(), stripeR, inTx...)
	twilioEP := dispatch.NewEndpoint(twilioV, twilioevent.NewParser(), twilioR, queued...)
	mount(stripeRoute, stripeEP)
	mount(twilioRoute, twilioEP)
	mount(bookingsRoute, dispatch.NewEndpoint(bookingsV, conversoevent.NewStandardParser(), bookingR, inTx...))
	mount(etailRoute, dispatch.NewEndpoint(etailV, etailevent.NewParser(), etailR, inTx...))
	for _, c := range []struct {
		sender  string
		router  *dispatch.Router
		catalog []string
	}{{"stripe", stripeR, stripeevent.Catalog()}, {"twilio", twilioR, twilioevent.Catalog()},
		{"goconverso", bookingR, conversoevent.Catalog()}, {"etail", etailR, etailevent.Catalog()}} {
		handled, left := coverage(c.router, c.catalog)
		logger.Info("webhook endpoint", "sender", c.sender, "handles", handled, "acknowledged unhandled", left)
	}
	if sec.APIToken != "" {
		// The booking API returns the customer's phone, and the dead-letter
		// routes event bodies: never open.
		admin := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, requireBearer(sec.APIToken, h)) }
		admin("GET /bookings/{id}", a.getBooking)
		admin("GET /metrics", a.telemetry.metrics.ServeHTTP)
		// Every dead letter, the bookings database's and River's, through
		// dispatch/admin, which authenticates nothing itself: the same
		// token, checked by its Authorize.
		deadLetters, err := hkadmin.New(hkadmin.Config{
			Store:     &deadLetterStores{db: a.store.hookkit.DeadLetters(), sms: a.jobs.deadLetters},
			Routers:   a.routers,
			Authorize: func(r *http.Request) bool { return bearerMatches(sec.APIToken, r) },
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("/dead-letters/", http.StripPrefix("/dead-letters", deadLetters))
	}
	if a.reconcile, err = newReconcilers(ctx, st, cfg, stripeEP, twilioEP, job, logger); err != nil {
		return nil, err
	}
	if sec.APIToken != "" && len(a.reconcile.reconcilers) > 0 {
		// Each reconciler's status (checkpoint, last run's counts) and a
		// run on demand, behind the same token.
		runs, err := hkadmin.NewReconcile(hkadmin.ReconcileConfig{Reconcilers: a.reconcile.reconcilers,
			Authorize: func(r *http.Request) bool { return bearerMatches(sec.APIToken, r) }})
		if err != nil {
			return nil, err
		}
		mux.Handle("/reconcile/", requireBearer(sec.APIToken, http.StripPrefix("/reconcile", runs)))
	}
	a.handler = mux
	return a, nil
}

// start starts the Twilio route's workers and the hold sweep. They outlive
// ctx: shutdown stops them.
func (a *app) start(ctx context.Context) error {
	if err := a.jobs.queue.Start(ctx); err != nil {
		return err
	}
	a.holds.start()
	return nil
}

func (a *app) getBooking(w http.ResponseWriter, r *http.Request) {
	b, err := a.store.booking(r.Context(), r.PathValue("id"))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case errors.Is(err, errNoBooking):
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, `{"error":"no such booking"}`)
	case err != nil:
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, `{"error":"database unavailable"}`)
	default:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(b)
	}
}

// shutdown drains the endpoints, then stops the workers: running handlers
// finish within ctx; queued jobs wait in the database for the next start.
func (a *app) shutdown(ctx context.Context) error {
	var errs []error
	for _, e := range a.endpoints {
		errs = append(errs, e.Shutdown(ctx))
	}
	a.holds.stop()
	return errors.Join(append(errs, a.store.hookkit.StopKept(ctx), a.jobs.queue.Stop(ctx), a.telemetry.observer.Close())...)
}

// requireBearer answers 401 to a request without "Authorization: Bearer
// <token>", comparing as tokenMatches does.
func requireBearer(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bearerMatches(token, r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bookings"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintln(w, `{"error":"unauthorized"}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerMatches reports whether r carries "Authorization: Bearer <token>".
func bearerMatches(token string, r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && tokenMatches(token, got)
}

// coverage splits a sender's catalog into the kinds r handles and those it
// leaves to the unknown-type policy, for the log line an operator reads at
// startup.
func coverage(r *dispatch.Router, catalog []string) (handled, left []string) {
	for _, name := range catalog {
		if _, ok := r.Lookup(name); ok {
			handled = append(handled, name)
		} else {
			left = append(left, name)
		}
	}
	return handled, left
}
