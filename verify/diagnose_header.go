package verify

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// schemeHeaders are the signature headers of the senders hookkit knows,
// to recognise a delivery sent to the wrong verifier.
var schemeHeaders = []struct{ header, sender string }{
	{StripeHeader, "Stripe (scheme stripe)"},
	{TwilioHeader, "Twilio (scheme twilio)"},
	{StandardSignatureHeader, "a Standard Webhooks sender (scheme standard)"},
	{SvixSignatureHeader, "Svix, a Standard Webhooks sender (scheme standard)"},
	{"X-Hub-Signature-256", "GitHub (an HMAC scheme)"},
	{"X-Shopify-Hmac-Sha256", "Shopify (an HMAC scheme)"},
	{"Etail-Signature", "Etail Depot (an HMAC scheme)"},
	{"X-Slack-Signature", "Slack (an HMAC scheme)"},
	{"X-Goconverso-Signature", "GoConverso (an HMAC scheme)"},
}

// ownHeaders are the signature headers the configured scheme reads.
func (d *diagnoser) ownHeaders() []string {
	switch {
	case d.cfg.Scheme == "stripe":
		return []string{StripeHeader}
	case d.cfg.Scheme == "twilio":
		return []string{TwilioHeader}
	case d.isStandard():
		return []string{StandardSignatureHeader, SvixSignatureHeader}
	}
	return []string{textproto.CanonicalMIMEHeaderKey(d.cfg.Header)}
}

// missing diagnoses absent signature headers.
func (d *diagnoser) missing(verr error) *Diagnosis {
	own := d.ownHeaders()
	present := false
	for _, h := range own {
		if d.r.Header.Get(h) != "" {
			present = true
		}
	}
	if present {
		// The header is there but holds no signature of the kind the
		// verifier checks.
		return found(CheckHeader, CauseSignatureFormat, d.reason(verr)+
			": the header holds signatures of another kind than the configured secrets check (for Standard Webhooks: v1 entries need a whsec_ secret, v1a entries a whpk_ public key)")
	}
	for _, sh := range schemeHeaders {
		if slices.Contains(own, sh.header) || d.r.Header.Get(sh.header) == "" {
			continue
		}
		return found(CheckHeader, CauseWrongScheme, fmt.Sprintf(
			"the request has no %s, but it carries %s: it was signed by %s; verify it with that scheme",
			strings.Join(own, " or "), sh.header, sh.sender))
	}
	detail := d.reason(verr)
	if d.isStandard() {
		var absent []string
		for _, pair := range [][2]string{{StandardIDHeader, SvixIDHeader}, {StandardTimestampHeader, SvixTimestampHeader},
			{StandardSignatureHeader, SvixSignatureHeader}} {
			if d.r.Header.Get(pair[0]) == "" && d.r.Header.Get(pair[1]) == "" {
				absent = append(absent, pair[0]+" (or "+pair[1]+")")
			}
		}
		detail = "absent: " + strings.Join(absent, ", ")
	}
	return found(CheckHeader, CauseMissingHeader, fmt.Sprintf(
		"%s; the request's headers are %s: a proxy or framework in front of the application may drop it, or the sender does not sign deliveries to this URL",
		detail, headerNames(d.r.Header)))
}

// reason is a verification error's reason, without the sentinel.
func (d *diagnoser) reason(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Reason
	}
	return err.Error()
}

// headerNames lists a request's header names, never their values.
func headerNames(h http.Header) string {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// malformed diagnoses a header that does not parse.
func (d *diagnoser) malformed(verr error) *Diagnosis {
	if dg := d.hmacFormat(); dg != nil {
		return dg
	}
	return found(CheckHeader, CauseMalformed, d.reason(verr)+
		" (the header, beginning "+clipHeader(d.r.Header.Get(d.ownHeaders()[0]))+", is not what the sender of this scheme writes)")
}

// hmacFormat tries the HMAC header's other prefixes and encodings.
func (d *diagnoser) hmacFormat() *Diagnosis {
	if d.cfg.Scheme != "hmac" {
		return nil
	}
	value := d.r.Header.Get(d.cfg.Header)
	prefixes := []string{d.merged.prefix, ""}
	if i := strings.IndexAny(value, "=,"); i > 0 && i < 12 {
		prefixes = append(prefixes, value[:i+1])
	}
	for _, p := range slices.Compact(prefixes) {
		for _, enc := range []Encoding{Hex, Base64} {
			if p == d.merged.prefix && enc == d.merged.encoding {
				continue
			}
			opts := append(append([]Option(nil), d.opts...), WithPrefix(p), WithEncoding(enc))
			if d.verifies(d.r, d.body, d.secrets, opts) {
				return found(CheckHeader, CauseSignatureFormat, fmt.Sprintf(
					"%s holds %q followed by the %s MAC; the verifier expects %q and %s: configure WithPrefix(%q) and WithEncoding(%s)",
					textproto.CanonicalMIMEHeaderKey(d.cfg.Header), p, enc, d.merged.prefix, d.merged.encoding, p, enc))
			}
		}
	}
	return nil
}

// headerFamily checks a Standard Webhooks delivery that carries both
// svix- and webhook- headers: each family alone.
func (d *diagnoser) headerFamily() *Diagnosis {
	if !d.isStandard() {
		return nil
	}
	h := d.r.Header
	svix := [3]string{SvixIDHeader, SvixTimestampHeader, SvixSignatureHeader}
	std := [3]string{StandardIDHeader, StandardTimestampHeader, StandardSignatureHeader}
	has := func(names [3]string) bool {
		for _, n := range names {
			if h.Get(n) != "" {
				return true
			}
		}
		return false
	}
	if !has(svix) || !has(std) {
		return nil
	}
	for _, keep := range []struct {
		drop       [3]string
		kept, read string
	}{{svix, "webhook-", "svix-"}, {std, "svix-", "webhook-"}} {
		r := d.r.Clone(d.r.Context())
		for _, n := range keep.drop {
			r.Header.Del(n)
		}
		if d.verifies(r, d.body, d.secrets, nil) {
			return found(CheckHeader, CauseHeaderFamily, fmt.Sprintf(
				"the delivery carries both svix- and webhook- headers, and they differ: the %s headers verify alone; each header is read from its svix- form first, as Svix's libraries read them, so the %s headers (a proxy's or a second sender's) must go, or be the signed ones",
				keep.kept, keep.read))
		}
	}
	return nil
}
