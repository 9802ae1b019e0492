package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

type deadLetterFlags struct {
	admin  string
	json   bool
	source string
	typ    string
	since  string
	until  string
	limit  int
	all    bool
}

func init() {
	register(&command{
		name:    "deadletters",
		summary: "list, show, re-run or discard dead letters (dispatch/admin)",
		usage:   "list|show KEY|rerun KEY|discard KEY --admin URL [flags]",
		description: `
Deadletters drives a host's dispatch/admin API, mounted at URL (for
examples/bookings, http://HOST/dead-letters), with the bearer token in
HOOKKIT_ADMIN_TOKEN:

	list          the dead letters, oldest first (--all follows every page)
	show KEY      one, with its raw body
	rerun KEY     run its handler again; exits 1 if it fails again
	discard KEY   close it without running it

It prints a table, or the API's JSON with --json. Dead letters hold
customers' data: the token is read from the environment, never a flag, so
it stays out of shell histories and process lists.`,
		examples: []string{
			"hookkit deadletters list --admin $ADMIN",
			"hookkit deadletters show stripe:evt_1 --admin $ADMIN",
			"hookkit deadletters rerun stripe:evt_1 --admin $ADMIN --json",
			"hookkit deadletters discard stripe:evt_2 --admin $ADMIN",
		},
		flags: func(fs *flag.FlagSet) any {
			f := &deadLetterFlags{}
			fs.StringVar(&f.admin, "admin", "", "the admin API's base URL (its dead-letter routes)")
			fs.BoolVar(&f.json, "json", false, "print the API's JSON")
			fs.StringVar(&f.source, "source", "", "list: only this event source (stripe)")
			fs.StringVar(&f.typ, "type", "", "list: only this event type")
			fs.StringVar(&f.since, "since", "", "list: dead-lettered at or after this RFC 3339 time")
			fs.StringVar(&f.until, "until", "", "list: dead-lettered before this RFC 3339 time")
			fs.IntVar(&f.limit, "limit", 0, "list: at most this many per page (1 to 1000)")
			fs.BoolVar(&f.all, "all", false, "list: follow every page")
			return f
		},
		run: runDeadLetters,
	})
}

// deadLetter is one row of the admin API's listing.
type deadLetter struct {
	Key       string     `json:"key"`
	Source    string     `json:"source"`
	ID        string     `json:"id"`
	Type      string     `json:"type"`
	EventTime *time.Time `json:"event_time,omitempty"`
	Error     string     `json:"error"`
	Attempts  int        `json:"attempts"`
	DeadAt    time.Time  `json:"dead_at"`
	Ref       string     `json:"ref,omitempty"`
	Body      *string    `json:"body,omitempty"`
}

// adminClient calls the admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// errAdmin is an answer of the admin API other than 200.
type errAdmin struct {
	status int
	msg    string
}

func (e *errAdmin) Error() string {
	return fmt.Sprintf("the admin API answered %d: %s", e.status, e.msg)
}

func (c *adminClient) call(ctx context.Context, method, path string) ([]byte, error) {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	}
	r, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Accept", "application/json")
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(answer, &e) != nil || e.Error == "" {
			e.Error = oneLine(answer, 200)
		}
		return answer, &errAdmin{status: resp.StatusCode, msg: e.Error}
	}
	return answer, nil
}

func runDeadLetters(ctx context.Context, sio *stdio, opts any, args []string) error {
	f := opts.(*deadLetterFlags)
	if len(args) == 0 {
		return usageErr("want a subcommand: list, show KEY, rerun KEY or discard KEY")
	}
	if f.admin == "" {
		return usageErr("--admin is required")
	}
	c := &adminClient{base: strings.TrimSuffix(f.admin, "/"), token: sio.getenv("HOOKKIT_ADMIN_TOKEN"), http: &http.Client{Timeout: 30 * time.Second}}
	err := deadLetterCommand(ctx, sio, c, f, args[0], args[1:])
	if e := (*errAdmin)(nil); errors.As(err, &e) && (e.status == http.StatusUnauthorized || e.status == http.StatusForbidden) {
		return fmt.Errorf("%w (is HOOKKIT_ADMIN_TOKEN the host's admin token?)", err)
	}
	return err
}

func deadLetterCommand(ctx context.Context, sio *stdio, c *adminClient, f *deadLetterFlags, sub string, rest []string) error {
	if sub == "list" {
		if len(rest) != 0 {
			return usageErr("list takes no argument")
		}
		return listDeadLetters(ctx, sio, c, f)
	}
	if len(rest) != 1 {
		return usageErr("%s wants one KEY", sub)
	}
	key := url.PathEscape(rest[0])
	switch sub {
	case "show":
		return showDeadLetter(ctx, sio, c, f, key)
	case "rerun", "discard":
		return actOnDeadLetter(ctx, sio, c, f, sub, key, rest[0])
	}
	return usageErr("unknown subcommand %q: want list, show, rerun or discard", sub)
}

