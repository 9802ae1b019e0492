package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

type sendFlags struct {
	schemeFlags
	deliveryFlags
	data   string
	unique bool
}

func init() {
	register(&command{
		name:    "send",
		summary: "sign a body as a sender would and POST it",
		usage:   "--scheme S --url URL [--secret SECRET] [flags] FILE|-",
		description: `
Send signs the body in FILE (or standard input, or --data) exactly as the
sender of scheme S signs it, and POSTs it to URL: Stripe's Stripe-Signature,
Twilio's X-Twilio-Signature (over the form, or over the URL with bodySHA256
for a JSON body; --public-url names the origin Twilio would sign), Standard
Webhooks' webhook-* headers (whsec_ secrets sign v1 entries, whsk_ signing
keys v1a ed25519 entries; several --secret sign with each), Svix's svix-*
headers, or an HMAC header (--scheme hmac with --preset, or a preset's name
as the scheme). The body is sent byte for byte as read.

It prints each answer's status, latency and body; for many deliveries a
progress bar (on a terminal) and a summary with the rate and latency
percentiles. It exits 1 when an answer is not 2xx (or not --expect CODE).
With --repeat and --concurrency it is hookkit's load tool: --unique gives
each delivery its own event ID, so none is a duplicate of another.`,
		examples: []string{
			"hookkit send --scheme stripe --secret whsec_test --url $URL/stripe payment.json",
			"hookkit send --scheme stripe --secret whsec_test --url $URL/stripe --timestamp-offset -10m --expect 400 payment.json",
			"hookkit send --scheme standard --secret whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ= --url $URL/standard --duplicate booking.json",
			"hookkit send --scheme etail --secret etail_test --url $URL/etail --repeat 100 --concurrency 8 --unique payment.json",
		},
		flags: func(fs *flag.FlagSet) any {
			f := &sendFlags{}
			f.schemeFlags.register(fs)
			f.deliveryFlags.register(fs, true)
			fs.StringVar(&f.data, "data", "", "the body, instead of FILE")
			fs.BoolVar(&f.unique, "unique", false, "give each delivery its own event ID (the body's id, the Standard Webhooks message ID, or the Twilio SID), suffixed with its number")
			return f
		},
		run: runSend,
	})
}

func runSend(ctx context.Context, sio *stdio, opts any, args []string) error {
	f := opts.(*sendFlags)
	if err := f.deliveryFlags.check(true); err != nil {
		return err
	}
	s, err := f.schemeFlags.resolve(sio, "", true)
	if err != nil {
		return err
	}
	body, err := readBody(sio, f.data, args)
	if err != nil {
		return err
	}
	header, host := f.deliveryFlags.header()
	if header.Get("Content-Type") == "" {
		header.Set("Content-Type", contentTypeOf(body))
	}
	var u *uniquer
	if f.unique {
		if u, err = newUniquer(s, body); err != nil {
			return err
		}
	}
	build := func(i int) (outgoing, error) {
		b, id := body, ""
		if u != nil {
			var err error
			if b, id, err = u.delivery(i); err != nil {
				return outgoing{}, err
			}
		}
		return signOutgoing(s, outgoing{url: f.url, host: host, header: header, body: b}, time.Now().Add(f.offset), id)
	}
	return deliver(ctx, sio, &f.deliveryFlags, f.repeat, build)
}

// readBody reads the body from --data, FILE or "-" (standard input).
func readBody(sio *stdio, data string, args []string) ([]byte, error) {
	switch {
	case data != "" && len(args) > 0:
		return nil, usageErr("give the body as --data or as FILE, not both")
	case data != "":
		return []byte(data), nil
	case len(args) != 1:
		return nil, usageErr("want one FILE (or - for standard input)")
	case args[0] == "-":
		return io.ReadAll(sio.in)
	}
	return os.ReadFile(args[0])
}

