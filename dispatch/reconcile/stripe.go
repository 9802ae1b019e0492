package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/hookkit/hookkit/dispatch"
)

// StripeConfig configures a Stripe Source.
type StripeConfig struct {
	// Key is the API key the events are listed with: a secret key, or
	// better a restricted key that may only read events. Required. It is
	// sent to Stripe only, and never logged or put in an error.
	Key string
	// Name names the Source's checkpoint (default "stripe"); give each
	// Stripe account its own.
	Name string
	// URL is the API's base URL (default Stripe's,
	// https://api.stripe.com): stripe-mock's, or a test server's.
	URL string
	// HTTPClient sends the requests (default one with an 80-second
	// timeout, as stripe-go's own).
	HTTPClient *http.Client
}

// Stripe is the Source of Stripe's List Events API (GET /v1/events),
// read through stripe-go v76's own client: events are filtered by the
// types the Endpoint's router handles (types, up to 20 a request, and
// type with a wildcard for a pattern such as "payment_intent.*"), by
// created[gte] and created[lte], and paged with starting_after and
// has_more. Stripe lists newest first and keeps events 30 days.
type Stripe struct {
	name string
	key  string
	api  *client.API
}

// maxTypes is how many names Stripe takes in one types filter.
const maxTypes = 20

// NewStripe returns the Source of a Stripe account's events, or an error
// wrapping dispatch.ErrInvalidConfig without a Key.
func NewStripe(cfg StripeConfig) (*Stripe, error) {
	if cfg.Key == "" {
		return nil, fmt.Errorf("reconcile: StripeConfig.Key is required: %w", dispatch.ErrInvalidConfig)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 80 * time.Second}
	}
	// The Retry-After of a 429 reaches the reconciler through the
	// transport: stripe-go's errors do not carry headers.
	copied := *hc
	copied.Transport = retryAfterTransport{next: cmpTransport(hc.Transport)}
	bc := &stripe.BackendConfig{
		HTTPClient: &copied,
		// Retries are the Reconciler's, which honours Retry-After.
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.URL != "" {
		bc.URL = stripe.String(strings.TrimSuffix(cfg.URL, "/"))
	}
	api := &client.API{}
	api.Init(cfg.Key, &stripe.Backends{API: stripe.GetBackendWithConfig(stripe.APIBackend, bc),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, bc), Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, bc)})
	name := cfg.Name
	if name == "" {
		name = "stripe"
	}
	return &Stripe{name: name, key: cfg.Key, api: api}, nil
}

func cmpTransport(t http.RoundTripper) http.RoundTripper {
	if t == nil {
		return http.DefaultTransport
	}
	return t
}

// Name implements Source.
func (s *Stripe) Name() string { return s.name }

// Streams implements Source: "all" when a pattern is "*"; otherwise one
// "type:" stream per prefix pattern and one "types:" stream per 20 exact
// types.
func (s *Stripe) Streams(patterns []string) []string {
	if slices.Contains(patterns, "*") {
		return []string{"all"}
	}
	var streams, exact []string
	for _, p := range patterns {
		if strings.HasSuffix(p, ".*") {
			streams = append(streams, "type:"+p)
		} else {
			exact = append(exact, p)
		}
	}
	for chunk := range slices.Chunk(exact, maxTypes) {
		streams = append(streams, "types:"+strings.Join(chunk, ","))
	}
	return streams
}

// Page implements Source.
func (s *Stripe) Page(ctx context.Context, q Query) (Page, error) {
	params := &stripe.EventListParams{CreatedRange: &stripe.RangeQueryParams{
		GreaterThanOrEqual: q.Since.Unix(), LesserThanOrEqual: q.Until.Unix()}}
	kind, arg, _ := strings.Cut(q.Stream, ":")
	switch kind {
	case "all":
	case "type":
		params.Type = stripe.String(arg)
	case "types":
		params.Types = stripe.StringSlice(strings.Split(arg, ","))
	default:
		return Page{}, fmt.Errorf("stripe: stream %q is not one of Streams': %w", q.Stream, dispatch.ErrInvalidConfig)
	}
	var box retryAfterBox
	params.Context = context.WithValue(ctx, retryAfterKey{}, &box)
	params.Single = true
	params.Limit = stripe.Int64(int64(q.Limit))
	if q.Cursor != "" {
		params.StartingAfter = stripe.String(q.Cursor)
	}
	it := s.api.Events.List(params)
	var last string
	for it.Next() {
		last = it.Event().ID
	}
	if err := it.Err(); err != nil {
		return Page{}, s.failed(err, box.after)
	}
	list := it.EventList()
	if list == nil || list.LastResponse == nil {
		return Page{}, errors.New("stripe: the list came without its response")
	}
	// The events as Stripe sent them, byte for byte, for the parser: the
	// same bodies its webhooks would have posted.
	var raw struct {
		Data    []json.RawMessage `json:"data"`
		HasMore bool              `json:"has_more"`
	}
	if err := json.Unmarshal(list.LastResponse.RawJSON, &raw); err != nil {
		return Page{}, fmt.Errorf("stripe: the event list does not decode: %w", err)
	}
	page := Page{Events: make([][]byte, len(raw.Data)), Next: last, More: raw.HasMore}
	for i, d := range raw.Data {
		page.Events[i] = d
	}
	return page, nil
}

// failed turns stripe-go's error into the Source's: a 429 is a
// *RateLimitError, and no error's text holds the key.
func (s *Stripe) failed(err error, retryAfter time.Duration) error {
	status := 0
	var se *stripe.Error
	if errors.As(err, &se) {
		status = se.HTTPStatusCode
	}
	cause := &redacted{msg: strings.ReplaceAll(err.Error(), s.key, "[key]"), status: status}
	if status == http.StatusTooManyRequests {
		return &RateLimitError{RetryAfter: retryAfter, Err: cause}
	}
	return fmt.Errorf("stripe: listing events: %w", cause)
}

// redacted is an error of an API client with the key taken out of its
// text.
type redacted struct {
	msg    string
	status int
}

func (r *redacted) Error() string {
	if r.status != 0 {
		return "status " + strconv.Itoa(r.status) + ": " + r.msg
	}
	return r.msg
}

// retryAfterTransport records the Retry-After of a 429 in the box its
// request's context carries.
type retryAfterTransport struct{ next http.RoundTripper }

type (
	retryAfterKey struct{}
	retryAfterBox struct{ after time.Duration }
)

func (t retryAfterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		if box, ok := req.Context().Value(retryAfterKey{}).(*retryAfterBox); ok {
			box.after = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	}
	return resp, err
}

// ParseRetryAfter reads a Retry-After header: seconds, or an HTTP date
// (after now). It returns 0 for an empty, past or unreadable one.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > 24*3600 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