func listDeadLetters(ctx context.Context, sio *stdio, c *adminClient, f *deadLetterFlags) error {
	q := url.Values{}
	for k, v := range map[string]string{"source": f.source, "type": f.typ, "since": f.since, "until": f.until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.limit != 0 {
		q.Set("limit", strconv.Itoa(f.limit))
	}
	var letters []deadLetter
	for {
		answer, err := c.call(ctx, http.MethodGet, "/?"+q.Encode())
		if err != nil {
			return err
		}
		var page struct {
			DeadLetters []deadLetter `json:"dead_letters"`
			Next        string       `json:"next"`
		}
		if err := json.Unmarshal(answer, &page); err != nil {
			return fmt.Errorf("the admin API's answer is not a listing: %w", err)
		}
		if f.json && !f.all && (len(page.DeadLetters) > 0 || page.Next == "") {
			sio.out.Write(answer)
			return nil
		}
		letters = append(letters, page.DeadLetters...)
		// An empty page with a cursor (a host that lists several stores
		// one after the other) says nothing: the next one is fetched.
		if page.Next == "" || (!f.all && len(page.DeadLetters) > 0) {
			if page.Next != "" && !f.json {
				defer fmt.Fprintf(sio.err, "more may follow: --all lists every page\n")
			}
			break
		}
		q.Set("after", page.Next)
	}
	if f.json {
		if letters == nil {
			letters = []deadLetter{}
		}
		writeJSONLine(sio.out, map[string]any{"dead_letters": letters})
		return nil
	}
	if len(letters) == 0 {
		fmt.Fprintln(sio.out, "no dead letters")
		return nil
	}
	w := tabwriter.NewWriter(sio.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KEY\tTYPE\tATTEMPTS\tDEAD AT\tERROR")
	for _, dl := range letters {
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", dl.Key, dl.Type, dl.Attempts, dl.DeadAt.UTC().Format(time.RFC3339), oneLine([]byte(dl.Error), 80))
	}
	return w.Flush()
}

func showDeadLetter(ctx context.Context, sio *stdio, c *adminClient, f *deadLetterFlags, key string) error {
	answer, err := c.call(ctx, http.MethodGet, "/"+key)
	if err != nil {
		return err
	}
	if f.json {
		sio.out.Write(answer)
		return nil
	}
	var dl deadLetter
	if err := json.Unmarshal(answer, &dl); err != nil {
		return fmt.Errorf("the admin API's answer is not a dead letter: %w", err)
	}
	w := tabwriter.NewWriter(sio.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "key:\t%s\nsource:\t%s\nid:\t%s\ntype:\t%s\n", dl.Key, dl.Source, dl.ID, dl.Type)
	if dl.EventTime != nil {
		fmt.Fprintf(w, "event time:\t%s\n", dl.EventTime.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "dead at:\t%s\nattempts:\t%d\nerror:\t%s\n", dl.DeadAt.UTC().Format(time.RFC3339), dl.Attempts, dl.Error)
	if dl.Ref != "" {
		fmt.Fprintf(w, "ref:\t%s\n", dl.Ref)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if dl.Body != nil {
		body := []byte(*dl.Body)
		var pretty bytes.Buffer
		if json.Indent(&pretty, body, "", "  ") == nil {
			body = pretty.Bytes()
		}
		fmt.Fprintf(sio.out, "body:\n%s\n", body)
	}
	return nil
}

func actOnDeadLetter(ctx context.Context, sio *stdio, c *adminClient, f *deadLetterFlags, action, key, raw string) error {
	answer, err := c.call(ctx, http.MethodPost, "/"+key+"/"+action)
	if e := (*errAdmin)(nil); action == "rerun" && errors.As(err, &e) && e.status == http.StatusConflict {
		if f.json {
			sio.out.Write(answer)
		} else {
			fmt.Fprintf(sio.out, "rerun %s: the handler failed again; the dead letter stays\n", raw)
		}
		return errFailed
	}
	if err != nil {
		return err
	}
	if f.json {
		sio.out.Write(answer)
		return nil
	}
	past := map[string]string{"rerun": "re-ran", "discard": "discarded"}[action]
	fmt.Fprintf(sio.out, "%s %s\n", past, raw)
	return nil
}