// contentTypeOf guesses a body's Content-Type as senders send it: JSON
// when it starts with '{' or '[', a form otherwise.
func contentTypeOf(body []byte) string {
	if t := bytes.TrimSpace(body); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return "application/json"
	}
	return "application/x-www-form-urlencoded"
}

// signOutgoing signs o with s at time at; id is the Standard Webhooks
// message ID (empty: the request's own, or one derived from the body).
// The signed request's URL replaces o's (Twilio adds bodySHA256 to a JSON
// delivery's).
func signOutgoing(s scheme, o outgoing, at time.Time, id string) (outgoing, error) {
	r, err := http.NewRequest(http.MethodPost, o.url, nil)
	if err != nil {
		return o, usageErr("--url %q: %v", o.url, err)
	}
	r.Header = o.header.Clone()
	if o.host != "" {
		r.Host = o.host
	}
	if err := s.signer(at, id).Sign(r, o.body); err != nil {
		return o, err
	}
	o.url, o.parsed, o.header = r.URL.String(), r.URL, r.Header
	return o, nil
}

// uniquer gives the i-th delivery of a run its own event ID: the
// Standard Webhooks message ID, the Twilio callback's SID, or the JSON
// body's top-level id, suffixed with "_<i+1>". The body is cut around the
// ID once, so each delivery costs a copy, not a parse.
type uniquer struct {
	s      scheme
	body   []byte
	before []byte // the JSON body up to its id's value
	id     string
	after  []byte
	msgID  string // the Standard Webhooks message ID's stem
}

func newUniquer(s scheme, body []byte) (*uniquer, error) {
	u := &uniquer{s: s, body: body}
	switch {
	case s.name == "standard" || s.name == "svix":
		sum := sha256.Sum256(body)
		u.msgID = "msg_" + hex.EncodeToString(sum[:12])
		return u, nil
	case s.name == "twilio" && contentTypeOf(body) != "application/json":
		if formValue(body, "MessageSid") == "" && formValue(body, "CallSid") == "" {
			return nil, errors.New("--unique: the form has neither MessageSid nor CallSid")
		}
		return u, nil
	}
	start, end, id, err := topLevelID(body)
	if err != nil {
		return nil, err
	}
	u.before, u.id, u.after = body[:start], id, body[end:]
	return u, nil
}

// delivery returns the i-th body and Standard Webhooks message ID.
func (u *uniquer) delivery(i int) ([]byte, string, error) {
	suffix := "_" + strconv.Itoa(i+1)
	switch {
	case u.msgID != "":
		return u.body, u.msgID + suffix, nil
	case u.before == nil:
		for _, name := range []string{"MessageSid", "CallSid"} {
			if sid := formValue(u.body, name); sid != "" {
				sets := []string{name + "=" + sid + suffix}
				if name == "MessageSid" && formValue(u.body, "SmsSid") != "" {
					sets = append(sets, "SmsSid="+sid+suffix)
				}
				b, err := editForm(u.body, sets)
				return b, "", err
			}
		}
	}
	id, _ := marshalScalar(u.id + suffix)
	b := make([]byte, 0, len(u.before)+len(id)+len(u.after))
	return append(append(append(b, u.before...), id...), u.after...), "", nil
}

// topLevelID finds the top-level "id" string of a JSON object: the byte
// span of its literal, and its value.
func topLevelID(body []byte) (start, end int, id string, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0, 0, "", errors.New("--unique: the body is not a JSON object")
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return 0, 0, "", fmt.Errorf("--unique: the body is not JSON: %w", err)
		}
		afterKey := int(dec.InputOffset())
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return 0, 0, "", fmt.Errorf("--unique: the body is not JSON: %w", err)
		}
		if key != "id" || len(value) == 0 || value[0] != '"' {
			continue
		}
		end := int(dec.InputOffset())
		start := afterKey + bytes.IndexByte(body[afterKey:end], '"')
		return start, end, decodeString(value), nil
	}
	return 0, 0, "", errors.New("--unique: the body has no top-level string \"id\"")
}
