package reconciletest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is the local API server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, for reconcile.StripeConfig.URL and
	// twilioreconcile.Config.URL.
	URL string

	srv       *httptest.Server
	stripeKey string
	twilio    struct{ account, token string }

	mu        sync.Mutex
	events    []stripeEvent
	messages  []Message
	limited   int    // requests still to answer 429
	after     string // their Retry-After
	requests  []*url.URL
	onRequest func(*http.Request)
}

type stripeEvent struct {
	id, typ string
	created int64
	body    json.RawMessage
}

// Config says which credentials the server accepts.
type Config struct {
	// StripeKey is the Stripe API key it accepts.
	StripeKey string
	// TwilioAccountSid and TwilioAuthToken are the Twilio credentials it
	// accepts.
	TwilioAccountSid, TwilioAuthToken string
}

// NewServer starts a Server; Close stops it.
func NewServer(cfg Config) *Server {
	s := &Server{stripeKey: cfg.StripeKey}
	s.twilio.account, s.twilio.token = cfg.TwilioAccountSid, cfg.TwilioAuthToken
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/events", s.listEvents)
	mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Messages.json", s.listMessages)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.URL)
		hook, limited := s.onRequest, s.limited > 0
		after := s.after
		if limited {
			s.limited--
		}
		s.mu.Unlock()
		if hook != nil {
			hook(r)
		}
		if limited {
			if after != "" {
				w.Header().Set("Retry-After", after)
			}
			if strings.HasPrefix(r.URL.Path, "/v1/") {
				stripeError(w, http.StatusTooManyRequests, "rate_limit", "Too many requests hit the API too quickly.")
			} else {
				twilioError(w, http.StatusTooManyRequests, 20429, "Too Many Requests")
			}
			return
		}
		mux.ServeHTTP(w, r)
	}))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddStripeEvent adds a Stripe event object (its JSON, as a webhook would
// post it: id, type and created are read from it). It panics on JSON
// without them: a mistake in the test.
func (s *Server) AddStripeEvent(body []byte) {
	var head struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Created int64  `json:"created"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.ID == "" || head.Type == "" || head.Created == 0 {
		panic(fmt.Sprintf("reconciletest: not a Stripe event (id, type, created): %v", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, stripeEvent{id: head.ID, typ: head.Type, created: head.Created, body: slices.Clone(body)})
	// Newest first, as Stripe lists; ties by ID, for a stable order.
	slices.SortStableFunc(s.events, func(a, b stripeEvent) int {
		if a.created != b.created {
			return int(b.created - a.created)
		}
		return strings.Compare(b.id, a.id)
	})
}

// StripeEvent returns a Stripe event's JSON of type typ about a payment
// intent, in the shape Stripe documents, created at created.
func StripeEvent(id, typ string, created time.Time, object string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2023-10-16","created":%d,"data":{"object":%s},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":%q}`,
		id, created.Unix(), object, typ)
}

// Message is a Twilio message resource, as the Messages list returns it.
type Message struct {
	Sid, AccountSid, From, To, Body string
	// Status is the message's current status: queued, sent, delivered,
	// undelivered, failed, ...
	Status              string
	MessagingServiceSid string
	DateSent            time.Time
	ErrorCode           int // 0 for none
	ErrorMessage        string
}

// AddMessage adds a message to the list.
func (s *Server) AddMessage(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	slices.SortStableFunc(s.messages, func(a, b Message) int {
		if c := b.DateSent.Compare(a.DateSent); c != 0 {
			return c
		}
		return strings.Compare(b.Sid, a.Sid)
	})
}

// SetMessageStatus changes a message's current status, as a carrier's
// report does.
func (s *Server) SetMessageStatus(sid, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.messages {
		if s.messages[i].Sid == sid {
			s.messages[i].Status = status
		}
	}
}

