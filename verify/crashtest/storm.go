package crashtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// storm is the senders: every delivery is sent, and sent again after a
// jittered backoff, until the server answers it 2xx, refuses it for good,
// or the storm's context ends.
type storm struct {
	cfg    *Config
	base   string
	client *http.Client
	slots  chan struct{} // one per request in flight

	mu       sync.Mutex
	attempts int
	statuses map[int]int
	acked    []bool
	refused  []bool
	// refusal is the first refusal of each status, for the test's log.
	refusal map[int]string
}

func newStorm(cfg *Config, base string) *storm {
	transport := &http.Transport{
		Proxy:               nil, // the server is on loopback: no HTTP_PROXY may take the storm elsewhere
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: cfg.Senders,
		DisableCompression:  true,
	}
	return &storm{
		cfg:  cfg,
		base: base,
		client: &http.Client{
			Transport: transport,
			Timeout:   cfg.RequestTimeout,
			// A redirect would lead away from the server the kit
			// started; a sender treats it as a failed delivery.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		slots:    make(chan struct{}, cfg.Senders),
		statuses: map[int]int{},
		acked:    make([]bool, len(cfg.Deliveries)),
		refused:  make([]bool, len(cfg.Deliveries)),
		refusal:  map[int]string{},
	}
}

// run delivers every delivery, concurrently, and returns when each is
// acknowledged or refused, or ctx ends.
func (s *storm) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range s.cfg.Deliveries {
		wg.Go(func() { s.deliver(ctx, i) })
	}
	wg.Wait()
}

// deliver sends delivery i until it is answered 2xx, as a sender does:
// after a failure it waits a jittered, doubling delay and tries again.
// Each delivery's jitter comes from its own stream of the seed, so a
// delivery's schedule does not depend on the others'.
func (s *storm) deliver(ctx context.Context, i int) {
	d := s.cfg.Deliveries[i]
	jitter := rand.New(rand.NewPCG(s.cfg.Seed, uint64(i)))
	for failures := 0; ; failures++ {
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		status, answer, err := s.send(ctx, d)
		<-s.slots
		if err != nil { // the delivery cannot be built: the host's, not the server's, mistake
			s.refuse(i, -1, err.Error())
			return
		}
		s.mu.Lock()
		s.attempts++
		s.statuses[status]++
		s.mu.Unlock()
		switch {
		case status >= 200 && status < 300:
			s.mu.Lock()
			s.acked[i] = true
			s.mu.Unlock()
			return
		case !retried(status):
			s.refuse(i, status, fmt.Sprintf("delivery %q to %s was answered %d, which no sender retries: %s", d.ID, d.Path, status, answer))
			return
		}
		delay := backoff(jitter, s.cfg.Backoff, failures)
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
	}
}

// retried reports whether a sender tries again after status: no answer,
// a server error, or a 4xx that asks for a retry (408, 409 busy, 425,
// 429). Other answers are a configuration mistake to report, not to
// retry for minutes: a wrong secret (400, 401, 403), a wrong route (404).
func retried(status int) bool {
	switch status {
	case 0, http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return status >= 500
}

// backoff is the delay after the given number of earlier failures: first
// doubled that many times, capped at longest, then jittered to between
// half and the whole of it.
func backoff(jitter *rand.Rand, bounds [2]time.Duration, failures int) time.Duration {
	d := bounds[1]
	if failures < 30 && bounds[0]<<failures < bounds[1] {
		d = bounds[0] << failures
	}
	return d/2 + time.Duration(jitter.Int64N(int64(d/2)+1))
}

// send makes one attempt at d: the status (0 when no answer came), the
// start of the answer's body, and an error only when the request cannot
// be built or signed.
func (s *storm) send(ctx context.Context, d Delivery) (status int, answer string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+d.Path, bytes.NewReader(d.Body))
	if err != nil {
		return 0, "", fmt.Errorf("delivery %q: %w", d.ID, err)
	}
	req.Header = d.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if d.Signer != nil {
		if err := d.Signer.Sign(req, d.Body); err != nil {
			return 0, "", fmt.Errorf("delivery %q: signing: %w", d.ID, err)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", nil
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can serve the next attempt
	return resp.StatusCode, string(bytes.TrimSpace(head)), nil
}

func (s *storm) refuse(i, status int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[i] = true
	if _, seen := s.refusal[status]; !seen {
		s.refusal[status] = msg
	}
}

// counts returns the attempts made and the answers by status.
func (s *storm) counts() (attempts int, statuses map[int]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	statuses = make(map[int]int, len(s.statuses))
	for k, v := range s.statuses {
		statuses[k] = v
	}
	return s.attempts, statuses
}

// acknowledged says, by delivery, which were answered 2xx.
func (s *storm) acknowledged() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bool(nil), s.acked...)
}

// refusals returns one message per kind of refusal, and how many
// deliveries were neither acknowledged nor refused.
func (s *storm) refusals() (msgs []string, unfinished int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, msg := range s.refusal {
		msgs = append(msgs, msg)
	}
	slices.Sort(msgs)
	for i := range s.acked {
		if !s.acked[i] && !s.refused[i] {
			unfinished++
		}
	}
	return msgs, unfinished
}

func (s *storm) close() { s.client.CloseIdleConnections() }
