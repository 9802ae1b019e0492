package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/standardevent"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/internal/logtext"
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

// app is the bookings backend: its store, its handlers and its four webhook
// endpoints, each with its router (by event source, for re-running dead
// letters).
type app struct {
	store     *store
	handlers  *handlers
	endpoints []*dispatch.Endpoint
	routers   map[string]*dispatch.Router
	handler   http.Handler
}

// newApp builds the HTTP handler of the backend on st. archive, when not
// nil, records every delivery.
func newApp(st *store, sec secrets, logger *slog.Logger, archive dispatch.Archive) (*app, error) {
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
	// Every route runs its handler in the bookings database's transaction,
	// with the event's key claimed in it: one commit holds the booking's
	// change and the event's completion (package dispatch/sqltx).
	common := []dispatch.Option{dispatch.WithAcceptor(st.hookkit.Acceptor()), dispatch.WithLogger(logger)}
	if archive != nil {
		common = append(common, dispatch.WithArchive(archive))
	}
	a := &app{store: st, handlers: h}
	mux := http.NewServeMux()
	mount := func(route string, e *dispatch.Endpoint) {
		a.endpoints = append(a.endpoints, e)
		mux.Handle(route, e)
	}
	stripeR, twilioR, bookingR, etailR := h.stripeRoutes(), h.twilioRoutes(), h.bookingRoutes(), h.etailRoutes()
	a.routers = map[string]*dispatch.Router{stripeevent.Source: stripeR, twilioevent.Source: twilioR,
		conversoevent.Source: bookingR, etailevent.Source: etailR}
	mount(stripeRoute, dispatch.NewEndpoint(stripeV, stripeevent.NewParser(), stripeR, common...))
	mount(twilioRoute, dispatch.NewEndpoint(twilioV, twilioevent.NewParser(), twilioR, common...))
	mount(bookingsRoute, dispatch.NewEndpoint(bookingsV, standardevent.NewParser(conversoevent.Source), bookingR, common...))
	mount(etailRoute, dispatch.NewEndpoint(etailV, etailevent.NewParser(), etailR, common...))
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
		admin("GET /dead-letters", a.listDeadLetters)
		admin("POST /dead-letters/{key}/rerun", a.rerunDeadLetter)
		admin("POST /dead-letters/{key}/discard", a.discardDeadLetter)
	}
	a.handler = mux
	return a, nil
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

// shutdown drains the endpoints (the Twilio queue above all).
func (a *app) shutdown(ctx context.Context) error {
	var errs []error
	for _, e := range a.endpoints {
		errs = append(errs, e.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// requireBearer answers 401 to a request without "Authorization: Bearer
// <token>". The comparison takes the same time whatever the guess: both
// sides are hashed first, so not even the token's length leaks.
func requireBearer(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bookings"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintln(w, `{"error":"unauthorized"}`)
			return
		}
		next.ServeHTTP(w, r)
	})
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

// deadLetterView is a dead letter as GET /dead-letters lists it: what it
// is and why, never its body.
type deadLetterView struct {
	Key      string    `json:"key"`
	Type     string    `json:"type"`
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	At       time.Time `json:"at"`
}

func (a *app) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	letters, err := a.store.hookkit.DeadLetters().List(r.Context(), dispatch.DeadLetterFilter{
		Source: r.URL.Query().Get("source"), Type: r.URL.Query().Get("type")})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "database unavailable"})
		return
	}
	views := []deadLetterView{}
	for _, dl := range letters {
		views = append(views, deadLetterView{Key: dl.Event.Key(), Type: dl.Event.Type, Error: dl.Err.Error(), Attempts: dl.Attempts, At: dl.At})
	}
	writeJSON(w, http.StatusOK, views)
}

// rerunDeadLetter runs a dead letter through its sender's router once its
// cause is fixed; it is resolved, in the handler's own transaction, only if
// the handler succeeds.
func (a *app) rerunDeadLetter(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	source, _, _ := strings.Cut(key, ":")
	router, ok := a.routers[source]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such dead letter"})
		return
	}
	err := a.store.hookkit.DeadLetters().Rerun(r.Context(), router, key)
	switch {
	case errors.Is(err, dispatch.ErrNotDeadLettered):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such dead letter"})
	case err != nil:
		writeJSON(w, http.StatusConflict, map[string]string{"error": "the handler failed again", "cause": logtext.Clip(err.Error(), 300)})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"resolved": key})
	}
}

func (a *app) discardDeadLetter(w http.ResponseWriter, r *http.Request) {
	err := a.store.hookkit.DeadLetters().Discard(r.Context(), r.PathValue("key"))
	switch {
	case errors.Is(err, dispatch.ErrNotDeadLettered):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such dead letter"})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "database unavailable"})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"discarded": r.PathValue("key")})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
