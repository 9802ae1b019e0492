package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	if f.unique {
		if _, _, err := uniqueBody(s, body, 0); err != nil {
			return err
		}
	}
	build := func(i int) (outgoing, error) {
		b, id := body, ""
		if f.unique {
			var err error
			if b, id, err = uniqueBody(s, body, i); err != nil {
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
	for _, h := range signatureHeaders {
		r.Header.Del(h)
	}
	if o.host != "" {
		r.Host = o.host
	}
	if err := s.signer(at, id).Sign(r, o.body); err != nil {
		return o, err
	}
	o.url, o.header = r.URL.String(), r.Header
	return o, nil
}

// uniqueBody gives the i-th delivery of a run its own event ID: the
// Standard Webhooks message ID, the Twilio callback's SID, or the JSON
// body's top-level id.
func uniqueBody(s scheme, body []byte, i int) ([]byte, string, error) {
	suffix := "_" + strconv.Itoa(i+1)
	switch {
	case s.name == "standard" || s.name == "svix":
		sum := sha256.Sum256(body)
		return body, "msg_" + hex.EncodeToString(sum[:12]) + suffix, nil
	case s.name == "twilio" && contentTypeOf(body) != "application/json":
		for _, name := range []string{"MessageSid", "CallSid"} {
			if sid := formValue(body, name); sid != "" {
				sets := []string{name + "=" + sid + suffix}
				if name == "MessageSid" && formValue(body, "SmsSid") != "" {
					sets = append(sets, "SmsSid="+sid+suffix)
				}
				b, err := editForm(body, sets)
				return b, "", err
			}
		}
		return nil, "", errors.New("--unique: the form has neither MessageSid nor CallSid")
	}
	root, err := parseOrdered(body)
	if err != nil {
		return nil, "", fmt.Errorf("--unique: the body is not JSON: %w", err)
	}
	id := root.get("id")
	if id == nil || id.kind != 0 || len(id.raw) < 2 || id.raw[0] != '"' {
		return nil, "", errors.New("--unique: the body has no top-level string \"id\"")
	}
	b, err := editJSON(body, []string{"id=" + decodeString(id.raw) + suffix})
	return b, "", err
}
