// Package stripemocktest runs dispatch/reconcile's Stripe source against
// stripe-mock (github.com/stripe/stripe-mock), Stripe's own mock of its
// published API, built and started by the test: stripe-go's List Events
// requests, as the source makes them (types, type with a wildcard,
// created[gte], created[lte], limit, starting_after), are ones an
// implementation of Stripe's published API specification accepts, and the
// fixture events it answers with parse and are recovered through an
// Endpoint. It is a test-only module: stripe-mock is a tool of its tests,
// never a requirement of a host.
package stripemocktest
