package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/events/standardevent"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
	"github.com/hookkit/hookkit/verify/verifytest"
)

type replayFlags struct {
	deliveryFlags
	scheme    string
	secrets   stringList
	publicURL string
	types     stringList
	since     string
	until     string
	shuffle   bool
	seed      uint64
	dryRun    bool
}

func init() {
	register(&command{
		name:    "replay",
		summary: "re-send recorded deliveries, bytes untouched, signed afresh",
		usage:   "--url URL --secret SECRET [flags] DIR|FILE...",
		description: `
Replay re-sends recorded deliveries (the testdata format of events/fixture,
as dispatch/record writes them: NAME.headers beside NAME.json, .form or
.body) to URL followed by each recorded path. The bodies are sent byte for
byte; the recorded headers are kept, Host included, and the signature is
made afresh, with a fresh timestamp, by the scheme the recorded headers
show, keyed with --secret (scheme=secret keys one scheme's deliveries:
--secret stripe=whsec_test --secret twilio=token).

Deliveries go in the order they were recorded (by file name, as
dispatch/record names them), one at a time unless --concurrency says
otherwise; --shuffle sends them in a random order, reproducible with
--seed, the way to test a handler's ordering. --type keeps the event
types matching a pattern (path.Match: 'payment_intent.*'), --since and
--until those whose event time is in the range (RFC 3339).`,
		examples: []string{
			"hookkit replay --url $URL --secret stripe=whsec_test --secret twilio=twilio_token recorded",
			"hookkit replay --url $URL --secret whsec_test --type 'payment_intent.*' --shuffle --seed 7 recorded/stripe",
			"hookkit replay --dry-run --since 2026-11-23T08:00:30Z recorded",
		},
		flags: func(fs *flag.FlagSet) any {
			f := &replayFlags{}
			f.deliveryFlags.register(fs, false)
			fs.StringVar(&f.scheme, "scheme", "", "sign every delivery with this scheme instead of the one its headers show")
			fs.Var(&f.secrets, "secret", "the test secret to sign with: SECRET for every delivery, or scheme=SECRET for one scheme's (repeatable; default $HOOKKIT_SECRET)")
			fs.StringVar(&f.publicURL, "public-url", "", "Twilio: the scheme://host[:port] to sign instead of the recorded Host")
			fs.Var(&f.types, "type", "replay only event types matching `PATTERN` (repeatable)")
			fs.StringVar(&f.since, "since", "", "replay only events at or after this RFC 3339 time")
			fs.StringVar(&f.until, "until", "", "replay only events before this RFC 3339 time")
			fs.BoolVar(&f.shuffle, "shuffle", false, "send in a random order")
			fs.Uint64Var(&f.seed, "seed", 0, "the --shuffle seed (0: random, printed)")
			fs.BoolVar(&f.dryRun, "dry-run", false, "list the deliveries that would be sent, in order, and send nothing")
			return f
		},
		run: runReplay,
	})
}

// recorded is a fixture with what replay knows of its event.
type recorded struct {
	f      fixture.Fixture
	scheme string
	event  *events.Event
}

func runReplay(ctx context.Context, sio *stdio, opts any, args []string) error {
	f := opts.(*replayFlags)
	if len(args) == 0 {
		return usageErr("want at least one DIR or FILE of recorded deliveries")
	}
	if err := f.deliveryFlags.check(!f.dryRun); err != nil {
		return err
	}
	kept, err := selectRecorded(sio, f, args)
	if err != nil {
		return err
	}
	if f.dryRun {
		for i, rec := range kept {
			fmt.Fprintf(sio.out, "#%d %s %s %s %s\n", i+1, rec.f.Name, rec.scheme, rec.typeName(), rec.f.Target)
		}
		return nil
	}
	if len(kept) == 0 {
		fmt.Fprintln(sio.err, "hookkit replay: no delivery matches")
		return errFailed
	}
	signers := map[string]scheme{}
	for _, rec := range kept {
		if _, ok := signers[rec.scheme]; ok {
			continue
		}
		s, err := replayScheme(sio, f, rec.scheme)
		if err != nil {
			return fmt.Errorf("%s: %w", rec.f.Name, err)
		}
		signers[rec.scheme] = s
	}
	extra, host := f.deliveryFlags.header()
	build := func(i int) (outgoing, error) {
		rec := kept[i]
		header := rec.f.Header.Clone()
		for _, h := range signatureHeaders { // the recorded signature goes; a fresh one comes
			header.Del(h)
		}
		for k, v := range extra {
			header[k] = v
		}
		o := outgoing{name: rec.f.Name, method: rec.f.Method, url: strings.TrimSuffix(f.url, "/") + rec.f.Target, header: header, body: rec.f.Body}
		o.host = header.Get("Host")
		header.Del("Host")
		header.Del("Content-Length")
		if host != "" {
			o.host = host
		}
		return signOutgoing(signers[rec.scheme], o, time.Now().Add(f.offset), "")
	}
	return deliver(ctx, sio, &f.deliveryFlags, len(kept), build)
}

// selectRecorded loads the recorded deliveries, keeps those the filters
// select, in the recorded order or shuffled.
func selectRecorded(sio *stdio, f *replayFlags, args []string) ([]recorded, error) {
	since, until, err := timeRange(f.since, f.until)
	if err != nil {
		return nil, err
	}
	all, err := loadRecorded(args)
	if err != nil {
		return nil, err
	}
	var kept []recorded
	for _, rec := range all {
		if f.scheme != "" {
			rec.scheme = f.scheme
		}
		if keep(rec, f.types, since, until) {
			kept = append(kept, rec)
		}
	}
	if f.shuffle {
		seed := f.seed
		if seed == 0 {
			seed = rand.Uint64()%1_000_000 + 1
			fmt.Fprintf(sio.err, "hookkit replay: --seed %d\n", seed)
		}
		rnd := rand.New(rand.NewPCG(seed, seed))
		rnd.Shuffle(len(kept), func(i, j int) { kept[i], kept[j] = kept[j], kept[i] })
	}
	return kept, nil
}

