package riverqueue

import (
	"context"

	"github.com/riverqueue/river/riverdriver"
)

// SweepOnce runs one sweep of q, for benchmarks.
func SweepOnce[TDriver riverdriver.Driver[TTx], TTx any](ctx context.Context, q *Queue[TDriver, TTx]) (int, error) {
	return q.sweepOnce(ctx)
}
