// Package sdkdiff holds no code: it is a test-only module whose tests hold
// hookkit's Twilio and Standard Webhooks verifiers against the providers'
// own libraries, twilio-go and the Standard Webhooks reference library.
//
// Its differential tests and fuzz targets check that, for what either side
// signs and for every single-byte mutation of body, header, secret,
// timestamp or URL, the verify package makes the same decision as the
// provider's library, its error wrapping the sentinel that matches the
// library's reason; the only divergences allowed are the ones the
// verifiers document. Its benchmarks measure each delivery three ways in
// one run: hookkit, the provider's library, and bare crypto/hmac over the
// signed bytes.
//
// The tests live in a module of their own so that the core module,
// github.com/hookkit/hookkit, does not require those libraries: a host
// that imports hookkit never finds them in its build list. Stripe's
// differential tests stay in package verify, because stripe-go is a
// dependency of the core module anyway. Nothing imports this package.
//
// Run the tests with
//
//	cd verify/sdkdiff && go test ./...
//
// and explore one fuzz target further with
//
//	cd verify/sdkdiff && go test -run '^$' -fuzz FuzzTwilioDifferential .
package sdkdiff
