package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// DefaultMaxBodyBytes is the body limit of Middleware and ReadBody users that
// set none: 1 MiB, well above any Stripe, Twilio or Standard Webhooks event.
const DefaultMaxBodyBytes = 1 << 20

// ReadBody reads r's whole body, refusing more than limit bytes (limit <= 0
// means DefaultMaxBodyBytes). Past the limit it stops reading and returns an
// error wrapping ErrBodyTooLarge (answer 413); a failed read wraps
// ErrBodyUnreadable. w may be nil; when given, the server is told to close
// the connection after an oversized body instead of draining it.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, nil
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("Content-Length %d over the %d-byte limit: %w", r.ContentLength, limit, ErrBodyTooLarge)
	}
	var src io.Reader = r.Body
	if w != nil && r.ContentLength < 0 {
		// A body of unknown length may run past the limit: the server is
		// told to close the connection then. One of a declared length
		// within the limit cannot (net/http's body ends at it), so it is
		// read without this wrapper's allocation.
		src = http.MaxBytesReader(w, r.Body, limit)
	}
	// The buffer grows as bytes arrive, never from the declared length
	// alone: a client that declares a megabyte and sends one byte must not
	// make the server hold a megabyte. A declared length only sizes the
	// first buffer (up to initialBodyBuffer) and caps how far it grows, so
	// a typical event is read in one allocation.
	want := limit + 1
	if r.ContentLength >= 0 {
		want = min(want, r.ContentLength+1)
	}
	buf := make([]byte, 0, min(want, initialBodyBuffer))
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), growBody(int64(cap(buf)), want))
			copy(grown, buf)
			buf = grown
		}
		// Never past one byte over the limit, which tells an oversized
		// body from one exactly at it.
		n, err := src.Read(buf[len(buf):min(int64(cap(buf)), limit+1)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, fmt.Errorf("body over the %d-byte limit: %w", limit, ErrBodyTooLarge)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, fmt.Errorf("body over the %d-byte limit: %w", limit, ErrBodyTooLarge)
			}
			return nil, fmt.Errorf("%w: %w", err, ErrBodyUnreadable)
		}
	}
}

// initialBodyBuffer is the most ReadBody allocates before a body's bytes
// arrive: 16 KiB holds nearly every Stripe, Twilio and Standard Webhooks
// event whole, and 1,000 connections that declare a megabyte each and stall
// hold 16 MiB between them, not a gigabyte.
const initialBodyBuffer = 16 << 10

// growBody is the next capacity of a full body buffer: double, but never
// past want (the declared length plus one, or the limit plus one), and at
// least one byte more, so a body that outgrows its declared length still
// reaches the limit check.
func growBody(have, want int64) int {
	next := 2 * have
	if have < want {
		next = min(next, want)
	}
	return int(max(next, have+1))
}

// MiddlewareOption is what Middleware takes: a verify Option. Of the
// options, Middleware accepts WithMaxBodyBytes and WithErrorHandler, which
// no verifier constructor does.
type MiddlewareOption = Option

// WithMaxBodyBytes sets the largest body Middleware reads (default
// DefaultMaxBodyBytes); a larger one is answered 413. It applies only to
// Middleware; dispatch.WithMaxBodyBytes is the same setting for a
// dispatch.Endpoint.
func WithMaxBodyBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("WithMaxBodyBytes(%d): must be positive: %w", n, ErrInvalidConfig)
		}
		c.maxBody = n
		c.use(middlewareOptions, "WithMaxBodyBytes")
		return nil
	}
}

// WithErrorHandler replaces how Middleware answers a request it rejects. The
// handler gets the error from ReadBody or the Verifier (use StatusCode for
// the status, and log err: it names the failed check); it must write the
// response. The default writes StatusCode(err) and a short JSON reason that
// reveals nothing about the expected signature. It applies only to
// Middleware; a nil handler is a configuration error.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(c *config) error {
		if h == nil {
			return fmt.Errorf("WithErrorHandler: nil handler: %w", ErrInvalidConfig)
		}
		c.onError = h
		c.use(middlewareOptions, "WithErrorHandler")
		return nil
	}
}

// Middleware returns net/http middleware that reads the body (up to the
// limit; 413 past it), verifies it with v, and calls next only when the
// signature holds, with r.Body replaced by a fresh reader over the same
// bytes so next can read it as usual. A rejected request is answered 400
// (403 for Twilio) and next is not called.
//
// It is a plain func(http.Handler) http.Handler, so it composes with
// http.ServeMux, chi, and any other router without an adapter. Like
// http.Handle with a nil handler, it panics at setup if v is nil or an
// option is invalid or is one of a verifier's (WithTolerance belongs to the
// verifier's constructor); MiddlewareSafely is the same, returning that error
// instead.
func Middleware(v Verifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	mw, err := MiddlewareSafely(v, opts...)
	if err != nil {
		panic(err)
	}
	return mw
}

// MiddlewareSafely is Middleware returning its error instead of panicking,
// for options chosen at run time: an error wrapping ErrInvalidConfig for a
// nil Verifier or an invalid option.
func MiddlewareSafely(v Verifier, opts ...MiddlewareOption) (func(http.Handler) http.Handler, error) {
	if v == nil {
		return nil, fmt.Errorf("verify.Middleware: nil Verifier: %w", ErrInvalidConfig)
	}
	c, err := newConfig("middleware", opts, middlewareOptions)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := ReadBody(w, r, c.maxBody)
			if err == nil {
				err = v.Verify(r, body)
			}
			if err != nil {
				c.onError(w, r, err)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			next.ServeHTTP(w, r)
		})
	}, nil
}

func writeRejection(w http.ResponseWriter, _ *http.Request, err error) {
	status := StatusCode(err)
	reason := `{"error":"signature verification failed"}`
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		reason = `{"error":"body too large"}`
	case errors.Is(err, os.ErrDeadlineExceeded):
		reason = `{"error":"body not received in time"}`
	case errors.Is(err, ErrBodyUnreadable):
		reason = `{"error":"body unreadable"}`
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, reason+"\n")
}
