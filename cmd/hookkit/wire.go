package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// wireClient sends deliveries over HTTP/1.1 on connections it keeps
// alive, one request at a time on each, writing each request in one
// system call: what a sender's worker does, at a fraction of net/http's
// client's cost, so that hookkit send, used as a load tool, costs less
// than the server it measures. One wireClient belongs to one worker.
type wireClient struct {
	timeout time.Duration
	tls     *tls.Config          // for https; nil: the system's roots
	conns   map[string]*wireConn // by scheme://host:port
	buf     []byte
}

type wireConn struct {
	c    net.Conn
	r    *bufio.Reader
	used bool // a request was answered on it
}

func newWireClient(timeout time.Duration) *wireClient {
	return &wireClient{timeout: timeout, conns: map[string]*wireConn{}}
}

// close closes the client's connections.
func (w *wireClient) close() {
	for k, c := range w.conns {
		c.c.Close()
		delete(w.conns, k)
	}
}

// post sends o and returns the answer. A request that fails on a
// connection kept from an earlier one before any answer arrives (the
// server closed it meanwhile) is sent again on a new connection, as
// net/http's client does.
func (w *wireClient) post(ctx context.Context, o outgoing) answer {
	u := o.parsed
	if u == nil {
		var err error
		if u, err = url.Parse(o.url); err != nil {
			return answer{err: err}
		}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return answer{err: errors.New("unsupported URL scheme " + strconv.Quote(u.Scheme))}
	}
	w.buf = w.request(w.buf[:0], u, o)
	start := time.Now()
	for attempt := 0; ; attempt++ {
		c, err := w.conn(ctx, u)
		if err != nil {
			return answer{latency: time.Since(start), err: err}
		}
		a, retry := w.roundTrip(c, u)
		if retry && attempt == 0 {
			continue
		}
		a.latency = time.Since(start)
		return a
	}
}

// request renders o as HTTP/1.1: the request line, Host, the headers
// sorted by name, Content-Length, and the body.
func (w *wireClient) request(b []byte, u *url.URL, o outgoing) []byte {
	method := o.method
	if method == "" {
		method = http.MethodPost
	}
	host := o.host
	if host == "" {
		host = u.Host
	}
	b = append(append(append(append(b, method...), ' '), u.RequestURI()...), " HTTP/1.1\r\nHost: "...)
	b = append(append(b, host...), "\r\n"...)
	names := make([]string, 0, len(o.header)+1)
	for name := range o.header {
		names = append(names, name)
	}
	if _, ok := o.header["User-Agent"]; !ok {
		b = append(b, "User-Agent: hookkit/"...)
		b = append(append(b, buildVersion...), "\r\n"...)
	}
	slices.Sort(names)
	for _, name := range names {
		if name == "Host" || name == "Content-Length" || name == "Transfer-Encoding" || name == "Connection" {
			continue
		}
		for _, v := range o.header[name] {
			if v == "" && name == "User-Agent" {
				continue
			}
			b = append(append(append(append(b, name...), ": "...), oneLineHeader.Replace(v)...), "\r\n"...)
		}
	}
	b = append(append(b, "Content-Length: "...), strconv.Itoa(len(o.body))...)
	b = append(b, "\r\n\r\n"...)
	return append(b, o.body...)
}

// conn returns a kept connection to u's host, or a new one.
func (w *wireClient) conn(ctx context.Context, u *url.URL) (*wireConn, error) {
	key := u.Scheme + "://" + u.Host
	if c, ok := w.conns[key]; ok {
		return c, nil
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	d := net.Dialer{Timeout: w.timeout}
	var c net.Conn
	var err error
	if u.Scheme == "https" {
		cfg := &tls.Config{}
		if w.tls != nil {
			cfg = w.tls.Clone()
		}
		cfg.ServerName, cfg.NextProtos = u.Hostname(), []string{"http/1.1"}
		td := tls.Dialer{NetDialer: &d, Config: cfg}
		c, err = td.DialContext(ctx, "tcp", addr)
	} else {
		c, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	wc := &wireConn{c: c, r: bufio.NewReaderSize(c, 4096)}
	w.conns[key] = wc
	return wc, nil
}

// roundTrip writes the rendered request and reads the answer; retry
// reports a kept connection that failed before answering.
func (w *wireClient) roundTrip(c *wireConn, u *url.URL) (a answer, retry bool) {
	key := u.Scheme + "://" + u.Host
	drop := func() {
		c.c.Close()
		delete(w.conns, key)
	}
	c.c.SetDeadline(time.Now().Add(w.timeout))
	if _, err := c.c.Write(w.buf); err != nil {
		drop()
		return answer{err: err}, c.used && isReset(err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		drop()
		return answer{err: err}, c.used && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxShownBody))
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	if err != nil || resp.Close {
		drop()
	} else {
		c.used = true
	}
	return answer{status: resp.StatusCode, body: body, err: err}, false
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// oneLineHeader keeps a header value on its line.
var oneLineHeader = strings.NewReplacer("\r", " ", "\n", " ")

// buildVersion is version(), read once.
var buildVersion = version()
