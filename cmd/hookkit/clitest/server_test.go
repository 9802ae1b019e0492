package clitest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	stripewebhook "github.com/stripe/stripe-go/v76/webhook"
	twilioclient "github.com/twilio/twilio-go/client"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/admin"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// The test secrets of the endpoints' routes; the scripts and the
// command's help examples use the same.
const (
	stripeSecret   = "whsec_test"
	twilioToken    = "twilio_token"
	standardSecret = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=" // base64 of "testsecrettestsecret"
	publicOrigin   = "https://hooks.example.com"
	adminToken     = "admin_test_token"
)

// v1aSeed is the ed25519 seed of the /v1a route's sender.
var v1aSeed = bytes.Repeat([]byte{7}, 32)

// v1aKeys are the sender's signing key and the receiver's public key.
var v1aSigning, v1aPublic = func() (string, string) {
	s, p, err := verifytest.StandardKeyPair(v1aSeed)
	if err != nil {
		panic(err)
	}
	return s, p
}()

// received is one delivery a route received, and what was made of it.
type received struct {
	n      int
	method string
	target string
	host   string
	header http.Header
	body   []byte
	status int
	lib    string // the route's verifier: "ok" or its error
	sdk    string // the official SDK's verdict: "ok", "rejected" or "-" (none)
	typ    string // the type the handler ran for; "" when it did not run
	decode string // the typed payload's decoding: "ok", its error, or "-"
}

// route is a hookkit Endpoint at one path.
type route struct {
	name     string
	verifier verify.Verifier
	oracle   func(r *http.Request, body []byte) error // nil: no SDK for the scheme
	endpoint *dispatch.Endpoint
}

// server is every route on one loopback HTTP server.
type server struct {
	srv    *httptest.Server
	routes map[string]*route
	mu     sync.Mutex
	log    map[string][]*received
	dead   *dispatch.MemoryDeadLetters
}

type ctxKey struct{}

// newServer starts the endpoints.
func newServer() (*server, error) {
	s := &server{routes: map[string]*route{}, log: map[string][]*received{}, dead: dispatch.NewMemoryDeadLetters(0)}
	quiet := dispatch.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	// The scripts send the senders' documented examples verbatim (Etail
	// Depot's is dated 2022, GoConverso's February 2026) and the
	// deliveries recorded in testdata (November 2026). A sender that
	// signs no time has its events' ages checked by the Endpoint (84
	// hours by default, dispatch.WithMaxAge); this test host remembers
	// keys and accepts events for a century instead, so that no script
	// depends on the day it runs. Age refusals are dispatch's own tests'.
	const century = 100 * 365 * 24 * time.Hour
	ageless := []dispatch.Option{dispatch.WithKeep(century), dispatch.WithMaxAge(century)}
	must := func(v verify.Verifier, err error) verify.Verifier {
		if err != nil {
			panic(err)
		}
		return v
	}
	hmacRoute := func(preset, secret string) verify.Verifier {
		p, _ := verifytest.HMACPreset(preset, nil)
		return must(verify.NewHMAC([]byte(secret), p.Header, p.Options()...))
	}
	goconverso := conversoevent.NewStandardParser()
	generic := events.NewJSONParser(events.JSONConfig{Source: "json", ID: "id", Type: "type"})
	twilioForm := func(origin string) func(r *http.Request, body []byte) error {
		return func(r *http.Request, body []byte) error { return twilioOracle(origin, r, body) }
	}
	for _, rt := range []struct {
		name   string
		v      verify.Verifier
		p      events.Parser
		oracle func(r *http.Request, body []byte) error
	}{
		{"stripe", must(verify.NewStripe(stripeSecret)), stripeevent.NewParser(), stripeOracle},
		{"twilio", must(verify.NewTwilio(twilioToken)), twilioevent.NewParser(), twilioForm("")},
		{"twilio-proxy", must(verify.NewTwilio(twilioToken, verify.WithPublicURL(publicOrigin))), twilioevent.NewParser(), twilioForm(publicOrigin)},
		{"twilio-json", must(verify.NewTwilio(twilioToken, verify.WithPublicURL(publicOrigin))), generic, twilioForm(publicOrigin)},
		{"standard", must(verify.NewStandard(standardSecret)), goconverso, standardOracle},
		{"svix", must(verify.NewStandard(standardSecret)), goconverso, standardOracle},
		{"v1a", must(verify.NewStandard(v1aPublic)), goconverso, nil},
		{"etail", hmacRoute("etail", "etail_test"), etailevent.NewParser(), nil},
		{"github", hmacRoute("github", "github_test"), generic, nil},
		{"shopify", hmacRoute("shopify", "shopify_test"), generic, nil},
		{"slack", hmacRoute("slack", "slack_test"), generic, nil},
		{"goconverso", hmacRoute("goconverso", "goconverso_test"), conversoevent.NewParser(), nil},
	} {
		router := dispatch.NewRouter()
		router.HandleFunc("*", s.handle)
		s.routes[rt.name] = &route{name: rt.name, verifier: rt.v, oracle: rt.oracle, endpoint: dispatch.NewEndpoint(rt.v, rt.p, router, append(ageless, quiet)...)}
	}
	// /dead dead-letters every Stripe event on its first attempt; a re-run
	// succeeds. The admin API serves its dead letters.
	deadRouter := dispatch.NewRouter()
	var attempts sync.Map
	deadRouter.HandleFunc("*", func(ctx context.Context, e *events.Event) error {
		if _, again := attempts.LoadOrStore(e.Key(), true); !again {
			return dispatch.Permanent(errors.New("the booking is not there yet"))
		}
		return nil
	})
	stripeV := must(verify.NewStripe(stripeSecret))
	s.routes["dead"] = &route{name: "dead", verifier: stripeV, oracle: stripeOracle,
		endpoint: dispatch.NewEndpoint(stripeV, stripeevent.NewParser(), deadRouter, append(ageless, quiet, dispatch.WithDeadLetters(s.dead))...)}
	adminAPI, err := admin.New(admin.Config{Store: s.dead, Routers: map[string]*dispatch.Router{stripeevent.Source: deadRouter},
		Authorize: func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+adminToken }})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/dead-letters/", http.StripPrefix("/dead-letters", adminAPI))
	mux.HandleFunc("/", s.serve)
	s.srv = httptest.NewServer(mux)
	return s, nil
}

