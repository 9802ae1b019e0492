package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// deliveryFlags are the flags of every command that sends deliveries.
type deliveryFlags struct {
	url         string
	repeat      int
	concurrency int
	duplicate   bool
	offset      time.Duration
	headers     stringList
	json        bool
	expect      int
	timeout     time.Duration
	progress    bool
}

func (f *deliveryFlags) register(fs *flag.FlagSet, repeat bool) {
	fs.StringVar(&f.url, "url", "", "where to POST the deliveries")
	if repeat {
		fs.IntVar(&f.repeat, "repeat", 1, "send `N` deliveries")
	}
	fs.IntVar(&f.concurrency, "concurrency", 1, "send up to `C` deliveries at once")
	fs.BoolVar(&f.duplicate, "duplicate", false, "send every delivery twice, the second once the first is answered, as a sender's retry or a replay would")
	fs.DurationVar(&f.offset, "timestamp-offset", 0, "sign with a timestamp this far from now (-10m: a stale delivery; 10m: from the future)")
	fs.Var(&f.headers, "header", "add the header `K=V` (repeatable; Host=... sets the Host header)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per delivery, and a summary object, for scripts")
	fs.IntVar(&f.expect, "expect", 0, "the status every answer must have (default: any 2xx); another exits 1")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up on an answer after this long")
	fs.BoolVar(&f.progress, "progress", false, "draw the progress bar even when stderr is not a terminal")
}

// check validates the flags common to senders.
func (f *deliveryFlags) check(needURL bool) error {
	switch {
	case needURL && f.url == "":
		return usageErr("--url is required")
	case f.repeat < 1 && f.repeat != 0:
		return usageErr("--repeat %d: want at least 1", f.repeat)
	case f.concurrency < 1:
		return usageErr("--concurrency %d: want at least 1", f.concurrency)
	case f.expect != 0 && (f.expect < 100 || f.expect > 599):
		return usageErr("--expect %d: not an HTTP status", f.expect)
	}
	for _, h := range f.headers {
		if k, _, ok := strings.Cut(h, "="); !ok || k == "" {
			return usageErr("--header %q: want K=V", h)
		}
	}
	return nil
}

// header returns the --header values.
func (f *deliveryFlags) header() (h http.Header, host string) {
	h = http.Header{}
	for _, kv := range f.headers {
		k, v, _ := strings.Cut(kv, "=")
		if strings.EqualFold(k, "Host") {
			host = v
			continue
		}
		h.Add(k, v)
	}
	return h, host
}

// outgoing is one delivery, built and signed.
type outgoing struct {
	name   string // a fixture's name, or ""
	method string
	url    string
	parsed *url.URL // url, parsed, when it has been
	host   string   // the Host header, when not the URL's
	header http.Header
	body   []byte
}

// answer is the receiver's answer to one delivery.
type answer struct {
	n         int
	name      string
	duplicate bool
	status    int
	latency   time.Duration
	body      []byte
	err       error
}

