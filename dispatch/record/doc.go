// Package record keeps the deliveries a dispatch.Endpoint answers, for
// debugging, auditing and tests: Dir writes them in the repository's
// testdata fixture format, so that deliveries recorded in staging replay in
// unit tests (package dispatch/replay).
//
//	ep := dispatch.NewEndpoint(v, p, r, dispatch.WithArchive(&record.Dir{Path: "recorded"}))
package record