func (s *server) close() { s.srv.Close() }

// serve records a delivery, checks it with the route's verifier and SDK,
// and hands it to the route's Endpoint.
func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	name := routeOf(r.URL.Path)
	rt, ok := s.routes[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec := &received{method: r.Method, target: r.RequestURI, host: r.Host, header: r.Header.Clone(), body: body, lib: "ok", sdk: "-", decode: "-"}
	if err := rt.verifier.Verify(r, body); err != nil {
		rec.lib = err.Error()
	}
	if rt.oracle != nil {
		rec.sdk = "ok"
		if err := rt.oracle(r, body); err != nil {
			rec.sdk = "rejected"
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, rec))
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	rt.endpoint.ServeHTTP(sw, r)
	rec.status = sw.status
	s.mu.Lock()
	rec.n = len(s.log[name]) + 1
	s.log[name] = append(s.log[name], rec)
	s.mu.Unlock()
}

// routeOf names the route of a path: its first segment, or the sender in
// the paths of the repository's recorded deliveries
// (/api/v1/webhooks/stripe/payment-events).
func routeOf(path string) string {
	if rest, ok := strings.CutPrefix(path, "/api/v1/webhooks/"); ok {
		path = rest
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return name
}

// handle is every route's handler: it records the type and decodes the
// payload into its catalog type when there is one.
func (s *server) handle(ctx context.Context, e *events.Event) error {
	rec, ok := ctx.Value(ctxKey{}).(*received)
	if !ok {
		return nil
	}
	rec.typ = e.Type
	if decode, ok := decoders[e.Source+" "+e.Type]; ok {
		rec.decode = "ok"
		if err := decode(e); err != nil {
			rec.decode = err.Error()
		}
	}
	return nil
}

// decoders decode a catalog type's payload into its Go type.
var decoders = func() map[string]func(*events.Event) error {
	m := map[string]func(*events.Event) error{}
	add := func(source, name string, decode func(*events.Event) error) { m[source+" "+name] = decode }
	stripeTypes := map[string]func(*events.Event) error{
		stripeevent.PaymentIntentSucceeded.Name():      func(e *events.Event) error { _, err := stripeevent.PaymentIntentSucceeded.Decode(e); return err },
		stripeevent.PaymentIntentPaymentFailed.Name():  func(e *events.Event) error { _, err := stripeevent.PaymentIntentPaymentFailed.Decode(e); return err },
		stripeevent.ChargeRefunded.Name():              func(e *events.Event) error { _, err := stripeevent.ChargeRefunded.Decode(e); return err },
		stripeevent.CheckoutSessionCompleted.Name():    func(e *events.Event) error { _, err := stripeevent.CheckoutSessionCompleted.Decode(e); return err },
		stripeevent.CustomerSubscriptionCreated.Name(): func(e *events.Event) error { _, err := stripeevent.CustomerSubscriptionCreated.Decode(e); return err },
		stripeevent.CustomerSubscriptionUpdated.Name(): func(e *events.Event) error { _, err := stripeevent.CustomerSubscriptionUpdated.Decode(e); return err },
		stripeevent.CustomerSubscriptionDeleted.Name(): func(e *events.Event) error { _, err := stripeevent.CustomerSubscriptionDeleted.Decode(e); return err },
		stripeevent.InvoicePaymentSucceeded.Name():     func(e *events.Event) error { _, err := stripeevent.InvoicePaymentSucceeded.Decode(e); return err },
		stripeevent.InvoicePaymentFailed.Name():        func(e *events.Event) error { _, err := stripeevent.InvoicePaymentFailed.Decode(e); return err },
	}
	for name, decode := range stripeTypes {
		add(stripeevent.Source, name, decode)
	}
	for _, name := range twilioevent.Catalog() {
		if status, ok := strings.CutPrefix(name, "message."); ok {
			add(twilioevent.Source, name, func(e *events.Event) error { _, err := twilioevent.MessageType(status).Decode(e); return err })
		} else {
			status := strings.TrimPrefix(name, "call.")
			add(twilioevent.Source, name, func(e *events.Event) error { _, err := twilioevent.CallType(status).Decode(e); return err })
		}
	}
	return m
}()

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// deliveries returns a route's deliveries so far.
func (s *server) deliveries(name string) []*received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*received(nil), s.log[name]...)
}

