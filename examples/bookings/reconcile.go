package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/twilioreconcile"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
)

// Webhooks that never arrive — the backend down past a sender's retries
// (Stripe's three days, Twilio's four attempts in about 36 minutes) —
// are recovered from the senders' own APIs (dispatch/reconcile): Stripe's
// List Events for the Stripe route's event types, Twilio's Messages for
// the SMS statuses. Each recovered event goes through its route's
// Endpoint (parser, key, accept step) as its delivery would have, so an
// event that arrives both ways takes effect once, whichever comes first.
// Each reconciler keeps its checkpoint in the bookings database
// (reconcileTable); River runs them every reconcileEvery as a periodic
// job, on one replica at a time; GET /reconcile/ shows their status and
// POST /reconcile/{name}/run starts a run (with BOOKINGS_API_TOKEN).
//
// They run only with the senders' API credentials: STRIPE_API_KEY (a
// restricted key that may read events), and TWILIO_ACCOUNT_SID with the
// auth token the callbacks are verified with (TWILIO_AUTH_TOKEN).

// defaultReconcileEvery is the period of the reconciliation job.
const defaultReconcileEvery = 5 * time.Minute

// reconcileTable holds the reconcilers' checkpoints.
const reconcileTable = "webhook_reconcile"

// reconciling is the backend's reconcilers and the River job that runs
// them.
type reconciling struct {
	job         *riverqueue.Reconciliations // nil without a schedule
	reconcilers []*reconcile.Reconciler
}

// scheduleReconcile adds the reconciliation job to rc when the backend
// has an API credential and a schedule (cfg.reconcileEvery not negative).
func scheduleReconcile(rc *river.Config, cfg config) (*riverqueue.Reconciliations, error) {
	if !cfg.secrets.reconciles() || cfg.reconcileEvery < 0 {
		return nil, nil
	}
	every := cfg.reconcileEvery
	if every == 0 {
		every = defaultReconcileEvery
	}
	return riverqueue.AddReconcile(rc, riverqueue.ReconcileConfig{Every: every, Queue: smsQueue})
}

// reconciles reports whether any sender's API credentials are set.
func (s secrets) reconciles() bool { return s.StripeAPIKey != "" || s.TwilioAccountSid != "" }

// newReconcilers builds a reconciler for each sender whose API
// credentials are set, on its route's Endpoint, and adds them to job
// (when there is one).
func newReconcilers(ctx context.Context, st *store, cfg config, stripeEP, twilioEP *dispatch.Endpoint,
	job *riverqueue.Reconciliations, logger *slog.Logger) (*reconciling, error) {
	r := &reconciling{job: job}
	if !cfg.secrets.reconciles() {
		return r, nil
	}
	dialect := reconcile.SQLite
	if st.postgres {
		dialect = reconcile.PostgreSQL
	}
	checkpoints, err := reconcile.NewSQLStore(st.db, reconcile.SQLConfig{Dialect: dialect, Table: reconcileTable})
	if err != nil {
		return nil, err
	}
	if err := checkpoints.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("creating the reconcilers' table: %w", err)
	}
	type source struct {
		ep  *dispatch.Endpoint
		src reconcile.Source
	}
	var sources []source
	if key := cfg.secrets.StripeAPIKey; key != "" {
		src, err := reconcile.NewStripe(reconcile.StripeConfig{Key: key, URL: cfg.apiURL})
		if err != nil {
			return nil, fmt.Errorf("STRIPE_API_KEY: %w", err)
		}
		sources = append(sources, source{stripeEP, src})
	}
	if sid := cfg.secrets.TwilioAccountSid; sid != "" {
		src, err := twilioreconcile.New(twilioreconcile.Config{AccountSid: sid, AuthToken: cfg.secrets.Twilio, URL: cfg.apiURL})
		if err != nil {
			return nil, fmt.Errorf("TWILIO_ACCOUNT_SID: %w", err)
		}
		sources = append(sources, source{twilioEP, src})
	}
	for _, s := range sources {
		rec, err := reconcile.New(reconcile.Config{Endpoint: s.ep, Source: s.src, Store: checkpoints, Logger: logger})
		if err != nil {
			return nil, err
		}
		r.reconcilers = append(r.reconcilers, rec)
	}
	if job != nil {
		if err := job.Add(r.reconcilers...); err != nil {
			return nil, err
		}
	}
	return r, nil
}
