// Package lostattempt lets a queue tell a Router's observers of an attempt
// that ended without its handler returning: a worker that died mid-job,
// found by dispatch/riverqueue's sweep. Package dispatch installs Report.
package lostattempt

import (
	"context"

	"github.com/hookkit/hookkit/events"
)

// Report tells the observers of router (a *dispatch.Router) that attempt
// number of e ended with err, dead-lettered when final.
var Report func(router any, ctx context.Context, e *events.Event, number int, err error, final bool)
