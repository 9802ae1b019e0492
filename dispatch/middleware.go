package dispatch

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a handler's panic, recovered: an ordinary, retryable error
// that carries the panic value and the stack. A Router recovers every
// handler it runs (Dispatch, Rerun, a queue's workers), so one bad event
// never crashes the process: the delivery is answered 500 and retried.
type PanicError struct {
	Value any
	Stack []byte
}

// Error returns "handler panicked: <value>".
func (p *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", p.Value) }

func stack() []byte { return debug.Stack() }