// RateLimit answers the next n requests 429, with Retry-After retryAfter
// (empty for none).
func (s *Server) RateLimit(n int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited, s.after = n, retryAfter
}

// OnRequest sets a function called with each request before it is
// answered (nil for none): to block it, or to look at the host's state
// while the host waits on the network.
func (s *Server) OnRequest(f func(*http.Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRequest = f
}

// Requests returns the URLs of the requests served so far.
func (s *Server) Requests() []*url.URL {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func stripeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	typ := "invalid_request_error"
	if status == http.StatusTooManyRequests {
		typ = "api_error"
	}
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"type": typ, "code": code, "message": msg}})
}

func twilioError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code), "status": status})
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if user, _, ok := r.BasicAuth(); ok {
		key = user
	}
	if s.stripeKey == "" || key != s.stripeKey {
		stripeError(w, http.StatusUnauthorized, "", "Invalid API Key provided.")
		return
	}
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			stripeError(w, http.StatusBadRequest, "parameter_invalid_integer", "limit must be between 1 and 100")
			return
		}
		limit = n
	}
	var types []string
	for k, v := range q {
		if k == "types" || k == "types[]" || strings.HasPrefix(k, "types[") {
			types = append(types, v...)
		}
	}
	typ := q.Get("type")
	if typ != "" && len(types) > 0 {
		stripeError(w, http.StatusBadRequest, "parameter_invalid", "You may pass either type or types, but not both.")
		return
	}
	if len(types) > 20 {
		stripeError(w, http.StatusBadRequest, "parameter_invalid", "types takes at most 20 event types")
		return
	}
	bounds := map[string]int64{}
	for _, op := range []string{"gte", "gt", "lte", "lt"} {
		if v := q.Get("created[" + op + "]"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				stripeError(w, http.StatusBadRequest, "parameter_invalid_integer", "created["+op+"] must be a timestamp")
				return
			}
			bounds[op] = n
		}
	}
	if q.Get("ending_before") != "" {
		stripeError(w, http.StatusBadRequest, "parameter_unknown", "this server pages with starting_after only")
		return
	}
	s.mu.Lock()
	var match []stripeEvent
	for _, e := range s.events {
		if in(e.created, bounds) && typeMatches(e.typ, typ, types) {
			match = append(match, e)
		}
	}
	s.mu.Unlock()
	if after := q.Get("starting_after"); after != "" {
		i := slices.IndexFunc(match, func(e stripeEvent) bool { return e.id == after })
		if i < 0 {
			stripeError(w, http.StatusBadRequest, "resource_missing", "No such event: starting_after")
			return
		}
		match = match[i+1:]
	}
	more := len(match) > limit
	if more {
		match = match[:limit]
	}
	data := make([]json.RawMessage, len(match))
	for i, e := range match {
		data[i] = e.body
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "url": "/v1/events", "has_more": more, "data": data})
}

func in(created int64, bounds map[string]int64) bool {
	for op, b := range bounds {
		switch {
		case op == "gte" && created < b, op == "gt" && created <= b, op == "lte" && created > b, op == "lt" && created >= b:
			return false
		}
	}
	return true
}

