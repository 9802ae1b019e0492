package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"riverqueue.com/riverui"
	"riverqueue.com/riverui/uiendpoints"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
)

// smsJobs is the Twilio route's accept step and its workers, on River in
// the bookings database (dispatch/riverqueue): a status callback is
// acknowledged once its job's insert has committed, and River's workers run
// smsStatus for it in the job's transaction, retrying failures. A job that
// fails every attempt is discarded: it is a dead letter, listed by GET
// /dead-letters/ and shown in River's UI (-admin), and re-run by River.
type smsJobs struct {
	queue       riverqueue.Handle
	deadLetters dispatch.DeadLetterStore
	// ui is River's web UI's API on the same client.
	ui uiendpoints.Bundle
}

// smsQueue is the River queue of the SMS status jobs (and of the
// reconciliation job).
const smsQueue = "sms_status"

// smsPollInterval is how often workers look for new jobs where the
// database cannot notify them (SQLite; PostgreSQL notifies at once).
const smsPollInterval = 200 * time.Millisecond

// newSMSJobs builds the queue on st's database, creating River's tables if
// they are missing. retry, when not nil, replaces River's retry schedule
// (riverqueue.StandardWebhooksSchedule). rc is River's configuration, with
// the host's own periodic jobs (the reconciliation's).
func newSMSJobs(ctx context.Context, st *store, r *dispatch.Router, logger *slog.Logger, retry []time.Duration, rc *river.Config) (*smsJobs, error) {
	rc.FetchPollInterval = smsPollInterval
	cfg := riverqueue.Config{
		Queue:  smsQueue,
		Retry:  retry,
		Logger: logger,
		River:  rc,
	}
	if st.pool != nil {
		q, err := riverqueue.New(riverpgxv5.New(st.pool), pgxtx.NewTransactor(st.pool), r, cfg)
		if err != nil {
			return nil, err
		}
		return migrated(ctx, q, riverui.NewEndpoints(q.Client(), nil))
	}
	q, err := riverqueue.New(riversqlite.New(st.db), sqltx.NewTransactor(st.db), r, cfg)
	if err != nil {
		return nil, err
	}
	return migrated(ctx, q, riverui.NewEndpoints(q.Client(), nil))
}

// migrated creates River's tables if they are missing: from here on the
// queue is a riverqueue.Handle, whatever its database.
func migrated(ctx context.Context, q riverqueue.Handle, ui uiendpoints.Bundle) (*smsJobs, error) {
	if err := q.Migrate(ctx); err != nil {
		return nil, err
	}
	return &smsJobs{queue: q, deadLetters: q.DeadLetters(), ui: ui}, nil
}

// errAdminWithoutToken is why -admin refuses to start without
// BOOKINGS_API_TOKEN.
var errAdminWithoutToken = errors.New("-admin needs BOOKINGS_API_TOKEN: River's UI shows event bodies and can retry or delete jobs")

// adminHandler is River's web UI, for an operator to see queued, retrying
// and discarded webhook jobs, behind HTTP Basic authentication whose
// password is the API token (any user name). Its background services run
// until ctx ends.
func (a *app) adminHandler(ctx context.Context) (http.Handler, error) {
	if a.apiToken == "" {
		return nil, errAdminWithoutToken
	}
	// Job arguments hold the event's body (a customer's phone number):
	// shown on a job's page, not in every list.
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: a.jobs.ui, Logger: a.logger, JobListHideArgsByDefault: true})
	if err != nil {
		return nil, err
	}
	if err := ui.Start(ctx); err != nil {
		return nil, err
	}
	// The browser keeps sending the Basic credentials once given: another
	// site's form must not be able to retry or delete a job with them.
	return noFramingNoCaching(requireBasic(a.apiToken, http.NewCrossOriginProtection().Handler(ui))), nil
}

// noFramingNoCaching sets, on every answer (the 401 too), the headers that
// keep the UI's pages out of another site's frames (clickjacking a retry or
// a delete) and out of every cache (the pages and API answers show phone
// numbers).
func noFramingNoCaching(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// requireBasic answers 401 with a Basic challenge to a request whose
// password is not token. Like requireBearer, it compares hashes, in
// constant time.
func requireBasic(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, password, ok := r.BasicAuth()
		if !ok || !tokenMatches(token, password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="bookings admin", charset="UTF-8"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenMatches compares got with the token in constant time: both are
// hashed first, so not even the token's length leaks.
func tokenMatches(token, got string) bool {
	want, sum := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}
