// Package crashtest proves a host's webhook wiring survives crashes, the
// only way that can be proven: it runs the host's real server as a child
// process, storms it with signed deliveries from senders that retry each
// one until it is answered 2xx, kills the server with SIGKILL at random
// moments and starts it again, then counts what the host's handlers did.
//
// A 200 is a promise to the sender, who will never send that event again.
// A host that answers before its effect is committed (a handler that
// starts a goroutine, an in-memory queue) loses the event when the process
// dies; a host that commits the effect and its idempotency key in two
// steps runs the event twice when the process dies between them. Unit
// tests with a handler in the same process see neither. hookkit's own
// crash tests hold its accept steps to this; this package holds a host's
// wiring of them to it, from the host's own go test.
//
// # What a host gives
//
// A [Config] describes the host in its own terms; the kit needs nothing
// of hookkit's internals:
//
//   - Command starts the server on the loopback address the kit chose,
//     usually a binary [Build] compiled from the host's main package;
//   - Deliveries are the events, each with the ID the host records, a
//     route, a body and a signer from package verifytest, which signs
//     every attempt afresh as the real sender signs its retries (build
//     them in a loop, or from recorded fixtures with a new ID each);
//   - Effects counts, by event ID, how many times each event took
//     effect, read from the host's database ([QueryEffects] runs an SQL
//     query such as "SELECT event_id, COUNT(*) FROM payments GROUP BY
//     event_id");
//   - Ready, optionally, says when a started server serves (by default:
//     when its port accepts connections).
//
// # What the kit does
//
// [Run] starts the server, sends every delivery (Senders at a time, each
// retried after a jittered doubling backoff, as senders do, on no answer,
// a 5xx, 408, 409, 425 or 429), and meanwhile kills the server at moments
// drawn from Seed, starting it again after each kill and waiting until it
// is ready, for as long as deliveries remain unacknowledged (at least
// Kills times). Once every delivery is acknowledged it waits (up to
// Settle) for every acknowledged event's effect, for hosts whose workers
// finish after the answer, stops the server for good, and counts.
//
// The [Result] says what happened: sent, acknowledged, effects, and the
// verdict, Lost (acknowledged, no effect) and Doubled (more than one
// effect), with their IDs. Its String is a one-line summary with the seed:
// set Config.Seed to it to run the same kill schedule and the same
// senders' jitter again (the moments the kills land in the server's work
// still vary with the machine's load; that is the point of running it
// often).
//
//	res := crashtest.Run(t, cfg)
//	if res.Lost > 0 || res.Doubled > 0 {
//		t.Errorf("%v", res)
//	}
//
// Count an effect a second run would add to. When the host's effect rows
// have a unique key, a second run fails on it instead, the host answers
// an error and the sender retries until Timeout: the kit then reports the
// delivery never acknowledged, which fails the test too.
//
// # What the kit never does
//
// It sends only to the server it started, on 127.0.0.1 (no proxy from the
// environment, no redirect followed). It kills only what it started: on
// Unix the command runs as the leader of a new process group and a kill
// is SIGKILL to that group, which reaches the children the command
// started ("go run" builds the server and starts it as its child);
// elsewhere only the command's own process is killed. It stops by itself:
// the storm ends when every delivery is acknowledged or refused, or when
// Timeout passes, and the server is killed when Run returns or the test
// ends. It never sleeps to prove that something did not happen: it polls
// Ready for a start, and Effects for up to Settle; the only other waits
// are the senders' backoff, the kill schedule, and a short pause before
// starting again a server that exited at once (a killed process may hold
// its port for a moment).
//
// A run fails the test when the configuration is refused, the server
// cannot be started, a delivery is answered a status no sender retries (a
// wrong secret, a wrong route), the storm outlasts Timeout, or it was
// over before Kills kills (a storm too short to prove anything).
package crashtest
