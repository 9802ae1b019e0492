package main

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
)

// templates are the events trigger builds. Stripe's are deliveries of
// API version 2023-10-16 (stripe-go v76) whose IDs and times are made
// fresh; the others are text/template files.
//
//go:embed templates
var templates embed.FS

// sender is one sender of the catalog.
type sender struct {
	name    string
	scheme  string // the scheme its deliveries are signed with
	ext     string // the body file's extension
	catalog func() []string
}

// senders are the catalog's senders: the event types of the library's
// provider packages.
var senders = []sender{
	{"stripe", "stripe", ".json", stripeevent.Catalog},
	{"twilio", "twilio", ".form", twilioevent.Catalog},
	{"goconverso", "standard", ".json", conversoevent.Catalog},
	{"etail", "etail", ".json", etailevent.Catalog},
}

// eventType is a type of the catalog.
type eventType struct {
	sender sender
	name   string
}

// catalog lists every type, sender by sender.
func catalog() []eventType {
	var out []eventType
	for _, s := range senders {
		for _, name := range s.catalog() {
			out = append(out, eventType{s, name})
		}
	}
	return out
}

// findType finds a type by its name, or by sender/name.
func findType(name string) (eventType, error) {
	senderName, typeName, qualified := strings.Cut(name, "/")
	if !qualified {
		typeName = name
	}
	var found []eventType
	for _, t := range catalog() {
		if t.name == typeName && (!qualified || t.sender.name == senderName) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return eventType{}, usageErr("unknown event type %q (hookkit trigger --list names them)", name)
	case 1:
		return found[0], nil
	}
	return eventType{}, usageErr("%q is a type of several senders: name one as sender/type", name)
}

// status is the part of a type after its family: "delivered" in
// "message.delivered".
func (t eventType) status() string {
	_, s, _ := strings.Cut(t.name, ".")
	return s
}

// templatePath returns the type's template: its own file, or its
// family's ("message" for message.delivered).
func (t eventType) templatePath() (string, error) {
	family, _, _ := strings.Cut(t.name, ".")
	for _, p := range []string{t.name + t.sender.ext, family + t.sender.ext} {
		p = "templates/" + t.sender.name + "/" + p
		if _, err := fs.Stat(templates, p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no template for %s/%s", t.sender.name, t.name)
}

// builder renders events with fresh IDs and times.
type builder struct {
	rnd *rand.Rand
	now func() time.Time
}

func newBuilder(seed uint64, now func() time.Time) *builder {
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &builder{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: now}
}

// build renders one event of type t.
func (b *builder) build(t eventType) ([]byte, error) {
	path, err := t.templatePath()
	if err != nil {
		return nil, err
	}
	text, err := templates.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if t.sender.name == "stripe" {
		return b.freshen(text), nil
	}
	out, err := b.render(path, text, t)
	if err != nil {
		return nil, err
	}
	if t.sender.ext == ".form" {
		return encodeFormLines(out), nil
	}
	return bytes.TrimSpace(out), nil
}

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	digits = "0123456789"
	hexits = "0123456789abcdef"
)

func (b *builder) chars(set string, n int) string {
	out := make([]byte, n)
	for i := range out {
		out[i] = set[b.rnd.IntN(len(set))]
	}
	return string(out)
}

// render executes a text template; each ID function returns one value
// per key within a render, so references agree.
func (b *builder) render(name string, text []byte, t eventType) ([]byte, error) {
	memo := map[string]string{}
	once := func(key string, gen func() string) string {
		if v, ok := memo[key]; ok {
			return v
		}
		memo[key] = gen()
		return memo[key]
	}
	now := b.now().UTC()
	funcs := template.FuncMap{
		"num": func(prefix string, n int) string {
			return once("num"+prefix, func() string { return prefix + b.chars(digits[1:], 1) + b.chars(digits, n-1) })
		},
		"sid": func(prefix string) string {
			return once("sid"+prefix, func() string { return prefix + b.chars(hexits, 32) })
		},
		"uuid": func(key string) string {
			return once("uuid"+key, func() string {
				h := b.chars(hexits, 32)
				return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + string("89ab"[b.rnd.IntN(4)]) + h[17:20] + "-" + h[20:]
			})
		},
		"unix":     func() int64 { return now.Unix() },
		"iso":      func() string { return now.Format("2006-01-02T15:04:05.000Z") },
		"rfc1123z": func() string { return now.Format(time.RFC1123Z) },
		"dlr":      func() string { return now.Format("0601021504") },
		"isoIn": func(d string) (string, error) {
			dur, err := time.ParseDuration(d)
			return now.Add(dur).Truncate(time.Hour).Format("2006-01-02T15:04:05.000Z"), err
		},
	}
	tmpl, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	err = tmpl.Execute(&out, struct{ Type, Status string }{t.name, t.status()})
	return out.Bytes(), err
}

// encodeFormLines turns "Name=value" lines into a form body, each value
// escaped.
func encodeFormLines(text []byte) []byte {
	var pairs []string
	for _, line := range strings.Split(string(text), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		name, value, _ := strings.Cut(line, "=")
		pairs = append(pairs, url.QueryEscape(name)+"="+url.QueryEscape(value))
	}
	return []byte(strings.Join(pairs, "&"))
}

var (
	// stripeID matches Stripe's object IDs: "pi_3OdQh2LkdIwHu7ix1pLqDp2K",
	// "cs_test_a1Q2...". Words such as "amount_capturable" hold no digit
	// and are left alone.
	stripeID = regexp.MustCompile(`\b[a-z]{2,8}_(?:test_|live_)?[A-Za-z0-9]{10,}`)
	// uuidText matches a UUID (an idempotency key).
	uuidText = regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	// unixField matches a JSON number that is a Unix time of this era.
	unixField = regexp.MustCompile(`(:\s*)(1[6-9]\d{8})\b`)
	// createdField finds the event's own time.
	createdField = regexp.MustCompile(`"created":\s*(\d+)`)
)

// freshen gives a recorded Stripe event new IDs (each old ID always maps
// to the same new one, so references agree) and moves its times so that
// it was created now.
func (b *builder) freshen(text []byte) []byte {
	ids := map[string]string{}
	text = stripeID.ReplaceAllFunc(text, func(id []byte) []byte {
		if !bytes.ContainsAny(id[bytes.IndexByte(id, '_'):], digits) {
			return id
		}
		if v, ok := ids[string(id)]; ok {
			return []byte(v)
		}
		cut := bytes.LastIndexByte(id, '_') + 1
		v := string(id[:cut]) + b.chars(alnum, len(id)-cut)
		ids[string(id)] = v
		return []byte(v)
	})
	text = uuidText.ReplaceAllFunc(text, func([]byte) []byte {
		h := b.chars(hexits, 32)
		return []byte(h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:])
	})
	// The event's own time is the "created" that follows its
	// "object": "event" at the top of the envelope.
	var shift int64
	if at := bytes.Index(text, []byte(`"object": "event"`)); at >= 0 {
		if m := createdField.FindSubmatch(text[at:]); m != nil {
			created, _ := strconv.ParseInt(string(m[1]), 10, 64)
			shift = b.now().Unix() - created
		}
	}
	return unixField.ReplaceAllFunc(text, func(m []byte) []byte {
		sub := unixField.FindSubmatch(m)
		t, _ := strconv.ParseInt(string(sub[2]), 10, 64)
		return append(append([]byte(nil), sub[1]...), strconv.FormatInt(t+shift, 10)...)
	})
}
