// Package replay sends recorded deliveries (the testdata fixture format of
// package events/fixture) to a webhook receiver, re-signed for the verifier
// under test, so that a host's test of its webhook handling is a few lines:
//
//	results, err := replay.Dir(endpoint, os.DirFS("testdata"), "stripe",
//		verifytest.Stripe{Secret: "whsec_test"})
//	for _, res := range results {
//		if res.Status != http.StatusOK { t.Errorf("%s: %d %s", res.Name, res.Status, res.Body) }
//	}
//
// Send and Dir call an http.Handler directly; ClientRequest builds the same
// delivery as an outgoing request for http.Client, to exercise a server over
// real HTTP. Record fixtures in staging with record.Dir (package
// dispatch/record).
package replay
