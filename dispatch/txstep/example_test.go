package txstep_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// memTx is a transaction of memDB: its writes apply at commit.
type memTx struct {
	keys   []string
	writes []string
}

// memDB is a toy database, bound to the step as a binding of another
// database library would be. Its claim is not a real one: a binding
// claims the key with a row lock the transaction holds until it ends
// (see sqlstore.Store.ClaimTx), so that a concurrent delivery of the same
// event waits for it.
type memDB struct {
	mu      sync.Mutex
	keys    map[string]bool
	rows    []string
	letters []dispatch.DeadLetter
}

func (db *memDB) Begin(context.Context) (*memTx, error) { return &memTx{}, nil }

func (db *memDB) End(_ context.Context, tx *memTx, commit bool) error {
	if commit {
		db.mu.Lock()
		defer db.mu.Unlock()
		for _, k := range tx.keys {
			db.keys[k] = true
		}
		db.rows = append(db.rows, tx.writes...)
	}
	return nil
}

func (db *memDB) ClaimTx(_ context.Context, tx *memTx, key string) (idempotency.State, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.keys[key] {
		return idempotency.Completed, nil
	}
	tx.keys = append(tx.keys, key)
	return idempotency.Acquired, nil
}

func (db *memDB) DeadLetterTx(_ context.Context, tx *memTx, dl dispatch.DeadLetter) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.letters = append(db.letters, dl)
	return nil
}

// A binding of another database library: the handler writes in the
// transaction that claims its event's key, so its write and the key
// commit together. The duplicate delivery runs nothing; the failed one
// commits nothing, and its retry runs again.
func ExampleNew() {
	db := &memDB{keys: map[string]bool{}}
	acceptor, err := txstep.New[*memTx](db)
	if err != nil {
		log.Fatal(err)
	}
	fail := true
	r := dispatch.NewRouter()
	r.HandleFunc("booking.created", func(ctx context.Context, e *events.Event) error {
		tx, ok := txstep.TxFrom[*memTx](ctx)
		if !ok {
			return dispatch.ErrNoTransaction
		}
		tx.writes = append(tx.writes, "booking of "+e.ID)
		if fail {
			fail = false
			return errors.New("the calendar is down")
		}
		return nil
	})
	v, err := verify.NewHMAC([]byte("secret"), "X-Signature")
	if err != nil {
		log.Fatal(err)
	}
	p, err := events.NewJSONParserSafely(events.JSONConfig{Source: "shop", ID: "id", Type: "type", Time: "created"})
	if err != nil {
		log.Fatal(err)
	}
	ep := dispatch.NewEndpoint(v, p, r,
		dispatch.WithAcceptor(acceptor), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	// The sender signs its body and no time: an event older than the
	// Endpoint's age window (84 hours by default) would be refused.
	body := fmt.Appendf(nil, `{"id":"evt_1","type":"booking.created","created":%d}`, time.Now().Unix())
	for range 3 { // the failed delivery, its retry, a duplicate
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, verifytest.NewRequest(verifytest.HMAC{Secret: []byte("secret"), Header: "X-Signature"}, "/webhooks", body))
		fmt.Println(rec.Code)
	}
	fmt.Println(db.rows)
	// Output:
	// 500
	// 200
	// 200
	// [booking of evt_1]
}
