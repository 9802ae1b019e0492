package pgxtx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/deadlettertest"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/pgxtx/internal/servicetest"
	"github.com/hookkit/hookkit/dispatch/pgxtx/internal/txaccepttest"
	"github.com/hookkit/hookkit/dispatch/txstep"
)

var ctx = context.Background()

func binding(t *testing.T, pool *pgxpool.Pool, tb txaccepttest.Tables, open func(t *testing.T) *pgxpool.Pool) txaccepttest.Binding {
	t.Helper()
	hk, err := pgxtx.New(pool, txstep.Config{IdempotencyTable: tb.Idempotency, DeadLetterTable: tb.DeadLetters})
	if err != nil {
		t.Fatal(err)
	}
	if err := hk.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hk.StopKept(ctx) }) // before the pool closes
	on := txaccepttest.SQL{
		Exec: func(ctx context.Context, query string, args ...any) error {
			_, err := pool.Exec(ctx, query, args...)
			return err
		},
		Count: func(ctx context.Context, query string, args ...any) (n int, err error) {
			err = pool.QueryRow(ctx, query, args...).Scan(&n)
			return n, err
		},
	}
	return txaccepttest.OnTables(t, on, tb, true, txaccepttest.Binding{
		Acceptor:    hk.Acceptor(),
		DeadLetters: hk.DeadLetters(),
		Stats:       hk.Stats,
		Effect: func(ctx context.Context, id string) error {
			tx, ok := pgxtx.Tx(ctx)
			if !ok {
				return errors.New("no transaction in the handler's context")
			}
			_, err := tx.Exec(ctx, `INSERT INTO `+tb.Effects+` (event_id) VALUES ($1)`, id)
			return err
		},
		Replica: func(t *testing.T) txaccepttest.Binding { return binding(t, open(t), tb, open) },
	})
}

func TestPostgres(t *testing.T) {
	url := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
	open := func(t *testing.T) *pgxpool.Pool {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if err := pool.Ping(ctx); err != nil {
			servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
		}
		return pool
	}
	txaccepttest.Run(t, func(t *testing.T) txaccepttest.Binding {
		pool := open(t)
		tb := txaccepttest.NewTables()
		t.Cleanup(func() {
			for _, name := range []string{tb.Idempotency, tb.DeadLetters, tb.DeadLetters + "_x", tb.Effects} {
				pool.Exec(ctx, `DROP TABLE IF EXISTS `+name)
			}
		})
		return binding(t, pool, tb, open)
	})
}

func TestConfigIsValidated(t *testing.T) {
	_, err := pgxtx.New(nil, txstep.Config{})
	if err == nil {
		t.Fatalf("New with a nil pool: got nil error, want one")
	}
}

func TestDeadLettersConformance(t *testing.T) {
	url := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
	if conn, err := pgx.Connect(ctx, url); err != nil {
		servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
	} else {
		conn.Close(ctx)
	}
	deadlettertest.Run(t, func(t *testing.T, _ *dispatch.Router) deadlettertest.Harness {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		idem, dl := servicetest.RandomName("hk_idem_"), servicetest.RandomName("hk_dl_")
		t.Cleanup(func() {
			for _, name := range []string{idem, dl} {
				pool.Exec(context.Background(), `DROP TABLE IF EXISTS `+name)
			}
		})
		hk, err := pgxtx.New(pool, txstep.Config{IdempotencyTable: idem, DeadLetterTable: dl})
		if err != nil {
			t.Fatal(err)
		}
		if err := hk.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return deadlettertest.Harness{Store: hk.DeadLetters(), Options: []dispatch.Option{dispatch.WithAcceptor(hk.Acceptor())}}
	})
}
