package dispatch_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
)

// lateAcceptor answers at once and runs the handler afterwards, from
// another goroutine: the bug that raced with the Endpoint's observers.
type lateAcceptor struct {
	started chan struct{} // closed once the goroutine runs (before, or after, Accept returns)
	before  bool          // start the run before Accept returns
	running chan struct{} // closed by the handler: the run is under way
	err     chan error
}

func (l *lateAcceptor) Accept(ctx context.Context, a dispatch.Acceptance) dispatch.Result {
	run := make(chan struct{})
	go func() {
		if !l.before {
			<-run
		}
		close(l.started)
		l.err <- a.Run(context.WithoutCancel(ctx))
	}()
	if l.before {
		<-l.running // the handler runs: Accept returns in the middle of it
	}
	close(run)
	return dispatch.Result{Outcome: dispatch.OutcomeQueued}
}

// Acceptance.Run after Accept has returned fails with ErrAcceptanceClosed
// instead of writing the delivery's timings while observers read them;
// a run still going when Accept returns is waited for. Both are clean
// under -race (before, the write at accept.go raced with endpoint.go's
// read).
func TestAcceptanceRunAfterAccept(t *testing.T) {
	for _, before := range []bool{false, true} {
		t.Run(map[bool]string{false: "after", true: "still running"}[before], func(t *testing.T) {
			var runs int
			l := &lateAcceptor{started: make(chan struct{}), before: before, running: make(chan struct{}), err: make(chan error, 1)}
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
				runs++
				close(l.running)
				time.Sleep(20 * time.Millisecond) // still running when Accept returns
				return nil
			})
			r.Observe(nopObserver{})
			ep := newStripeEndpoint(t, r, dispatch.WithAcceptor(l))
			code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_late")))
			assert.Equal(t, 200, code)
			err := <-l.err
			if before {
				require.NoError(t, err, "a run under way when Accept returned is waited for, not refused")
				assert.Equal(t, 1, runs)
				return
			}
			assert.True(t, errors.Is(err, dispatch.ErrAcceptanceClosed), "got %v", err)
			assert.Zero(t, runs, "the handler did not run")
		})
	}
}
