// Package configerr holds the one sentinel every hookkit constructor wraps
// when its configuration cannot work; verify, idempotency and dispatch
// export it under the name ErrInvalidConfig, so that errors.Is answers the
// same whichever package's name a host uses.
package configerr

import "errors"

// ErrInvalidConfig means a constructor was given a configuration that
// cannot work: an empty secret, a negative duration, a nil dependency, an
// option that does not apply. The error wrapping it names the option or
// field.
var ErrInvalidConfig = errors.New("hookkit: invalid configuration")
