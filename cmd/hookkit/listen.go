package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/verify"
)

type listenFlags struct {
	schemeFlags
	forward string
	raw     bool
	save    string
	count   int
	json    bool
	maxBody int64
}

func init() {
	register(&command{
		name:    "listen",
		summary: "receive deliveries, print each with its verdict, forward them",
		usage:   "ADDR [--forward URL] [--scheme S] [--secret SECRET]... [flags]",
		description: `
Listen serves HTTP on ADDR (127.0.0.1:8080, :0 for a free port; the first
line printed is "listening on http://HOST:PORT") and prints each delivery
it receives: its method, path and size, and, with --secret, its verdict
under the scheme its headers show (or --scheme) and, when it does not
verify, hookkit explain's diagnosis. --raw also prints the whole request
as raw HTTP/1.1, which hookkit explain reads back; --save DIR writes each
delivery as a fixture (the testdata format), which hookkit replay sends
again.

With --forward URL it is the local end of a tunnel that never rewrites a
delivery: it passes the exact body bytes and headers (Host included) on to
URL followed by the delivery's path and query, and the application's
answer (status, headers, body) back to the sender. Without it, it answers
200, or the status a hookkit endpoint would give a delivery that does not
verify (400, 403 for Twilio). It stops on an interrupt, or after --count
deliveries.`,
		examples: []string{
			"hookkit listen 127.0.0.1:0 --forward $APP --secret whsec_test --count 1",
			"hookkit listen 127.0.0.1:0 --scheme twilio --secret twilio_token --raw --count 1",
		},
		flags: func(fs *flag.FlagSet) any {
			f := &listenFlags{}
			f.schemeFlags.register(fs)
			fs.StringVar(&f.forward, "forward", "", "pass each delivery on to this base URL, and its answer back")
			fs.BoolVar(&f.raw, "raw", false, "also print each request as raw HTTP/1.1")
			fs.StringVar(&f.save, "save", "", "write each delivery under `DIR` in the testdata fixture format")
			fs.IntVar(&f.count, "count", 0, "stop after `N` deliveries (0: run until interrupted)")
			fs.BoolVar(&f.json, "json", false, "print one JSON object per delivery")
			fs.Int64Var(&f.maxBody, "max-body", 10<<20, "refuse bodies over this many bytes (413)")
			return f
		},
		run: runListen,
	})
}

// listener is a running listen command.
type listener struct {
	sio     *stdio
	f       *listenFlags
	fixed   *scheme // --scheme, when given
	secrets bool
	client  *http.Client

	mu   sync.Mutex // serialises printing and counting
	n    int
	done chan struct{}
}

func runListen(ctx context.Context, sio *stdio, opts any, args []string) error {
	f := opts.(*listenFlags)
	if len(args) != 1 {
		return usageErr("want one ADDR to listen on (127.0.0.1:8080, or :0 for a free port)")
	}
	l := &listener{sio: sio, f: f, secrets: len(f.secrets) > 0 || sio.getenv("HOOKKIT_SECRET") != "", done: make(chan struct{})}
	if f.scheme != "" {
		s, err := f.schemeFlags.resolve(sio, "", l.secrets)
		if err != nil {
			return err
		}
		l.fixed = &s
	} else if _, err := f.schemeFlags.resolve(sio, "stripe", false); err != nil {
		return err // the other flags' checks
	}
	if f.forward != "" {
		if !strings.HasPrefix(f.forward, "http://") && !strings.HasPrefix(f.forward, "https://") {
			return usageErr("--forward %q: want an http:// or https:// URL", f.forward)
		}
		l.client = &http.Client{
			Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // the sender sees the redirect, as it would
			},
		}
	}
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(sio.out, "listening on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case <-l.done:
	case err := <-served:
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if l.client != nil {
		l.client.CloseIdleConnections()
	}
	return err
}

// hopByHop are the headers that belong to one connection, never passed on.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// ServeHTTP receives one delivery.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := verify.ReadBody(w, r, l.f.maxBody)
	if err != nil {
		http.Error(w, err.Error(), verify.StatusCode(err))
		return
	}
	c := captured{r: r, body: body}
	var v verdict
	if l.secrets {
		v = l.check(c)
	}
	status := http.StatusOK
	var fwd *forwarded
	switch {
	case l.f.forward != "":
		fwd = l.pass(r, body)
		writeForwarded(w, fwd)
		status = fwd.status
	case v.diagnosis != nil && !v.diagnosis.OK():
		status = verify.StatusCode(v.diagnosis.Err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"error":"invalid signature"}`+"\n")
	default:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"received":true}`+"\n")
	}
	l.print(c, v, fwd, status)
}

// verdict is a delivery's verification under its scheme.
type verdict struct {
	scheme    string
	diagnosis *verify.Diagnosis
	err       error
}

func (l *listener) check(c captured) verdict {
	s := l.fixed
	if s == nil {
		name := detectScheme(c.r.Header)
		if name == "" {
			return verdict{err: errors.New("no signature header of a known scheme")}
		}
		resolved, err := l.f.schemeFlags.resolve(l.sio, name, true)
		if err != nil {
			return verdict{scheme: name, err: err}
		}
		s = &resolved
	}
	return verdict{scheme: s.String(), diagnosis: verify.Diagnose(c.r, c.body, s.diagnoseConfig())}
}

