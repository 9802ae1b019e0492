package integration_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
)

// syncBuffer is a log sink safe for River's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// L4: a queue whose pool cannot serve its workers and its batches at once
// (pgxpool's default is 4 connections on 2 cores, River's default 10
// workers) makes acknowledgements wait for handlers to end. Start says so,
// with the pool's size and the size needed, learnt from the Transactor
// (pgxpool's MaxConns, database/sql's SetMaxOpenConns); with
// Config.RefuseSmallPool it refuses to start. A pool large enough, or
// without a limit, starts silently. Before, nothing was said.
func TestStartWarnsOrRefusesASmallPool(t *testing.T) {
	for _, c := range []struct {
		db            string
		conns, needed int // needed: 10 workers, the flushers (2 on PostgreSQL, 1 on SQLite), River's own
	}{
		{"sqlite", 4, 12},
		{"postgres", 4, 14},
	} {
		t.Run(c.db, func(t *testing.T) {
			newQueue := func(t *testing.T, conns int, cfg riverqueue.Config) riverqueue.Handle {
				t.Helper()
				var (
					q   riverqueue.Handle
					err error
				)
				if c.db == "sqlite" {
					db := relSQLite(t, conns)
					q, err = riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), dispatch.NewRouter(), cfg)
				} else {
					pool := relPool(t, conns)
					q, err = riverqueue.New(riverpgxv5.New(pool), pgxtx.NewTransactor(pool), dispatch.NewRouter(), cfg)
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := q.Migrate(relCtx); err != nil {
					t.Fatal(err)
				}
				return q
			}
			start := func(t *testing.T, q riverqueue.Handle) error {
				err := q.Start(relCtx)
				if err == nil {
					t.Cleanup(func() {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						defer cancel()
						q.Stop(ctx)
					})
				}
				return err
			}
			const warning = "fewer connections than the queue needs"

			var logs syncBuffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			if err := start(t, newQueue(t, c.conns, riverqueue.Config{Logger: logger})); err != nil {
				t.Fatalf("a small pool, warned: %v", err)
			}
			if line := logs.String(); !strings.Contains(line, warning) || !strings.Contains(line, "pool=4") ||
				!strings.Contains(line, "needed="+strconv.Itoa(c.needed)) {
				t.Errorf("no warning naming the pool (4) and the need (%d): %s", c.needed, line)
			}

			err := start(t, newQueue(t, c.conns, riverqueue.Config{Logger: logger, RefuseSmallPool: true}))
			if !errors.Is(err, dispatch.ErrInvalidConfig) || !strings.Contains(err.Error(), "needs "+strconv.Itoa(c.needed)) {
				t.Errorf("a small pool, refused: %v; want ErrInvalidConfig naming the need", err)
			}

			var quiet syncBuffer
			if err := start(t, newQueue(t, c.needed, riverqueue.Config{Logger: slog.New(slog.NewTextHandler(&quiet, nil)), RefuseSmallPool: true})); err != nil {
				t.Errorf("a pool of %d: %v", c.needed, err)
			}
			if strings.Contains(quiet.String(), warning) {
				t.Errorf("a pool large enough was warned about: %s", quiet.String())
			}
		})
	}
}