// deliver sends total deliveries, built by build, and prints the answers
// and, for more than one, a summary. It returns errFailed when an answer
// is not the one expected.
func deliver(ctx context.Context, sio *stdio, f *deliveryFlags, total int, build func(i int) (outgoing, error)) error {
	answers := make(chan answer, 4*f.concurrency)
	jobs := make(chan int)
	var workers sync.WaitGroup
	for range min(f.concurrency, total) {
		workers.Go(func() {
			client := newWireClient(f.timeout)
			defer client.close()
			for i := range jobs {
				o, err := build(i)
				if err != nil {
					answers <- answer{n: i + 1, err: err}
					continue
				}
				a := client.post(ctx, o)
				a.n, a.name = i+1, o.name
				answers <- a
				if f.duplicate {
					d := client.post(ctx, o)
					d.n, d.name, d.duplicate = i+1, o.name, true
					answers <- d
				}
			}
		})
	}
	go func() {
		defer close(jobs)
		for i := range total {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		workers.Wait()
		close(answers)
	}()

	expected := total
	if f.duplicate {
		expected *= 2
	}
	r := newReport(sio, f, expected)
	start := time.Now()
	for a := range answers {
		r.add(a)
	}
	r.finish(time.Since(start))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.unexpected > 0 {
		return errFailed
	}
	return nil
}

// maxShownBody is how much of an answer's body is kept.
const maxShownBody = 64 << 10

// report prints answers and the summary.
type report struct {
	sio        *stdio
	f          *deliveryFlags
	total      int
	done       int
	unexpected int
	errors     int
	statuses   map[int]int
	latencies  []time.Duration
	shown      int
	bar        *progressBar
}

// maxShown is how many answers are printed one by one in a run of many
// (every unexpected one up to it); all are with --json.
const maxShown = 20

func newReport(sio *stdio, f *deliveryFlags, total int) *report {
	r := &report{sio: sio, f: f, total: total, statuses: map[int]int{}, latencies: make([]time.Duration, 0, total)}
	if total > 1 && (f.progress || isTerminal(sio.err)) {
		r.bar = newProgressBar(sio.err, total)
	}
	return r
}

func (r *report) ok(a answer) bool {
	if a.err != nil {
		return false
	}
	if r.f.expect != 0 {
		return a.status == r.f.expect
	}
	return a.status >= 200 && a.status < 300
}

func (r *report) add(a answer) {
	r.done++
	ok := r.ok(a)
	if !ok {
		r.unexpected++
	}
	if a.err != nil {
		r.errors++
	} else {
		r.statuses[a.status]++
		r.latencies = append(r.latencies, a.latency)
	}
	switch {
	case r.f.json:
		r.printJSON(a)
	case r.total <= maxShown || (!ok && r.shown < maxShown):
		r.shown++
		if r.bar != nil {
			r.bar.clear()
		}
		r.printLine(a)
	}
	if r.bar != nil {
		r.bar.set(r.done)
	}
}

func (r *report) printLine(a answer) {
	var b strings.Builder
	if r.total > 1 {
		fmt.Fprintf(&b, "#%d ", a.n)
	}
	if a.name != "" {
		b.WriteString(a.name + " ")
	}
	if a.duplicate {
		b.WriteString("(duplicate) ")
	}
	if a.err != nil {
		fmt.Fprintf(&b, "error: %v", a.err)
	} else {
		fmt.Fprintf(&b, "%d %s  %s  %s", a.status, http.StatusText(a.status), roundLatency(a.latency), oneLine(a.body, 200))
	}
	fmt.Fprintln(r.sio.out, strings.TrimRight(b.String(), " "))
}

func (r *report) printJSON(a answer) {
	v := struct {
		N         int     `json:"n"`
		Name      string  `json:"name,omitempty"`
		Duplicate bool    `json:"duplicate,omitempty"`
		Status    int     `json:"status,omitempty"`
		LatencyMS float64 `json:"latency_ms"`
		Body      string  `json:"body"`
		Error     string  `json:"error,omitempty"`
		OK        bool    `json:"ok"`
	}{N: a.n, Name: a.name, Duplicate: a.duplicate, Status: a.status, LatencyMS: ms(a.latency), Body: string(a.body), OK: r.ok(a)}
	if a.err != nil {
		v.Error = a.err.Error()
	}
	writeJSONLine(r.sio.out, v)
}

func writeJSONLine(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func roundLatency(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// oneLine shows a body on one line, clipped.
func oneLine(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func (r *report) finish(elapsed time.Duration) {
	if r.bar != nil {
		r.bar.finish()
	}
	if r.total <= 1 {
		return
	}
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	rate := float64(r.done) / elapsed.Seconds()
	codes := make([]int, 0, len(r.statuses))
	for c := range r.statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	if r.f.json {
		status := map[string]int{}
		for _, c := range codes {
			status[strconv.Itoa(c)] = r.statuses[c]
		}
		writeJSONLine(r.sio.out, map[string]any{"summary": map[string]any{
			"deliveries": r.done, "seconds": elapsed.Seconds(), "per_second": rate, "concurrency": r.f.concurrency,
			"status": status, "errors": r.errors, "unexpected": r.unexpected,
			"p50_ms": ms(pct(0.5)), "p90_ms": ms(pct(0.9)), "p99_ms": ms(pct(0.99)), "max_ms": ms(pct(1)),
		}})
		return
	}
	if hidden := r.unexpected - r.shown; r.total > maxShown && hidden > 0 {
		fmt.Fprintf(r.sio.out, "… and %d more unexpected answers\n", hidden)
	}
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d × %d", r.statuses[c], c))
	}
	if r.errors > 0 {
		parts = append(parts, fmt.Sprintf("%d × error", r.errors))
	}
	fmt.Fprintf(r.sio.out, "%d deliveries in %s (%.0f/s), concurrency %d: %s\n", r.done, elapsed.Round(time.Millisecond), rate,
		r.f.concurrency, strings.Join(parts, ", "))
	fmt.Fprintf(r.sio.out, "latency: p50 %s, p90 %s, p99 %s, max %s\n", roundLatency(pct(0.5)), roundLatency(pct(0.9)),
		roundLatency(pct(0.99)), roundLatency(pct(1)))
	if r.unexpected > 0 {
		want := "2xx"
		if r.f.expect != 0 {
			want = strconv.Itoa(r.f.expect)
		}
		fmt.Fprintf(r.sio.out, "%d of %d answers were not %s\n", r.unexpected, r.done, want)
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "[####......] 4000/10000" on one line, redrawn at
// most every 100 ms.
type progressBar struct {
	w     io.Writer
	total int
	last  time.Time
	done  int
	drawn bool
}

func newProgressBar(w io.Writer, total int) *progressBar { return &progressBar{w: w, total: total} }

func (p *progressBar) set(done int) {
	p.done = done
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || done == p.total {
		p.last = now
		p.draw()
	}
}

func (p *progressBar) draw() {
	const width = 30
	n := width * p.done / p.total
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat(".", width-n), p.done, p.total)
	p.drawn = true
}

func (p *progressBar) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func (p *progressBar) finish() {
	p.draw()
	fmt.Fprintln(p.w)
}
