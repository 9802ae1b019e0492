package configerr_test

import (
	"errors"
	"testing"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/verify"
)

// One sentinel, whichever package's name a host uses: a constructor's
// configuration error from each package is every package's
// ErrInvalidConfig.
func TestOneErrInvalidConfig(t *testing.T) {
	_, verr := verify.NewStripe("")
	_, ierr := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxEntries: -1})
	_, derr := dispatch.NewEndpointSafely(nil, nil, nil)
	for name, err := range map[string]error{"verify": verr, "idempotency": ierr, "dispatch": derr} {
		for _, sentinel := range []error{verify.ErrInvalidConfig, idempotency.ErrInvalidConfig, dispatch.ErrInvalidConfig} {
			if !errors.Is(err, sentinel) {
				t.Errorf("%s's error %v is not %v", name, err, sentinel)
			}
		}
	}
}
