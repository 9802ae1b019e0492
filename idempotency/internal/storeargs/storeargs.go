// Package storeargs is what every idempotency store checks and makes the
// same way: the argument checks (so that every store answers bad arguments
// with idempotency.ErrInvalid, as package storetest checks) and a source of
// claim tokens. sqlstore uses it; redisstore and pgxstore, other modules,
// hold copies .ci/shared writes.
package storeargs

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

// Claim validates Claim's arguments; stores call it first.
func Claim(key string, lease time.Duration) error {
	if key == "" {
		return fmt.Errorf("empty key: %w", idempotency.ErrInvalid)
	}
	if lease <= 0 {
		return fmt.Errorf("lease %s must be positive: %w", lease, idempotency.ErrInvalid)
	}
	return nil
}

// Complete validates Complete's arguments; stores call it first.
func Complete(key, token string, keep time.Duration) error {
	if err := Release(key, token); err != nil {
		return err
	}
	if keep <= 0 {
		return fmt.Errorf("keep %s must be positive: %w", keep, idempotency.ErrInvalid)
	}
	return nil
}

// Release validates Release's arguments; stores call it first.
func Release(key, token string) error {
	if key == "" {
		return fmt.Errorf("empty key: %w", idempotency.ErrInvalid)
	}
	if token == "" {
		return fmt.Errorf("empty token: %w", idempotency.ErrInvalid)
	}
	return nil
}

// NewToken returns a fresh random claim token (128 bits, hex), unique across
// processes: for stores shared by several processes, whose tokens must not
// collide.
func NewToken() string {
	var raw [16]byte
	rand.Read(raw[:]) // never fails since Go 1.24
	var text [32]byte
	hex.Encode(text[:], raw[:])
	return string(text[:])
}
