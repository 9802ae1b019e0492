package integration_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// The ordering tests' host: GoConverso's booking events (testdata/goconverso,
// the shape GoConverso documents), applied by ordered handlers to a
// bookings table through the handler's transaction, whatever the accept
// step: a booking exists once created; the rest of its life is about a
// booking that must exist (dispatch.ErrNotYet before).

var conversoSigner = verifytest.HMAC{Secret: []byte("gc_order"), Header: "X-Goconverso-Signature"}

// bookingLife is a booking's life in the order it happened.
var bookingLife = []string{"booking.created", "booking.confirmed", "booking.rescheduled", "booking.cancelled"}

// bookingEvent returns the recorded delivery of event name about booking id.
func bookingEvent(t testing.TB, name, id string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/goconverso/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.ReplaceAll(raw, []byte(`"timestamp": "2026-11-23T08:`), []byte(`"timestamp": "`+lifeHour+`:`))
	return bytes.Replace(raw, []byte(`"booking_id": "12345"`), []byte(`"booking_id": "`+id+`"`), 1)
}

// lifeHour is the hour the recorded life is moved to, within the age an
// Endpoint accepts (its minutes and seconds stay as recorded).
var lifeHour = time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15")

// bookingHost is the bookings table on one database and the router whose
// ordered handlers keep it.
type bookingHost struct {
	postgres bool
	// exec runs a statement outside any handler.
	exec func(t testing.TB, query string, args ...any)
	// scan runs a query that returns one row outside any handler.
	scan func(query string, args []any, dest ...any) error

	mu      sync.Mutex
	applied map[string]time.Time // booking id + " " + event type -> when its handler wrote it
	kept    map[string]bool      // booking id + " " + event type -> said ErrNotYet once
	// during tracks the handlers running per booking, and whether any two
	// of one booking ever overlapped, and any two of different bookings.
	during          map[string]int
	running         int
	overlapSame     bool
	overlapDiffered bool
	// hold bounds how long a handler waits, for the overlap tests, for a
	// handler of another booking to be running beside it (arrived is
	// closed at each handler's entry).
	hold    time.Duration
	arrived chan struct{}
}

// newBookingHost creates the bookings tables on db.
func newBookingHost(t testing.TB, postgres bool, db *sql.DB) *bookingHost {
	t.Helper()
	return newBookingHostOn(t, postgres, func(query string, args ...any) error {
		_, err := db.Exec(query, args...)
		return err
	}, func(query string, args []any, dest ...any) error { return db.QueryRow(query, args...).Scan(dest...) })
}

// newBookingHostOn creates the bookings tables with exec, and reads them
// with scan.
func newBookingHostOn(t testing.TB, postgres bool, exec func(query string, args ...any) error, scan func(query string, args []any, dest ...any) error) *bookingHost {
	t.Helper()
	h := &bookingHost{postgres: postgres, applied: map[string]time.Time{}, kept: map[string]bool{}, during: map[string]int{}, scan: scan,
		exec: func(t testing.TB, query string, args ...any) {
			t.Helper()
			if err := exec(query, args...); err != nil {
				t.Fatal(err)
			}
		},
	}
	h.exec(t, `CREATE TABLE IF NOT EXISTS bookings (id text PRIMARY KEY, status text NOT NULL, scheduled_at text NOT NULL, last_event text NOT NULL)`)
	h.exec(t, `CREATE TABLE IF NOT EXISTS booking_effects (booking text NOT NULL, type text NOT NULL)`)
	return h
}

// router returns the ordered handlers.
func (h *bookingHost) router() *dispatch.Router {
	r := dispatch.NewRouter()
	r.Use(dispatch.Ordered(conversoevent.Ordering))
	for _, name := range bookingLife {
		dispatch.On(r, events.NewType[*conversoevent.Booking](name), h.apply)
	}
	return r
}

