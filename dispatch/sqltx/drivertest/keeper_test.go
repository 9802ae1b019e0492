package drivertest_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// A kept event whose run StopKept interrupts stays kept as it was (its
// runs not counted, nothing logged as a failure), and runs once the
// Keeper runs again.
func TestStopKeptMidRunKeepsTheEvent(t *testing.T) {
	var logs bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))) // the Keeper's logger

	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "midrun.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(4)
	hk, err := sqltx.NewSQLite(db, txstep.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := hk.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	defer hk.StopKept(ctx)

	var mu sync.Mutex
	created, block, applied := false, false, 0
	running := make(chan struct{}, 1)
	r := dispatch.NewRouter()
	r.Use(dispatch.Ordered(conversoevent.Ordering))
	r.HandleFunc("booking.*", func(ctx context.Context, e *events.Event) error {
		mu.Lock()
		if e.Type == "booking.created" {
			created = true
			mu.Unlock()
			return nil
		}
		if !created {
			mu.Unlock()
			return fmt.Errorf("booking not here yet: %w", dispatch.ErrNotYet)
		}
		if block {
			mu.Unlock()
			running <- struct{}{}
			<-ctx.Done() // until StopKept
			return ctx.Err()
		}
		applied++
		mu.Unlock()
		return nil
	})
	signer := verifytest.HMAC{Secret: []byte("gc_midrun"), Header: "X-Goconverso-Signature"}
	v, err := verify.NewHMAC(signer.Secret, signer.Header)
	if err != nil {
		t.Fatal(err)
	}
	ep := dispatch.NewEndpoint(v, conversoevent.NewParser(), r, dispatch.WithAcceptor(hk.Acceptor()), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	defer ep.Shutdown(ctx)
	hour := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15")
	send := func(typ string, second int) {
		t.Helper()
		body := fmt.Appendf(nil, `{"event":%q,"timestamp":"%s:00:%02d.000Z","data":{"booking_id":"midrun","status":"confirmed"}}`, typ, hour, second)
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, verifytest.NewRequest(signer, "/", body))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", typ, rec.Code, rec.Body)
		}
	}
	keptRuns := func() (n, runs int) {
		t.Helper()
		if err := db.QueryRow(`SELECT COUNT(*), COALESCE(MAX(runs), 0) FROM hookkit_kept`).Scan(&n, &runs); err != nil {
			t.Fatal(err)
		}
		return n, runs
	}

	send("booking.confirmed", 2) // before its booking: kept
	n, runsBefore := keptRuns()
	if n != 1 {
		t.Fatalf("%d events kept, want the confirmation", n)
	}
	mu.Lock()
	block = true
	mu.Unlock()
	send("booking.created", 1) // its commit wakes the Keeper, whose run blocks
	select {
	case <-running:
	case <-time.After(10 * time.Second):
		t.Fatal("the Keeper did not run the kept confirmation within 10s of its booking's creation")
	}
	if err := hk.StopKept(ctx); err != nil {
		t.Fatalf("StopKept: %v", err)
	}
	if n, runs := keptRuns(); n != 1 || runs != runsBefore {
		t.Errorf("after the interrupted run: %d kept, runs %d; want the confirmation kept, runs %d as before", n, runs, runsBefore)
	}
	if bytes.Contains(logs.Bytes(), []byte("level=ERROR")) || bytes.Contains(logs.Bytes(), []byte("kept again")) {
		t.Errorf("an interrupted run was logged as a failure:\n%s", logs.String())
	}

	mu.Lock()
	block = false
	mu.Unlock()
	hk.RunKept("goconverso", r) // the next start: the kept event is due (its object advanced)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := applied == 1
		mu.Unlock()
		if n, _ := keptRuns(); done && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the kept confirmation was not applied within 10s of the Keeper's restart")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