func typeMatches(t, typ string, types []string) bool {
	switch {
	case typ != "":
		if prefix, ok := strings.CutSuffix(typ, "*"); ok {
			return strings.HasPrefix(t, prefix)
		}
		return t == typ
	case len(types) > 0:
		return slices.Contains(types, t)
	}
	return true
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || s.twilio.account == "" || user != s.twilio.account || pass != s.twilio.token || r.PathValue("account") != s.twilio.account {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	q := r.URL.Query()
	size := 50
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			twilioError(w, http.StatusBadRequest, 20001, "Invalid PageSize")
			return
		}
		size = n
	}
	var after, before, on time.Time
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"DateSent>", &after}, {"DateSent<", &before}, {"DateSent", &on}} {
		if v := q.Get(f.name); v != "" {
			t, err := parseTwilioDate(v, f.name == "DateSent<")
			if err != nil {
				twilioError(w, http.StatusBadRequest, 20001, "Invalid "+f.name)
				return
			}
			*f.dst = t
		}
	}
	s.mu.Lock()
	var match []Message
	for _, m := range s.messages {
		if m.AccountSid != s.twilio.account || (!after.IsZero() && m.DateSent.Before(after)) ||
			(!before.IsZero() && m.DateSent.After(before)) || (!on.IsZero() && !m.DateSent.Equal(on)) {
			continue
		}
		match = append(match, m)
	}
	s.mu.Unlock()
	page := 0
	if v := q.Get("Page"); v != "" {
		page, _ = strconv.Atoi(v)
	}
	if token := q.Get("PageToken"); token != "" {
		sid := strings.TrimPrefix(token, "PA")
		i := slices.IndexFunc(match, func(m Message) bool { return m.Sid == sid })
		if i < 0 {
			twilioError(w, http.StatusBadRequest, 20001, "Invalid PageToken")
			return
		}
		match = match[i+1:]
	}
	more := len(match) > size
	if more {
		match = match[:size]
	}
	path := r.URL.Path
	filters := url.Values{}
	for _, k := range []string{"DateSent>", "DateSent<", "DateSent", "To", "From"} {
		if v := q.Get(k); v != "" {
			filters.Set(k, v)
		}
	}
	filters.Set("PageSize", strconv.Itoa(size))
	first := filters
	first.Set("Page", "0")
	resp := map[string]any{"first_page_uri": path + "?" + first.Encode(), "page": page, "page_size": size,
		"previous_page_uri": nil, "next_page_uri": nil, "start": page * size, "end": page*size + len(match) - 1, "uri": r.URL.RequestURI()}
	if more {
		next := url.Values{}
		for k, v := range filters {
			next[k] = v
		}
		next.Set("Page", strconv.Itoa(page+1))
		next.Set("PageToken", "PA"+match[len(match)-1].Sid)
		resp["next_page_uri"] = path + "?" + next.Encode()
	}
	msgs := make([]map[string]any, len(match))
	for i, m := range match {
		msgs[i] = messageJSON(m)
	}
	resp["messages"] = msgs
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// parseTwilioDate reads a DateSent filter: a date (the whole day: its
// end for an upper bound) or an RFC 3339 time.
func parseTwilioDate(v string, upper bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err == nil && upper {
		t = t.Add(24*time.Hour - time.Second)
	}
	return t, err
}

// messageJSON is a message resource as Twilio's API documents it: dates
// in RFC 2822, error_code a number or null.
func messageJSON(m Message) map[string]any {
	const rfc2822 = "Mon, 02 Jan 2006 15:04:05 -0700"
	var code any
	if m.ErrorCode != 0 {
		code = m.ErrorCode
	}
	var errMsg any
	if m.ErrorMessage != "" {
		errMsg = m.ErrorMessage
	}
	var service any
	if m.MessagingServiceSid != "" {
		service = m.MessagingServiceSid
	}
	uri := "/2010-04-01/Accounts/" + m.AccountSid + "/Messages/" + m.Sid + ".json"
	return map[string]any{
		"account_sid": m.AccountSid, "api_version": "2010-04-01", "body": m.Body, "date_created": m.DateSent.UTC().Format(rfc2822),
		"date_sent": m.DateSent.UTC().Format(rfc2822), "date_updated": m.DateSent.UTC().Format(rfc2822), "direction": "outbound-api",
		"error_code": code, "error_message": errMsg, "from": m.From, "messaging_service_sid": service, "num_media": "0",
		"num_segments": "1", "price": nil, "price_unit": "USD", "sid": m.Sid, "status": m.Status, "to": m.To, "uri": uri,
		"subresource_uris": map[string]string{"media": strings.TrimSuffix(uri, ".json") + "/Media.json"},
	}
}
