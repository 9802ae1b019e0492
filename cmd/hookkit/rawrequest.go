package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hookkit/hookkit/events/fixture"
)

// requestLine finds an HTTP/1.x request line.
var requestLine = regexp.MustCompile(`(?m)^[A-Z]+ \S+ HTTP/1\.[01]\r?$`)

// captured is one delivery read back: the request as a server received
// it, and the raw body.
type captured struct {
	r    *http.Request
	body []byte
	// note says what was odd about the capture (a body shorter than its
	// Content-Length), or "".
	note string
}

// readCaptured reads the index-th delivery (from 1) of a raw HTTP/1.1
// capture (FILE, or standard input for "-"), or a fixture (NAME.headers,
// its body file, or the stem).
func readCaptured(sio *stdio, arg string, index int) (captured, error) {
	if arg != "-" {
		stem := stemOf(arg)
		if _, err := os.Stat(stem + fixture.HeadersExt); err == nil {
			f, err := fixture.Read(os.DirFS(filepath.Dir(stem)), filepath.Base(stem))
			if err != nil {
				return captured{}, err
			}
			r, err := f.Request()
			return captured{r: r, body: f.Body}, err
		}
	}
	var data []byte
	var err error
	if arg == "-" {
		data, err = io.ReadAll(sio.in)
	} else {
		data, err = os.ReadFile(arg)
	}
	if err != nil {
		return captured{}, err
	}
	return parseRaw(data, index)
}

// parseRaw parses the index-th request of a raw HTTP/1.1 capture: lines
// before a request line (a log's own) are skipped; the body is what
// Content-Length says (chunked bodies are decoded), or everything up to
// the next request line.
func parseRaw(data []byte, index int) (captured, error) {
	starts := requestLine.FindAllIndex(data, -1)
	if len(starts) == 0 {
		return captured{}, fmt.Errorf("no HTTP/1.1 request line (such as \"POST /webhooks HTTP/1.1\") found")
	}
	if index < 1 || index > len(starts) {
		return captured{}, fmt.Errorf("--index %d: the capture holds %d requests", index, len(starts))
	}
	start := starts[index-1][0]
	end := len(data)
	if index < len(starts) {
		end = starts[index][0]
	}
	data = data[start:end]
	headEnd, sep := bytes.Index(data, []byte("\r\n\r\n")), 4
	if lf := bytes.Index(data, []byte("\n\n")); lf >= 0 && (headEnd < 0 || lf < headEnd) {
		headEnd, sep = lf, 2
	}
	if headEnd < 0 {
		headEnd, sep = len(data), 0
	}
	head, rest := data[:headEnd], data[min(len(data), headEnd+sep):]
	r, err := http.ReadRequest(bufio.NewReader(io.MultiReader(bytes.NewReader(head), strings.NewReader("\r\n\r\n"))))
	if err != nil {
		return captured{}, fmt.Errorf("the request does not parse: %w", err)
	}
	c := captured{r: r}
	switch {
	case slices.Contains(r.TransferEncoding, "chunked"):
		c.body, err = io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(rest)))
		if err != nil {
			return captured{}, fmt.Errorf("the chunked body does not parse: %w", err)
		}
	case r.Header.Get("Content-Length") != "":
		n, err := strconv.Atoi(r.Header.Get("Content-Length"))
		if err != nil || n < 0 {
			return captured{}, fmt.Errorf("Content-Length %q is not a length", r.Header.Get("Content-Length"))
		}
		if n > len(rest) {
			c.note = fmt.Sprintf("the body is %d bytes, fewer than its Content-Length %d: the capture is cut short", len(rest), n)
			n = len(rest)
		}
		c.body = rest[:n]
	default:
		c.body = rest
	}
	r.Body = io.NopCloser(bytes.NewReader(c.body))
	r.ContentLength = int64(len(c.body))
	if r.URL.Scheme == "https" {
		r.TLS = &tls.ConnectionState{} // an absolute https URL: the request came over TLS
	}
	return c, nil
}

// writeRaw writes a request as HTTP/1.1, the form parseRaw reads: the
// request line, Host, the headers sorted by name, Content-Length, a blank
// line and the body byte for byte, then a blank line.
func writeRaw(w io.Writer, r *http.Request, body []byte) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, r.RequestURI, r.Host)
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		if name != "Host" && name != "Content-Length" && name != "Transfer-Encoding" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range r.Header[name] {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	b.WriteString("\r\n\r\n")
	w.Write(b.Bytes())
}
