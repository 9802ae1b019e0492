// Package otelobserver traces and measures webhook deliveries with
// OpenTelemetry: a dispatch.Observer to install on a Router.
//
//	obs, err := otelobserver.New(otelobserver.Config{Types: stripeevent.Catalog()})
//	if err != nil { ... }
//	router.Observe(obs)
//	obs.Watch("webhooks", queue) // a riverqueue.Queue, sqltx.Tables, ...: depth and dead letters
//
// # Traces
//
// Each delivery is a span named as the HTTP semantic conventions name server
// spans ("POST /webhooks/stripe", with the ServeMux pattern's path as
// http.route), with http.request.method, url.path, http.response.status_code
// and error.type (5xx), and hookkit.source, hookkit.event.type,
// hookkit.event.id and hookkit.outcome. If the host's own HTTP
// instrumentation already started a server span, the delivery's is its
// child. Each attempt at the handler is a child span: "handle <route>"
// during the delivery or on a dead letter's re-run, "process <route>" (a
// consumer span with messaging.operation.type "process") in a queue's
// worker, whose parent is the delivery's span carried across the queue in
// the job (dispatch/riverqueue). Spans carry an error's type, never its
// text.
//
// # Metrics
//
//	hookkit.deliveries              counter    hookkit.source, hookkit.event.type, hookkit.outcome, http.response.status_code
//	hookkit.delivery.duration       histogram  (s) hookkit.source, hookkit.event.type, hookkit.outcome
//	hookkit.delivery.step.duration  histogram  (s) hookkit.source, hookkit.step: read, verify, parse, store, handler
//	hookkit.attempts                counter    hookkit.source, hookkit.event.type, hookkit.attempt.kind (sync, async, rerun), hookkit.outcome
//	hookkit.attempt.duration        histogram  (s) the same
//	hookkit.attempts.per_event      histogram  attempts an event took to be processed or dead-lettered
//	hookkit.queue.events            gauge      hookkit.queue, hookkit.queue.state: queued, retrying, running (Watch)
//	hookkit.dead_letters            gauge      hookkit.queue (Watch)
//
// Every attribute is bounded by the program, not by what senders send: the
// sender is its parser's, the outcome one of dispatch.Outcomes, and the event
// type the type itself only when the router handles it by name or
// [Config.Types] lists it — otherwise the pattern that routed it
// ("message.*"), or [OtherType]. Ten thousand made-up event types make one
// series, not ten thousand.
package otelobserver
