// Package replay sends recorded deliveries (the testdata fixture format of
// package events/fixture) through an http.Handler, re-signed for the
// verifier under test, so that a host's test of its webhook handling is a
// few lines:
//
//	results, err := replay.Dir(os.DirFS("testdata"), "stripe",
//		verifytest.Stripe{Secret: "whsec_test"}, endpoint)
//	for _, res := range results {
//		if res.Status != http.StatusOK { t.Errorf("%s: %d %s", res.Name, res.Status, res.Body) }
//	}
//
// Record the fixtures in staging with dispatch.DirArchive.
package replay

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"

	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// Result is a handler's answer to one replayed delivery.
type Result struct {
	// Name is the fixture's name ("stripe/payment_intent.succeeded").
	Name   string
	Status int
	Header http.Header
	Body   string
}

// Request builds the request for f as its sender would send it now: the
// recorded method, target, host and headers, and the recorded body, signed
// afresh by signer (which replaces the recorded signature headers). A nil
// signer sends the recorded signature unchanged.
func Request(f fixture.Fixture, signer verifytest.Signer) (*http.Request, error) {
	r := f.Request()
	if signer != nil {
		if err := signer.Sign(r, f.Body); err != nil {
			return nil, fmt.Errorf("replay %s: signing: %w", f.Name, err)
		}
	}
	return r, nil
}

// Send replays f through h and returns the answer.
func Send(h http.Handler, f fixture.Fixture, signer verifytest.Signer) (Result, error) {
	r, err := Request(f, signer)
	if err != nil {
		return Result{Name: f.Name}, err
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return Result{Name: f.Name, Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}, nil
}

// Dir replays every fixture under dir in fsys through h, in name order.
func Dir(fsys fs.FS, dir string, signer verifytest.Signer, h http.Handler) ([]Result, error) {
	recorded, err := fixture.Load(fsys, dir)
	if err != nil {
		return nil, err
	}
	results := make([]Result, 0, len(recorded))
	for _, f := range recorded {
		res, err := Send(h, f, signer)
		if err != nil {
			return results, err
		}
		results = append(results, res)
	}
	return results, nil
}
