package replay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// Result is a receiver's answer to one replayed delivery.
type Result struct {
	// Name is the fixture's name ("stripe/payment_intent.succeeded").
	Name   string
	Status int
	Header http.Header
	Body   string
}

// ServerRequest returns f as an http.Handler receives it (see
// fixture.Fixture.Request), its body signed afresh by signer, which replaces
// the recorded signature headers. A nil signer keeps the recorded ones.
func ServerRequest(f fixture.Fixture, signer verifytest.Signer) (*http.Request, error) {
	r, err := f.Request()
	if err != nil {
		return nil, err
	}
	return r, sign(r, f, signer)
}

// ClientRequest returns f as its sender would send it now to the server at
// base ("http://127.0.0.1:8080"): a request for http.Client to the recorded
// target under base, with the recorded headers, the recorded Host header
// (the host the signature covers, as a proxy in front of the server would
// pass it on), and the recorded body, signed afresh by signer (nil keeps the
// recorded signature headers).
func ClientRequest(ctx context.Context, base string, f fixture.Fixture, signer verifytest.Signer) (*http.Request, error) {
	r, err := http.NewRequestWithContext(ctx, f.Method, strings.TrimSuffix(base, "/")+f.Target, bytes.NewReader(f.Body))
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", f.Name, err)
	}
	r.Header = f.Header.Clone()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	if host := r.Header.Get("Host"); host != "" {
		r.Host = host
		r.Header.Del("Host")
	}
	r.Header.Del("Content-Length")
	return r, sign(r, f, signer)
}

func sign(r *http.Request, f fixture.Fixture, signer verifytest.Signer) error {
	if signer == nil {
		return nil
	}
	if err := signer.Sign(r, f.Body); err != nil {
		return fmt.Errorf("replay %s: signing: %w", f.Name, err)
	}
	return nil
}

// Send replays f through h and returns the answer.
func Send(h http.Handler, f fixture.Fixture, signer verifytest.Signer) (Result, error) {
	r, err := ServerRequest(f, signer)
	if err != nil {
		return Result{Name: f.Name}, err
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return Result{Name: f.Name, Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}, nil
}

// Post sends f over HTTP with client to the server at base (see
// ClientRequest) and returns the answer.
func Post(ctx context.Context, client *http.Client, base string, f fixture.Fixture, signer verifytest.Signer) (Result, error) {
	r, err := ClientRequest(ctx, base, f, signer)
	if err != nil {
		return Result{Name: f.Name}, err
	}
	resp, err := client.Do(r)
	if err != nil {
		return Result{Name: f.Name}, fmt.Errorf("replay %s: %w", f.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return Result{Name: f.Name, Status: resp.StatusCode, Header: resp.Header, Body: string(body)}, err
}

// Dir replays every fixture under dir in fsys through h, in name order.
func Dir(h http.Handler, fsys fs.FS, dir string, signer verifytest.Signer) ([]Result, error) {
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
