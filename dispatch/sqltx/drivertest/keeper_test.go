package drivertest_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
)

// appliedSignal is the Keeper's log (slog.Default), written to a buffer,
// that signals each kept event it applied: the line it logs once that
// event's transaction has committed.
type appliedSignal struct {
	slog.Handler
	applied chan struct{}
}

func (h appliedSignal) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "kept event applied" {
		select {
		case h.applied <- struct{}{}:
		default: // one is enough to wake the test
		}
	}
	return h.Handler.Handle(ctx, r)
}

// A kept event whose run StopKept interrupts stays kept as it was (its
// runs not counted, nothing logged as a failure), and runs once the
// Keeper runs again; StopKept of a stopped runner is a no-op.
func TestStopKeptMidRunKeepsTheEvent(t *testing.T) {
	var logs bytes.Buffer
	appliedLogged := make(chan struct{}, 4)
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(appliedSignal{slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}), appliedLogged}))

	db, hk := orderedSQLite(t, "sqlite")
	ctx := context.Background()
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
	send := bookingSender(t, hk, r)
	keptRuns := func() (n, runs int) {
		t.Helper()
		if err := db.QueryRow(`SELECT COUNT(*), COALESCE(MAX(runs), 0) FROM hookkit_kept`).Scan(&n, &runs); err != nil {
			t.Fatal(err)
		}
		return n, runs
	}

	if code := send("booking.confirmed", "midrun", 2000); code != http.StatusOK { // before its booking: kept
		t.Fatalf("confirmation: status %d", code)
	}
	n, runsBefore := keptRuns()
	if n != 1 {
		t.Fatalf("%d events kept, want the confirmation", n)
	}
	mu.Lock()
	block = true
	mu.Unlock()
	if code := send("booking.created", "midrun", 1000); code != http.StatusOK { // its commit wakes the Keeper, whose run blocks
		t.Fatalf("creation: status %d", code)
	}
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
	if err := hk.StopKept(ctx); err != nil {
		t.Errorf("StopKept of a stopped runner: %v, want nil", err)
	}

	mu.Lock()
	block = false
	mu.Unlock()
	hk.RunKept("goconverso", r) // the next start: the kept event is due (its object advanced)
	select {
	case <-appliedLogged:
	case <-time.After(10 * time.Second):
		t.Fatal("the kept confirmation was not applied within 10s of the Keeper's restart")
	}
	mu.Lock()
	defer mu.Unlock()
	if n, _ := keptRuns(); applied != 1 || n != 0 {
		t.Errorf("after the restart: applied %d times, %d still kept; want applied once, none kept", applied, n)
	}
}
