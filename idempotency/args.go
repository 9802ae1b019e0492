package idempotency

// MemoryStore's argument checks: the same as the other stores' (package
// idempotency/internal/storeargs, which imports this package), so that every
// store answers bad arguments with ErrInvalid, as package storetest checks.

import (
	"fmt"
	"time"
)

// checkClaim validates Claim's arguments; stores call it first.
func checkClaim(key string, lease time.Duration) error {
	if key == "" {
		return fmt.Errorf("empty key: %w", ErrInvalid)
	}
	if lease <= 0 {
		return fmt.Errorf("lease %s must be positive: %w", lease, ErrInvalid)
	}
	return nil
}

// checkComplete validates Complete's arguments; stores call it first.
func checkComplete(key, token string, keep time.Duration) error {
	if err := checkRelease(key, token); err != nil {
		return err
	}
	if keep <= 0 {
		return fmt.Errorf("keep %s must be positive: %w", keep, ErrInvalid)
	}
	return nil
}

// checkRelease validates Release's arguments; stores call it first.
func checkRelease(key, token string) error {
	if key == "" {
		return fmt.Errorf("empty key: %w", ErrInvalid)
	}
	if token == "" {
		return fmt.Errorf("empty token: %w", ErrInvalid)
	}
	return nil
}
