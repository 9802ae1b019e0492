// Package hotpath holds the benchmarks of hookkit's hot path beside the
// floor it is measured against, in one run: a delivery over loopback HTTP
// to a server in a process of its own (the least a correct receiver does,
// read the body and check its HMAC; hookkit's Endpoint with a typed and
// with a raw-event handler; a hand-written stripe-go handler), and the
// durable acknowledgement of dispatch/riverqueue beside a lean hand-written
// River group commit, on PostgreSQL and on SQLite. Each server reports its
// own CPU time (getrusage) and its allocations over the measured
// deliveries, and can write CPU and allocation profiles (see
// BENCHMARKS.md at the repository's root for the commands and figures).
//
// It is a module of its own, with no code a host imports, so that what
// only these benchmarks need (River's drivers, stripe-go's webhook
// package) never appears in the go.mod of a module a host imports.
package hotpath
