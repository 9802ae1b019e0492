package reconcile

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hookkit/hookkit/dispatch"
)

// Every runs each of rs at once and then every interval, until ctx ends;
// it returns ctx's error then. It is the schedule of a host without River
// (with River, dispatch/riverqueue's AddReconcile makes the runs a periodic
// job, which one replica runs at a time). Several processes may run Every
// on the same Store: the Store's lease lets one run of a Source through at
// a time and the others skip theirs (ErrRunning). A run's errors are in
// its log line and Report; the schedule goes on.
func Every(ctx context.Context, interval time.Duration, rs ...*Reconciler) error {
	if interval <= 0 {
		return fmt.Errorf("reconcile: Every's interval %s must be positive: %w", interval, dispatch.ErrInvalidConfig)
	}
	for _, r := range rs {
		if r == nil {
			return fmt.Errorf("reconcile: Every given a nil Reconciler: %w", dispatch.ErrInvalidConfig)
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for _, r := range rs {
			// A run logs and stores its own Report; one refused with
			// ErrRunning (another process's run) did nothing to report.
			wg.Go(func() { r.Run(ctx) })
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
