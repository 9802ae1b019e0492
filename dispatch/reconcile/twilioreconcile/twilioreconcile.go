package twilioreconcile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
)

// DefaultRevisit is how long before each window messages are listed
// again: longer than Twilio's callbacks keep retrying (about 36 minutes)
// and than carriers usually take to report.
const DefaultRevisit = time.Hour

// Config configures a Source. AccountSid and either AuthToken or an API
// key (APIKey and APISecret) are required.
type Config struct {
	// AccountSid is the account whose messages are listed ("AC...").
	AccountSid string
	// AuthToken is the account's auth token; or give an API key.
	AuthToken string
	// APIKey and APISecret are an API key's SID ("SK...") and secret,
	// instead of the auth token.
	APIKey, APISecret string
	// Name names the Source's checkpoint (default "twilio:" + AccountSid).
	Name string
	// URL is the API's base URL (default Twilio's, https://api.twilio.com),
	// for a test server.
	URL string
	// HTTPClient sends the requests (default one with a 30-second
	// timeout). twilio-go takes no context: the timeout bounds a request.
	HTTPClient *http.Client
	// Revisit lists messages sent this long before each window again
	// (default DefaultRevisit; negative for none).
	Revisit time.Duration
}

// Source reads an account's messages; it implements reconcile.Source.
type Source struct {
	name, account string
	secrets       []string
	revisit       time.Duration
	api           *openapi.ApiService
	rt            *transport
}

// New returns a Source, or an error wrapping dispatch.ErrInvalidConfig
// without an account or credentials.
func New(cfg Config) (*Source, error) {
	user, pass := cfg.AccountSid, cfg.AuthToken
	if cfg.APIKey != "" || cfg.APISecret != "" {
		user, pass = cfg.APIKey, cfg.APISecret
	}
	switch {
	case cfg.AccountSid == "":
		return nil, fmt.Errorf("twilioreconcile: Config.AccountSid is required: %w", dispatch.ErrInvalidConfig)
	case user == "" || pass == "":
		return nil, fmt.Errorf("twilioreconcile: Config.AuthToken, or APIKey and APISecret, are required: %w", dispatch.ErrInvalidConfig)
	}
	if !alphanumeric(user) || !alphanumeric(pass) {
		// twilio-go refuses them on every request; refused here, once.
		return nil, fmt.Errorf("twilioreconcile: the account SID, API key or secret holds a character other than letters and digits: %w",
			dispatch.ErrInvalidConfig)
	}
	rt := &transport{}
	if cfg.URL != "" {
		u, err := url.Parse(cfg.URL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("twilioreconcile: Config.URL is not a base URL: %w", dispatch.ErrInvalidConfig)
		}
		rt.base = u
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	copied := *hc
	rt.next = copied.Transport
	if rt.next == nil {
		rt.next = http.DefaultTransport
	}
	copied.Transport = rt
	// As twilio-go's default client: a redirect is an answer, not followed.
	copied.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &twclient.Client{Credentials: twclient.NewCredentials(user, pass), HTTPClient: &copied}
	c.SetAccountSid(cfg.AccountSid)
	name := cfg.Name
	if name == "" {
		name = "twilio:" + cfg.AccountSid
	}
	revisit := cfg.Revisit
	switch {
	case revisit == 0:
		revisit = DefaultRevisit
	case revisit < 0:
		revisit = 0
	}
	return &Source{name: name, account: cfg.AccountSid, secrets: []string{pass}, revisit: revisit,
		api: openapi.NewApiServiceWithClient(c), rt: rt}, nil
}

func alphanumeric(s string) bool {
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// transport sends twilio-go's requests to the configured base URL, and
// keeps the Retry-After of the last 429 (twilio-go's errors carry no
// headers).
type transport struct {
	base *url.URL
	next http.RoundTripper

	mu         sync.Mutex
	retryAfter time.Duration
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.base != nil {
		req = req.Clone(req.Context())
		req.URL.Scheme, req.URL.Host = t.base.Scheme, t.base.Host
		req.URL.Path = strings.TrimSuffix(t.base.Path, "/") + req.URL.Path
		req.Host = t.base.Host
	}
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		t.mu.Lock()
		t.retryAfter = reconcile.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		t.mu.Unlock()
	}
	return resp, err
}

func (t *transport) takeRetryAfter() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.retryAfter
	t.retryAfter = 0
	return d
}

