package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

func ExampleNewMemoryStore() {
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	key := "stripe:evt_1NG8Du2eZvKYlo2CUI79vXWy"

	first, _ := store.Claim(ctx, key, time.Minute)
	second, _ := store.Claim(ctx, key, time.Minute) // a concurrent duplicate delivery
	fmt.Println(first.State, second.State)

	_ = store.Complete(ctx, key, first.Token, idempotency.DefaultKeep)
	retry, _ := store.Claim(ctx, key, time.Minute) // the sender retries later
	fmt.Println(retry.State)
	// Output:
	// acquired busy
	// completed
}

func ExampleStore_release() {
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	key := "twilio:SM123:delivered"

	c, _ := store.Claim(ctx, key, time.Minute)
	// The handler failed: give the key back so the sender's retry runs it.
	_ = store.Release(ctx, key, c.Token)
	retry, _ := store.Claim(ctx, key, time.Minute)
	fmt.Println(retry.State)

	// The first holder's token no longer holds the key.
	err = store.Complete(ctx, key, c.Token, idempotency.DefaultKeep)
	fmt.Println(errors.Is(err, idempotency.ErrLeaseLost))
	// Output:
	// acquired
	// true
}
