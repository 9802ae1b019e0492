package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWireClient sends over plain HTTP and TLS with the client hookkit
// send uses: what the server receives is the request as rendered (method,
// target, Host, headers, body), a connection is kept for the next
// request, a connection the server closed is replaced, and chunked and
// closing answers are read.
func TestWireClient(t *testing.T) {
	var conns atomic.Int32
	var got struct {
		method, target, host, ua, custom, ctype string
		body                                    []byte
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.target, got.host = r.Method, r.RequestURI, r.Host
		got.ua, got.custom, got.ctype = r.Header.Get("User-Agent"), r.Header.Get("X-Custom"), r.Header.Get("Content-Type")
		got.body, _ = io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/chunked":
			w.(http.Flusher).Flush() // no Content-Length: chunked
			io.WriteString(w, "chunk one, ")
			w.(http.Flusher).Flush()
			io.WriteString(w, "chunk two")
		case "/close":
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusAccepted)
		default:
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"received":true}`)
		}
	})
	for _, tlsServer := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(h)
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		if tlsServer {
			srv.StartTLS()
		} else {
			srv.Start()
		}
		conns.Store(0)
		c := newWireClient(5 * time.Second)
		if tlsServer {
			c.tls = srv.Client().Transport.(*http.Transport).TLSClientConfig
		}
		post := func(path string) answer {
			t.Helper()
			o := outgoing{url: srv.URL + path, host: "hooks.example.com", body: []byte(`{"id":"evt_1"}`),
				header: http.Header{"X-Custom": {"a\r\nb"}, "Content-Type": {"application/json"}}}
			return c.post(context.Background(), o)
		}
		a := post("/hook?x=1&y=2")
		if a.err != nil || a.status != http.StatusCreated || string(a.body) != `{"received":true}` {
			t.Fatalf("tls %v: answer %d %q %v", tlsServer, a.status, a.body, a.err)
		}
		if got.method != "POST" || got.target != "/hook?x=1&y=2" || got.host != "hooks.example.com" || !strings.HasPrefix(got.ua, "hookkit/") ||
			got.custom != "a  b" || got.ctype != "application/json" || string(got.body) != `{"id":"evt_1"}` {
			t.Errorf("tls %v: the server received %+v", tlsServer, got)
		}
		if a := post("/chunked"); a.err != nil || string(a.body) != "chunk one, chunk two" {
			t.Errorf("tls %v: chunked answer %q %v", tlsServer, a.body, a.err)
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("tls %v: %d connections for two requests, want one kept", tlsServer, n)
		}
		if a := post("/close"); a.err != nil || a.status != http.StatusAccepted {
			t.Errorf("tls %v: closing answer %d %v", tlsServer, a.status, a.err)
		}
		srv.CloseClientConnections() // none left open by the client: it closed on Connection: close
		if a := post("/hook"); a.err != nil || a.status != http.StatusCreated {
			t.Errorf("tls %v: after a close, %d %v", tlsServer, a.status, a.err)
		}
		srv.CloseClientConnections() // the server drops the kept connection
		if a := post("/hook"); a.err != nil || a.status != http.StatusCreated {
			t.Errorf("tls %v: on a connection the server dropped: %d %v", tlsServer, a.status, a.err)
		}
		if n := conns.Load(); n != 3 {
			t.Errorf("tls %v: %d connections, want 3 (one kept, one after Connection: close, one after the drop)", tlsServer, n)
		}
		c.close()
		srv.Close()
	}
}