// bind turns ? placeholders into PostgreSQL's $n.
func (h *bookingHost) bind(query string) string {
	if !h.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// txExec runs a statement in the handler's transaction, whichever library
// it is on, and returns the rows it affected.
func txExec(ctx context.Context, query string, args ...any) (int64, error) {
	if tx, ok := sqltx.Tx(ctx); ok {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	if tx, ok := pgxtx.Tx(ctx); ok {
		tag, err := tx.Exec(ctx, query, args...)
		return tag.RowsAffected(), err
	}
	return 0, dispatch.ErrNoTransaction
}

var quietLog = slog.New(slog.DiscardHandler)

func (h *bookingHost) apply(ctx context.Context, e *events.Event, b *conversoevent.Booking) error {
	h.enter(b.BookingID)
	defer h.leave(b.BookingID)
	at := b.ScheduledAt.UTC().Format(time.RFC3339)
	var n int64
	var err error
	if e.Type == "booking.created" {
		n, err = txExec(ctx, h.bind(`INSERT INTO bookings (id, status, scheduled_at, last_event) VALUES (?, ?, ?, ?)`), b.BookingID, b.Status, at, e.Type)
	} else {
		n, err = txExec(ctx, h.bind(`UPDATE bookings SET status = ?, scheduled_at = ?, last_event = ? WHERE id = ?`), b.Status, at, e.Type, b.BookingID)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		h.mu.Lock()
		h.kept[b.BookingID+" "+e.Type] = true
		h.mu.Unlock()
		return fmt.Errorf("booking %s: %w", b.BookingID, dispatch.ErrNotYet)
	}
	if _, err := txExec(ctx, h.bind(`INSERT INTO booking_effects (booking, type) VALUES (?, ?)`), b.BookingID, e.Type); err != nil {
		return err
	}
	h.mu.Lock()
	h.applied[b.BookingID+" "+e.Type] = time.Now()
	h.mu.Unlock()
	return nil
}

// enter and leave track the handlers running, per booking.
func (h *bookingHost) enter(id string) {
	h.mu.Lock()
	h.during[id]++
	h.running++
	if h.during[id] > 1 {
		h.overlapSame = true
	}
	if h.running > h.during[id] {
		h.overlapDiffered = true
	}
	if h.arrived != nil {
		close(h.arrived)
	}
	h.arrived = make(chan struct{})
	next, alone, hold := h.arrived, h.running == h.during[id], h.hold
	h.mu.Unlock()
	if hold > 0 && alone {
		// Held until another handler enters (the overlap of different
		// bookings the test looks for, and a window in which one of the
		// same booking would show), at most hold.
		timer := time.NewTimer(hold)
		defer timer.Stop()
		select {
		case <-next:
		case <-timer.C:
		}
	}
}

func (h *bookingHost) leave(id string) {
	h.mu.Lock()
	h.during[id]--
	h.running--
	h.mu.Unlock()
}

// state returns booking id's row: status, scheduled time, last event.
func (h *bookingHost) state(t testing.TB, id string) string {
	t.Helper()
	var status, at, last string
	err := h.scan(h.bind(`SELECT status, scheduled_at, last_event FROM bookings WHERE id = ?`), []any{id}, &status, &at, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return "absent"
	}
	if err != nil {
		t.Fatal(err)
	}
	return status + " " + at + " " + last
}

// effects returns how many times each event of booking id was applied.
func (h *bookingHost) effects(t testing.TB, id string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, name := range bookingLife {
		var n int
		if err := h.scan(h.bind(`SELECT count(*) FROM booking_effects WHERE booking = ? AND type = ?`), []any{id, name}, &n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	return out
}

// conversoEndpoint is GoConverso's Endpoint on r, configured by opts.
func conversoEndpoint(t testing.TB, r *dispatch.Router, opts ...dispatch.Option) *dispatch.Endpoint {
	t.Helper()
	v, err := verify.NewHMAC(conversoSigner.Secret, conversoSigner.Header)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := dispatch.NewEndpointSafely(v, conversoevent.NewParser(), r, append([]dispatch.Option{dispatch.WithLogger(quietLog)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ep.Shutdown(ctx)
	})
	return ep
}

// sendBooking delivers event name of booking id to h, and returns the status.
func sendBooking(t testing.TB, h http.Handler, name, id string) int {
	t.Helper()
	rec := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rec, verifytest.NewRequest(conversoSigner, "/webhooks/goconverso", bookingEvent(t, name, id)))
	return rec.status
}

type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(status int)      { r.status = status }

// permutations returns every permutation of 0..n-1.
func permutations(n int) [][]int {
	var out [][]int
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			out = append(out, append([]int(nil), s...))
			return
		}
		for i := k; i < n; i++ {
			s[k], s[i] = s[i], s[k]
			rec(k + 1)
			s[k], s[i] = s[i], s[k]
		}
	}
	rec(0)
	return out
}
