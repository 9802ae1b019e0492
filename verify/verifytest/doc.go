// Package verifytest signs webhook requests the way Stripe, Twilio, Standard
// Webhooks senders and HMAC senders do, so a host application can unit-test
// its handlers with deliveries that pass hookkit's verifiers (and the
// providers' own SDKs) without a real sender.
//
// Each signer's Sign method adds the signature headers to a request; the
// helper [NewRequest] builds a POST and signs it in one call:
//
//	req := verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_test"},
//		"https://example.com/webhooks/stripe", body)
//	handler.ServeHTTP(rec, req)
package verifytest
