package dispatch_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
)

// lateAcceptor answers at once and runs the handler afterwards, from
// another goroutine: the bug that raced with the Endpoint's observers.
type lateAcceptor struct {
	before  bool          // start the run before Accept returns
	served  chan struct{} // closed by the test once the delivery is answered
	running chan struct{} // closed by the handler: the run is under way
	// returning is closed as Accept returns; a handler started before waits
	// for it, so that it is still running when Accept has returned.
	returning chan struct{}
	err       chan error
}

func (l *lateAcceptor) Accept(ctx context.Context, a dispatch.Acceptance) dispatch.Result {
	go func() {
		if !l.before {
			<-l.served // Accept has returned, and the Endpoint answered
		}
		l.err <- a.Run(context.WithoutCancel(ctx))
	}()
	if l.before {
		<-l.running // the handler runs: Accept returns in the middle of it
	}
	close(l.returning)
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
			l := &lateAcceptor{served: make(chan struct{}), before: before, running: make(chan struct{}), returning: make(chan struct{}), err: make(chan error, 1)}
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
				runs++
				close(l.running)
				<-l.returning // still running when Accept returns
				return nil
			})
			r.Observe(nopObserver{})
			ep := newStripeEndpoint(t, r, dispatch.WithAcceptor(l))
			code, _ := deliver(ep, signed(stripeBody(t, "payment_intent.succeeded", "evt_late")))
			if code != 200 {
				t.Errorf("code: got %d, want 200", code)
			}
			close(l.served)
			err := <-l.err
			if before {
				if err != nil {
					t.Fatalf("a run under way when Accept returned is waited for, not refused: %v", err)
				}
				if runs != 1 {
					t.Errorf("runs: got %d, want 1", runs)
				}
				return
			}
			if !errors.Is(err, dispatch.ErrAcceptanceClosed) {
				t.Errorf("a late Run: got %v, want %v", err, dispatch.ErrAcceptanceClosed)
			}
			if runs != 0 {
				t.Errorf("handler runs: got %d, want 0", runs)
			}
		})
	}
}
