package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"text/tabwriter"
	"time"
)

type triggerFlags struct {
	schemeFlags
	deliveryFlags
	sets  stringList
	list  bool
	print bool
	seed  uint64
}

func init() {
	register(&command{
		name:    "trigger",
		summary: "build a realistic event of a catalog type, sign it and send it",
		usage:   "TYPE --url URL --secret SECRET [--set path=value]... [flags] | --list",
		description: `
Trigger builds a realistic event of TYPE without any account or network:
every Stripe type of events/stripeevent (API version 2023-10-16, decoded by
stripe-go v76's types), Twilio's SMS and call status callbacks
(events/twilioevent), GoConverso's booking.* events (events/conversoevent,
in the shape GoConverso documents) and Etail Depot's events
(events/etailevent). Each event has fresh IDs and times. --set changes a
field before signing: path=value (a dotted JSON path, or a form parameter;
the value stays a string unless it replaces a number, a boolean or null),
path:=json for raw JSON, path- to delete it.

The event is signed as its sender signs (Stripe, Twilio, Standard Webhooks
for GoConverso, the etail HMAC preset for Etail Depot; --scheme changes it)
and sent like hookkit send sends, with the same flags. --print prints the
body instead of sending it; --list names the types.`,
		examples: []string{
			"hookkit trigger --list",
			"hookkit trigger payment_intent.succeeded --secret whsec_test --url $URL/stripe --set data.object.metadata.booking_id=12345",
			"hookkit trigger message.delivered --secret twilio_token --url $URL/twilio",
			"hookkit trigger booking.created --secret whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ= --url $URL/standard --repeat 5",
			"hookkit trigger payment.succeeded --print --set data.object.amount=2500",
		},
		flags: func(fs *flag.FlagSet) any {
			f := &triggerFlags{}
			f.schemeFlags.register(fs)
			f.deliveryFlags.register(fs, true)
			fs.Var(&f.sets, "set", "change a field: `path=value`, path:=json, or path- to delete it (repeatable)")
			fs.BoolVar(&f.list, "list", false, "list the event types")
			fs.BoolVar(&f.print, "print", false, "print the event's body instead of sending it")
			fs.Uint64Var(&f.seed, "seed", 0, "seed the random IDs, for the same IDs every run (0: random)")
			return f
		},
		run: runTrigger,
	})
}

func runTrigger(ctx context.Context, sio *stdio, opts any, args []string) error {
	f := opts.(*triggerFlags)
	if f.list {
		return listTypes(sio, f.json)
	}
	if len(args) != 1 {
		return usageErr("want one event TYPE (hookkit trigger --list names them)")
	}
	t, err := findType(args[0])
	if err != nil {
		return err
	}
	if err := f.deliveryFlags.check(!f.print); err != nil {
		return err
	}
	s, err := f.schemeFlags.resolve(sio, t.sender.scheme, !f.print)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	b := newBuilder(f.seed, time.Now)
	event := func() ([]byte, error) {
		mu.Lock()
		body, err := b.build(t)
		mu.Unlock()
		if err != nil || len(f.sets) == 0 {
			return body, err
		}
		if t.sender.ext == ".form" {
			return editForm(body, f.sets)
		}
		return editJSON(body, f.sets)
	}
	if f.print {
		body, err := event()
		if err != nil {
			return err
		}
		fmt.Fprintf(sio.out, "%s\n", body)
		return nil
	}
	header, host := f.deliveryFlags.header()
	if header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/json")
		if t.sender.ext == ".form" {
			header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	build := func(int) (outgoing, error) {
		body, err := event()
		if err != nil {
			return outgoing{}, err
		}
		return signOutgoing(s, outgoing{url: f.url, host: host, header: header, body: body}, time.Now().Add(f.offset), "")
	}
	return deliver(ctx, sio, &f.deliveryFlags, f.repeat, build)
}

func listTypes(sio *stdio, asJSON bool) error {
	if asJSON {
		for _, t := range catalog() {
			writeJSONLine(sio.out, map[string]string{"sender": t.sender.name, "type": t.name, "scheme": t.sender.scheme})
		}
		return nil
	}
	w := tabwriter.NewWriter(sio.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SENDER\tTYPE\tSCHEME")
	for _, t := range catalog() {
		fmt.Fprintf(w, "%s\t%s\t%s\n", t.sender.name, t.name, t.sender.scheme)
	}
	return w.Flush()
}