// Name implements reconcile.Source.
func (s *Source) Name() string { return s.name }

// Streams implements reconcile.Source: one stream, "messages:" and the
// patterns that match message status callbacks, or none when no pattern
// does.
func (s *Source) Streams(patterns []string) []string {
	var handled []string
	for _, p := range patterns {
		if p == "*" || strings.HasPrefix(p, "message.") {
			handled = append(handled, p)
		}
	}
	if len(handled) == 0 {
		return nil
	}
	return []string{"messages:" + strings.Join(handled, ",")}
}

// Page implements reconcile.Source. The cursor is the next page's number
// and PageToken, from Twilio's next_page_uri.
func (s *Source) Page(ctx context.Context, q reconcile.Query) (reconcile.Page, error) {
	patterns, ok := strings.CutPrefix(q.Stream, "messages:")
	if !ok {
		return reconcile.Page{}, fmt.Errorf("twilioreconcile: stream %q is not one of Streams': %w", q.Stream, dispatch.ErrInvalidConfig)
	}
	handled := strings.Split(patterns, ",")
	if err := ctx.Err(); err != nil {
		return reconcile.Page{}, err
	}
	params := &openapi.ListMessageParams{}
	params.SetDateSentAfter(q.Since.Add(-s.revisit).UTC()).SetDateSentBefore(q.Until.UTC()).SetPageSize(q.Limit)
	pageNumber, token, _ := strings.Cut(q.Cursor, "|")
	resp, err := s.api.PageMessage(params, token, pageNumber)
	if err != nil {
		return reconcile.Page{}, s.failed(err)
	}
	page := reconcile.Page{}
	for _, m := range resp.Messages {
		form, typ, ok := callback(m)
		if ok && handles(handled, typ) {
			page.Events = append(page.Events, []byte(form.Encode()))
		}
	}
	if resp.NextPageUri != nil && *resp.NextPageUri != "" {
		next, err := url.Parse(*resp.NextPageUri)
		if err != nil {
			return reconcile.Page{}, fmt.Errorf("twilioreconcile: next_page_uri does not parse: %w", err)
		}
		nq := next.Query()
		page.Next, page.More = nq.Get("Page")+"|"+nq.Get("PageToken"), true
	}
	return page, nil
}

// handles reports whether one of patterns matches typ, as the router
// matches them.
func handles(patterns []string, typ string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			return strings.HasPrefix(typ, prefix)
		}
		return p == typ
	})
}

// callback turns a message resource into the status callback Twilio posts
// for its current status, and that callback's event type.
func callback(m openapi.ApiV2010Message) (url.Values, string, bool) {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	sid, status := str(m.Sid), str(m.Status)
	if sid == "" || status == "" {
		return nil, "", false
	}
	form := url.Values{
		"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {str(m.AccountSid)},
		"From": {str(m.From)}, "To": {str(m.To)},
		"MessageStatus": {status}, "SmsStatus": {status},
		"ApiVersion": {str(m.ApiVersion)},
	}
	if v := str(m.MessagingServiceSid); v != "" {
		form.Set("MessagingServiceSid", v)
	}
	if m.ErrorCode != nil && *m.ErrorCode != 0 {
		form.Set("ErrorCode", strconv.Itoa(*m.ErrorCode))
	}
	return form, "message." + status, true
}

// failed turns twilio-go's error into the Source's: a 429 is a
// *reconcile.RateLimitError, and no error's text holds a secret.
func (s *Source) failed(err error) error {
	msg := err.Error()
	for _, secret := range s.secrets {
		msg = strings.ReplaceAll(msg, secret, "[secret]")
	}
	cause := errors.New("twilio: listing messages: " + msg)
	var te *twclient.TwilioRestError
	if errors.As(err, &te) && te.Status == http.StatusTooManyRequests {
		return &reconcile.RateLimitError{RetryAfter: s.rt.takeRetryAfter(), Err: cause}
	}
	return cause
}

var _ reconcile.Source = (*Source)(nil)
