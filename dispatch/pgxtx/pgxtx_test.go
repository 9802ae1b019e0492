package pgxtx_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/deadlettertest"
	"github.com/hookkit/hookkit/dispatch/internal/txaccepttest"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/internal/servicetest"
)

var ctx = context.Background()

func randomName(prefix string) string {
	var raw [6]byte
	rand.Read(raw[:])
	return prefix + hex.EncodeToString(raw[:])
}

type tables struct{ idempotency, deadLetters, effects string }

func mode(t *testing.T, pool *pgxpool.Pool, tb tables, open func(t *testing.T) *pgxpool.Pool) txaccepttest.Mode {
	t.Helper()
	hk, err := pgxtx.New(pool, pgxtx.Config{IdempotencyTable: tb.idempotency, DeadLetterTable: tb.deadLetters})
	require.NoError(t, err)
	require.NoError(t, hk.Migrate(ctx))
	// No unique constraint: a handler that ran twice leaves two rows.
	_, err = pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+tb.effects+` (event_id text NOT NULL)`)
	require.NoError(t, err)
	rename := func(from, to string) func(t *testing.T) {
		return func(t *testing.T) {
			_, err := pool.Exec(ctx, `ALTER TABLE `+from+` RENAME TO `+to)
			require.NoError(t, err)
		}
	}
	count := func(query string) func(t *testing.T) int {
		return func(t *testing.T) int {
			var n int
			require.NoError(t, pool.QueryRow(ctx, query).Scan(&n))
			return n
		}
	}
	return txaccepttest.Mode{
		Acceptor:    hk.Acceptor(),
		DeadLetters: hk.DeadLetters(),
		Stats:       hk.Stats,
		Effect: func(ctx context.Context, id string) error {
			tx, ok := pgxtx.Tx(ctx)
			if !ok {
				return errors.New("no transaction in the handler's context")
			}
			_, err := tx.Exec(ctx, `INSERT INTO `+tb.effects+` (event_id) VALUES ($1)`, id)
			return err
		},
		Effects: func(t *testing.T, id string) int {
			var n int
			require.NoError(t, pool.QueryRow(ctx, `SELECT COUNT(*) FROM `+tb.effects+` WHERE event_id = $1`, id).Scan(&n))
			return n
		},
		BreakDeadLetters: rename(tb.deadLetters, tb.deadLetters+"_x"),
		FixDeadLetters:   rename(tb.deadLetters+"_x", tb.deadLetters),
		Replica:          func(t *testing.T) txaccepttest.Mode { return mode(t, open(t), tb, open) },
		ClosedRows:       count(`SELECT COUNT(*) FROM ` + tb.deadLetters + ` WHERE state <> 'open'`),
		ClosedWithContent: count(`SELECT COUNT(*) FROM ` + tb.deadLetters +
			` WHERE state <> 'open' AND (length(body) > 0 OR length(data) > 0 OR header <> '{}')`),
		AgeClosed: func(t *testing.T) {
			_, err := pool.Exec(ctx, `UPDATE `+tb.deadLetters+` SET closed_at = closed_at - interval '8 days' WHERE state <> 'open'`)
			require.NoError(t, err)
		},
		Waits: true,
	}
}

func TestPostgres(t *testing.T) {
	url := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
	open := func(t *testing.T) *pgxpool.Pool {
		pool, err := pgxpool.New(ctx, url)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		if err := pool.Ping(ctx); err != nil {
			servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
		}
		return pool
	}
	txaccepttest.Run(t, func(t *testing.T) txaccepttest.Mode {
		pool := open(t)
		tb := tables{randomName("hk_idem_"), randomName("hk_dl_"), randomName("hk_effects_")}
		t.Cleanup(func() {
			for _, name := range []string{tb.idempotency, tb.deadLetters, tb.deadLetters + "_x", tb.effects} {
				pool.Exec(ctx, `DROP TABLE IF EXISTS `+name)
			}
		})
		return mode(t, pool, tb, open)
	})
}

func TestConfigIsValidated(t *testing.T) {
	_, err := pgxtx.New(nil, pgxtx.Config{})
	require.Error(t, err)
}

func TestDeadLettersConformance(t *testing.T) {
	url := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
	deadlettertest.Run(t, func(t *testing.T, _ *dispatch.Router) deadlettertest.Harness {
		pool, err := pgxpool.New(ctx, url)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		idem, dl := randomName("hk_idem_"), randomName("hk_dl_")
		t.Cleanup(func() {
			for _, name := range []string{idem, dl} {
				pool.Exec(context.Background(), `DROP TABLE IF EXISTS `+name)
			}
		})
		hk, err := pgxtx.New(pool, pgxtx.Config{IdempotencyTable: idem, DeadLetterTable: dl})
		require.NoError(t, err)
		require.NoError(t, hk.Migrate(ctx))
		return deadlettertest.Harness{Store: hk.DeadLetters(), Options: []dispatch.Option{dispatch.WithAcceptor(hk.Acceptor())}}
	})
}
