package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hookkit/hookkit/verify"
)

type explainFlags struct {
	schemeFlags
	index int
	json  bool
}

func init() {
	register(&command{
		name:    "explain",
		summary: "say why a captured delivery does not verify",
		usage:   "[--scheme S] --secret SECRET [--secret OTHER]... [flags] FILE|-",
		description: `
Explain reads one captured delivery, a raw HTTP/1.1 request (as hookkit
listen --raw prints it, or a proxy's log: lines before the request line are
skipped, --index picks the n-th request) or a fixture (NAME.headers and its
body file), verifies it as an endpoint configured with the first --secret
would, and says which check fails and the likely cause: the wrong kind of
secret (an API key, a Standard Webhooks secret given to Stripe or the
reverse, a stray "v1," prefix, bad base64), a body parsed and re-serialised
(it verifies after re-indenting, without a BOM, without a trailing newline,
with its escapes restored), a clock off by N seconds, a Twilio URL that is
not the one Twilio signed (it names the one that does verify), the other
family of Standard Webhooks headers, or another endpoint's secret: every
further --secret is tried as one.

The scheme is the one the delivery's headers show unless --scheme says
otherwise. The diagnosis never prints a secret or a whole signature. It
exits 0 when the delivery verifies, 1 when it does not.`,
		examples: []string{
			"hookkit explain --secret whsec_test delivery.http",
			"hookkit explain --scheme twilio --secret twilio_token twilio.http",
			"hookkit explain --secret whsec_test --secret whsec_other --json other.http",
		},
		flags: func(fs *flag.FlagSet) any {
			f := &explainFlags{}
			f.schemeFlags.register(fs)
			fs.IntVar(&f.index, "index", 1, "explain the `n`-th request of the capture")
			fs.BoolVar(&f.json, "json", false, "print the diagnosis as JSON")
			return f
		},
		run: runExplain,
	})
}

func runExplain(_ context.Context, sio *stdio, opts any, args []string) error {
	f := opts.(*explainFlags)
	if len(args) != 1 {
		return usageErr("want one FILE (or - for standard input)")
	}
	c, err := readCaptured(sio, args[0], f.index)
	if err != nil {
		return err
	}
	s, err := f.schemeFlags.resolve(sio, detectScheme(c.r.Header), true)
	if err != nil {
		return err
	}
	d := verify.Diagnose(c.r, c.body, s.diagnoseConfig())
	if f.json {
		printDiagnosisJSON(sio.out, s, c, d)
	} else {
		printDiagnosis(sio.out, s, c, d, "")
	}
	if !d.OK() {
		return errFailed
	}
	return nil
}

// printDiagnosis prints a diagnosis for a person, each line after the
// first indented by indent.
func printDiagnosis(w io.Writer, s scheme, c captured, d *verify.Diagnosis, indent string) {
	fmt.Fprintf(w, "%sdelivery: %s %s, %d bytes, scheme %s\n", indent, c.r.Method, c.r.RequestURI, len(c.body), s)
	if c.note != "" {
		fmt.Fprintf(w, "%snote: %s\n", indent, c.note)
	}
	if d.OK() {
		fmt.Fprintf(w, "%sverdict: verifies\n", indent)
		return
	}
	fmt.Fprintf(w, "%sverdict: rejected: %v\n", indent, d.Err)
	fmt.Fprintf(w, "%scheck: %s\n", indent, d.Check)
	fmt.Fprintf(w, "%scause: %s\n", indent, d.Cause)
	fmt.Fprintf(w, "%sdetail: %s\n", indent, d.Detail)
	if d.Other >= 0 {
		fmt.Fprintf(w, "%sverifies with: --secret number %d\n", indent, d.Other+2)
	}
}

func printDiagnosisJSON(w io.Writer, s scheme, c captured, d *verify.Diagnosis) {
	v := map[string]any{
		"method": c.r.Method, "target": c.r.RequestURI, "bytes": len(c.body), "scheme": s.String(),
		"verifies": d.OK(), "cause": d.Cause.String(),
	}
	if !d.OK() {
		v["error"], v["check"], v["detail"] = d.Err.Error(), d.Check, d.Detail
	}
	if d.Offset != 0 {
		v["offset_seconds"] = int64(d.Offset / time.Second)
	}
	if d.URL != "" {
		v["url"] = d.URL
	}
	if d.Other >= 0 {
		v["secret"] = d.Other + 2
	}
	if c.note != "" {
		v["note"] = c.note
	}
	writeJSONLine(w, v)
}
