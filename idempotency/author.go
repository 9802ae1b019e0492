package idempotency

// This file is for authors of Store implementations, not for code that uses
// a Store: the argument checks every store makes the same way (so that every
// store answers bad arguments with ErrInvalid, as package storetest checks)
// and a source of claim tokens. (They live here, not in a sub-package,
// because MemoryStore uses them too.)

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// CheckClaim validates Claim's arguments; stores call it first.
func CheckClaim(key string, lease time.Duration) error {
	if key == "" {
		return fmt.Errorf("empty key: %w", ErrInvalid)
	}
	if lease <= 0 {
		return fmt.Errorf("lease %s must be positive: %w", lease, ErrInvalid)
	}
	return nil
}

// CheckComplete validates Complete's arguments; stores call it first.
func CheckComplete(key, token string, keep time.Duration) error {
	if err := CheckRelease(key, token); err != nil {
		return err
	}
	if keep <= 0 {
		return fmt.Errorf("keep %s must be positive: %w", keep, ErrInvalid)
	}
	return nil
}

// CheckRelease validates Release's arguments; stores call it first.
func CheckRelease(key, token string) error {
	if key == "" {
		return fmt.Errorf("empty key: %w", ErrInvalid)
	}
	if token == "" {
		return fmt.Errorf("empty token: %w", ErrInvalid)
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