// forwarded is the application's answer to a forwarded delivery.
type forwarded struct {
	status  int
	header  http.Header
	body    []byte
	latency time.Duration
	err     error
}

// pass forwards the delivery's exact bytes and headers.
func (l *listener) pass(r *http.Request, body []byte) *forwarded {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, strings.TrimSuffix(l.f.forward, "/")+r.RequestURI, bytes.NewReader(body))
	if err != nil {
		return &forwarded{status: http.StatusBadGateway, err: err}
	}
	out.Header = r.Header.Clone()
	for _, h := range hopByHop {
		out.Header.Del(h)
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // none, as received, not Go's
	}
	out.Host = r.Host
	start := time.Now()
	resp, err := l.client.Do(out)
	if err != nil {
		return &forwarded{status: http.StatusBadGateway, latency: time.Since(start), err: err}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return &forwarded{status: resp.StatusCode, header: resp.Header, body: answer, latency: time.Since(start), err: err}
}

func writeForwarded(w http.ResponseWriter, f *forwarded) {
	if f.err != nil && f.header == nil {
		http.Error(w, "hookkit listen: the application did not answer", http.StatusBadGateway)
		return
	}
	for k, v := range f.header {
		w.Header()[k] = v
	}
	for _, h := range hopByHop {
		w.Header().Del(h)
	}
	w.WriteHeader(f.status)
	w.Write(f.body)
}

// print reports one delivery, and ends the command after --count.
func (l *listener) print(c captured, v verdict, fwd *forwarded, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if l.f.save != "" {
		l.saveFixture(c)
	}
	if l.f.json {
		l.printJSON(c, v, fwd, status)
	} else {
		l.printText(c, v, fwd, status)
	}
	if l.f.count > 0 && l.n == l.f.count {
		close(l.done)
	}
}

func (l *listener) printText(c captured, v verdict, fwd *forwarded, status int) {
	w := l.sio.out
	line := fmt.Sprintf("#%d %s %s  %d bytes", l.n, c.r.Method, c.r.RequestURI, len(c.body))
	switch {
	case !l.secrets:
		if name := detectScheme(c.r.Header); name != "" {
			line += "  " + name + ": not checked (no --secret)"
		}
	case v.err != nil:
		line += "  not checked: " + v.err.Error()
	case v.diagnosis.OK():
		line += "  " + v.scheme + ": verified"
	default:
		line += "  " + v.scheme + ": rejected"
	}
	fmt.Fprintln(w, line)
	if v.diagnosis != nil && !v.diagnosis.OK() {
		fmt.Fprintf(w, "   %v\n", v.diagnosis.Err)
		fmt.Fprintf(w, "   diagnosis: %s\n", v.diagnosis)
	}
	switch {
	case fwd == nil:
		fmt.Fprintf(w, "   answered %d\n", status)
	case fwd.err != nil:
		fmt.Fprintf(w, "   → %s failed: %v\n", l.f.forward, fwd.err)
	default:
		fmt.Fprintf(w, "   → %d %s from %s in %s\n", fwd.status, http.StatusText(fwd.status), l.f.forward, roundLatency(fwd.latency))
	}
	if l.f.raw {
		writeRaw(w, c.r, c.body)
	}
}

func (l *listener) printJSON(c captured, v verdict, fwd *forwarded, status int) {
	out := map[string]any{"n": l.n, "method": c.r.Method, "target": c.r.RequestURI, "bytes": len(c.body), "status": status}
	if v.scheme != "" {
		out["scheme"] = v.scheme
	}
	if v.err != nil {
		out["error"] = v.err.Error()
	}
	if d := v.diagnosis; d != nil {
		out["verified"] = d.OK()
		if !d.OK() {
			out["error"] = d.Err.Error()
			out["diagnosis"] = map[string]any{"check": d.Check, "cause": d.Cause.String(), "detail": d.Detail}
		}
	}
	if fwd != nil {
		f := map[string]any{"status": fwd.status, "latency_ms": ms(fwd.latency)}
		if fwd.err != nil {
			f["error"] = fwd.err.Error()
		}
		out["forward"] = f
	}
	writeJSONLine(l.sio.out, out)
}

func (l *listener) saveFixture(c captured) {
	header := c.r.Header.Clone()
	header.Set("Host", c.r.Host)
	f := fixture.Fixture{
		Name:    fmt.Sprintf("%s-%06d", time.Now().UTC().Format("20060102T150405.000Z"), l.n),
		Method:  c.r.Method,
		Target:  c.r.RequestURI,
		Header:  header,
		Body:    c.body,
		BodyExt: fixture.BodyExtFor(c.r.Header.Get("Content-Type")),
	}
	if err := fixture.Write(l.f.save, f); err != nil {
		fmt.Fprintf(l.sio.err, "hookkit listen: --save: %v\n", err)
	}
}