// replayScheme is the scheme to sign one recorded scheme's deliveries
// with, and its secret.
func replayScheme(sio *stdio, f *replayFlags, name string) (scheme, error) {
	if name == "" {
		return scheme{}, usageErr("no signature header shows its scheme: give --scheme")
	}
	var secret string
	for _, s := range f.secrets {
		if k, v, ok := strings.Cut(s, "="); ok && isSchemeName(k) {
			if k == name {
				secret = v
			}
			continue
		}
		if secret == "" {
			secret = s
		}
	}
	if secret == "" {
		secret = sio.getenv("HOOKKIT_SECRET")
	}
	if secret == "" {
		return scheme{}, usageErr("no --secret for scheme %s", name)
	}
	sf := schemeFlags{scheme: name, secrets: stringList{secret}}
	if name == "twilio" {
		sf.publicURL = f.publicURL
	}
	return sf.resolve(sio, name, true)
}

func isSchemeName(s string) bool {
	_, preset := verifytest.HMACPreset(s, nil)
	return preset || slices.Contains(schemeNames, s)
}

// loadRecorded reads the fixtures under each DIR and each FILE (a stem,
// or one of its two files), ordered as recorded: by base name, which
// dispatch/record starts with the time of arrival.
func loadRecorded(args []string) ([]recorded, error) {
	var out []recorded
	for _, arg := range args {
		st, err := os.Stat(arg)
		var fixtures []fixture.Fixture
		switch {
		case err == nil && st.IsDir():
			if fixtures, err = fixture.Load(os.DirFS(arg), "."); err != nil {
				return nil, err
			}
			for i := range fixtures {
				fixtures[i].Name = path.Join(filepath.ToSlash(filepath.Clean(arg)), fixtures[i].Name)
			}
		default:
			stem := stemOf(arg)
			fx, err := fixture.Read(os.DirFS(filepath.Dir(stem)), filepath.Base(stem))
			if err != nil {
				return nil, err
			}
			fx.Name = filepath.ToSlash(stem)
			fixtures = []fixture.Fixture{fx}
		}
		for _, fx := range fixtures {
			out = append(out, recorded{f: fx, scheme: detectScheme(fx.Header), event: parseRecorded(fx)})
		}
	}
	slices.SortStableFunc(out, func(a, b recorded) int { return strings.Compare(path.Base(a.f.Name), path.Base(b.f.Name)) })
	return out, nil
}

// stemOf is a fixture's stem given one of its files or the stem itself.
func stemOf(file string) string {
	for _, ext := range append(fixture.BodyExts(), fixture.HeadersExt) {
		if s, ok := strings.CutSuffix(file, ext); ok {
			return s
		}
	}
	return file
}

// parseRecorded parses a recorded delivery with the parser of its sender,
// for its type and time; nil when it does not parse.
func parseRecorded(f fixture.Fixture) *events.Event {
	r, err := f.Request()
	if err != nil {
		return nil
	}
	h := f.Header
	var p events.Parser
	switch {
	case h.Get("Stripe-Signature") != "":
		p = stripeevent.NewParser()
	case h.Get("X-Twilio-Signature") != "" || f.BodyExt == ".form":
		p = twilioevent.NewParser()
	case h.Get("Etail-Signature") != "":
		p = etailevent.NewParser()
	case h.Get("Webhook-Id") != "" || h.Get("Svix-Id") != "":
		if e, err := standardevent.NewParser("").Parse(r, f.Body); err == nil && e.Type != "" {
			return e
		}
		p = conversoevent.NewParser()
	default:
		p = conversoevent.NewParser()
	}
	e, err := p.Parse(r, f.Body)
	if err != nil {
		e, err = events.NewJSONParser(events.JSONConfig{Source: "recorded", Type: "type", ID: "id", Time: "created", Data: "data"}).Parse(r, f.Body)
		if err != nil {
			return nil
		}
	}
	return e
}

func (rec recorded) typeName() string {
	if rec.event == nil {
		return "?"
	}
	return rec.event.Type
}

// keep applies the --type, --since and --until filters.
func keep(rec recorded, types []string, since, until time.Time) bool {
	if len(types) > 0 {
		matched := false
		for _, pattern := range types {
			if ok, _ := path.Match(pattern, rec.typeName()); ok {
				matched = true
			}
		}
		if !matched {
			return false
		}
	}
	if since.IsZero() && until.IsZero() {
		return true
	}
	if rec.event == nil || rec.event.Time.IsZero() {
		return false
	}
	t := rec.event.Time
	return (since.IsZero() || !t.Before(since)) && (until.IsZero() || t.Before(until))
}

func timeRange(since, until string) (s, u time.Time, err error) {
	if since != "" {
		if s, err = time.Parse(time.RFC3339Nano, since); err != nil {
			return s, u, usageErr("--since %q: not an RFC 3339 time", since)
		}
	}
	if until != "" {
		if u, err = time.Parse(time.RFC3339Nano, until); err != nil {
			return s, u, usageErr("--until %q: not an RFC 3339 time", until)
		}
	}
	return s, u, nil
}