// stripeOracle is stripe-go's verification (of the signature and the
// timestamp's age; it takes no position on the future).
func stripeOracle(r *http.Request, body []byte) error {
	return stripewebhook.ValidatePayloadWithTolerance(body, r.Header.Get("Stripe-Signature"), stripeSecret, 5*time.Minute)
}

// standardOracle is the Standard Webhooks library's verification; it reads
// only webhook-* headers, so Svix's are given to it under those names, as
// Svix's own libraries read them.
func standardOracle(r *http.Request, body []byte) error {
	wh, err := standardwebhooks.NewWebhook(standardSecret)
	if err != nil {
		return err
	}
	h := r.Header.Clone()
	for _, name := range []string{"Id", "Timestamp", "Signature"} {
		if v := h.Get("Svix-" + name); v != "" {
			h.Set("Webhook-"+name, v)
		}
	}
	return wh.Verify(body, h)
}

// twilioOracle is twilio-go's RequestValidator, over the URL Twilio
// requested: origin (or the request's own) and the path and query.
func twilioOracle(origin string, r *http.Request, body []byte) error {
	if origin == "" {
		origin = "http://" + r.Host
	}
	full := origin + r.RequestURI
	v := twilioclient.NewRequestValidator(twilioToken)
	sig := r.Header.Get("X-Twilio-Signature")
	if strings.Contains(r.RequestURI, "bodySHA256=") {
		if !v.ValidateBody(full, body, sig) {
			return errors.New("twilio-go: invalid")
		}
		return nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return err
	}
	params := map[string]string{}
	for k := range form {
		params[k] = form.Get(k)
	}
	if !v.Validate(full, params, sig) {
		return errors.New("twilio-go: invalid")
	}
	return nil
}

// describe prints a delivery on one line, as the deliveries command does.
func (rec *received) describe() string {
	sum := sha256.Sum256(rec.body)
	typ := rec.typ
	if typ == "" {
		typ = "-"
	}
	lib := rec.lib
	if lib != "ok" {
		lib = "rejected"
	}
	return fmt.Sprintf("#%d %d lib=%s sdk=%s type=%s decode=%s sha256=%s", rec.n, rec.status, lib, rec.sdk, typ,
		firstWord(rec.decode), hex.EncodeToString(sum[:8]))
}

func firstWord(s string) string {
	if s == "ok" || s == "-" {
		return s
	}
	return "error"
}
