// Package replay sends recorded deliveries (the testdata fixture format of
// package events/fixture) to a webhook receiver, re-signed for the verifier
// under test, so that a host's test of its webhook handling is a few lines.
// Record deliveries in staging with a record.Archive (package dispatch/record),
// commit them under the host's own testdata, and replay a directory of them
// (here testdata/webhooks/stripe) in a unit test:
//
//	results, err := replay.Dir(endpoint, os.DirFS("testdata/webhooks"), "stripe",
//		verifytest.Stripe{Secret: "whsec_test"})
//	for _, res := range results {
//		if res.Status != http.StatusOK { t.Errorf("%s: %d %s", res.Name, res.Status, res.Body) }
//	}
//
// [Send] and [Dir] call an http.Handler directly; [ClientRequest] builds the same
// delivery as an outgoing request for http.Client, to exercise a server over
// real HTTP. hookkit's own recorded deliveries, one per kind of every
// provider package, are in its repository's testdata directory, in the
// same format, to copy from.
package replay
