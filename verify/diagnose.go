package verify

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookkit/hookkit/internal/logtext"
)

// DiagnoseConfig describes a verifier as the host built it, for Diagnose.
type DiagnoseConfig struct {
	// Scheme names the constructor: "stripe", "twilio", "standard" (or
	// "svix": Standard Webhooks under svix- headers) or "hmac".
	Scheme string
	// Secret is the constructor's secret (for "hmac", its bytes as text).
	Secret string
	// Header is the signature header of an "hmac" verifier.
	Header string
	// Options are the constructor's options (WithSecrets, WithPublicURL,
	// WithTolerance, WithClock, WithPrefix, ...), as given to it.
	Options []Option
	// Others are secrets the verifier is not built with that may have
	// signed the delivery: other endpoints' secrets, an old one. They are
	// only tried, to name the one that verifies; never accepted.
	Others []string
}

// Diagnosis is what Diagnose found. Its text never holds a secret or a
// whole signature, so a host may log it; it is for the host's operators,
// never for the sender.
type Diagnosis struct {
	// Err is the verifier's own answer, as configured: nil when the
	// delivery verifies (or the error building the verifier).
	Err error
	// Check is the check that fails (CheckConfig, CheckHeader,
	// CheckTimestamp, CheckSignature, CheckBodyHash); empty when none does.
	Check string
	// Cause is the likely cause.
	Cause Cause
	// Detail says what was found and what to change, in one or two
	// sentences.
	Detail string
	// Offset is how far the signed timestamp lies from the clock (positive
	// in the past), for the schemes that sign one.
	Offset time.Duration
	// URL is, for CauseTwilioURL, the URL that verifies.
	URL string
	// Other is, for CauseOtherSecret, the index in DiagnoseConfig.Others
	// of the secret that verifies; -1 otherwise.
	Other int
}

// OK reports whether the delivery verifies.
func (d *Diagnosis) OK() bool { return d.Cause == CauseNone }

// String returns the diagnosis in one paragraph: the check, the cause and
// the detail.
func (d *Diagnosis) String() string {
	if d.OK() {
		return "verifies: " + d.Detail
	}
	return fmt.Sprintf("%s check fails (cause: %s): %s", d.Check, d.Cause, d.Detail)
}

// Diagnose tells why a captured delivery does, or does not, verify under
// the verifier c describes, and the likely cause: the wrong kind of
// secret, a body parsed and written again, a clock, a Twilio URL rewritten
// by a proxy, the other family of Standard Webhooks headers, another
// endpoint's secret. It tries the variants each cause would produce (a
// re-indented body, the URL with another scheme, host, port or query
// order, a secret without a stray prefix, ...) and names the one that
// verifies.
//
// It is meant for a host's logs and tools (hookkit explain and listen
// print it), called on a rejected delivery: it costs up to a few hundred
// verifications, so a host that calls it on its request path should rate
// limit it, and its answer is for operators, never for the sender. r is
// the request as received (its URL and headers), body the raw bytes.
func Diagnose(r *http.Request, body []byte, c DiagnoseConfig) *Diagnosis {
	d := &diagnoser{cfg: c, r: r, body: body}
	return d.run()
}

// diagnoser holds one Diagnose call's state.
type diagnoser struct {
	cfg  DiagnoseConfig
	r    *http.Request
	body []byte

	secrets []string // the constructor's and WithSecrets'
	opts    []Option // the options other than WithSecrets
	other   []Option // the options of the groups Twilio URL variants keep
	merged  *config  // every option applied, for what the verifier uses
	pinned  []Option // a clock at the signed timestamp, once it is known
}

func (d *diagnoser) run() *Diagnosis {
	if err := d.split(); err != nil {
		return &Diagnosis{Err: err, Check: CheckConfig, Cause: CauseConfig, Other: -1,
			Detail: "the options are refused: " + err.Error()}
	}
	v, err := d.verifier(d.secrets, nil)
	if err != nil {
		return d.config(err)
	}
	verr := v.Verify(d.r, d.body)
	if verr == nil {
		return &Diagnosis{Detail: "the " + d.schemeName() + " signature holds.", Other: -1}
	}
	dg := d.rejected(verr)
	dg.Err = verr
	return dg
}

// split separates the rotation secrets from the other options.
func (d *diagnoser) split() error {
	d.secrets = []string{d.cfg.Secret}
	for _, opt := range d.cfg.Options {
		if opt == nil {
			continue
		}
		var c config
		if err := opt(&c); err != nil {
			return err
		}
		switch {
		case len(c.used[secretOptions]) > 0:
			d.secrets = append(d.secrets, c.extraSecrets...)
		case len(c.used[twilioOptions]) > 0:
			d.opts = append(d.opts, opt)
		default:
			d.opts = append(d.opts, opt)
			d.other = append(d.other, opt)
		}
	}
	merged, err := newConfig(d.cfg.Scheme, d.cfg.Options, secretOptions, timeOptions, twilioOptions, hmacOptions, middlewareOptions)
	if err != nil {
		return err
	}
	d.merged = merged
	return nil
}

// verifier builds the configured scheme's verifier for secrets, with the
// non-secret options (or opts, when not nil) and the pinned clock.
func (d *diagnoser) verifier(secrets []string, opts []Option) (Verifier, error) {
	if opts == nil {
		opts = d.opts
	}
	all := append(append([]Option(nil), opts...), d.pinned...)
	if len(secrets) > 1 {
		all = append(all, WithSecrets(secrets[1:]...))
	}
	secret := ""
	if len(secrets) > 0 {
		secret = secrets[0]
	}
	switch d.cfg.Scheme {
	case "stripe":
		return NewStripe(secret, all...)
	case "twilio":
		return NewTwilio(secret, all...)
	case "standard", "svix", standardScheme:
		return NewStandard(secret, all...)
	case "hmac":
		return NewHMAC([]byte(secret), d.cfg.Header, all...)
	}
	return nil, fmt.Errorf("unknown scheme %q (want stripe, twilio, standard, svix or hmac): %w", d.cfg.Scheme, ErrInvalidConfig)
}

// verifies reports whether the request, body and secrets verify.
func (d *diagnoser) verifies(r *http.Request, body []byte, secrets []string, opts []Option) bool {
	v, err := d.verifier(secrets, opts)
	return err == nil && v.Verify(r, body) == nil
}

func (d *diagnoser) schemeName() string {
	switch d.cfg.Scheme {
	case "standard", "svix", standardScheme:
		return "Standard Webhooks"
	case "stripe":
		return "Stripe"
	case "twilio":
		return "Twilio"
	}
	return "HMAC"
}

// rejected diagnoses a verification error.
func (d *diagnoser) rejected(verr error) *Diagnosis {
	switch {
	case errors.Is(verr, ErrMissingSignature):
		return d.missing(verr)
	case errors.Is(verr, ErrMalformedSignature):
		return d.malformed(verr)
	case errors.Is(verr, ErrTimestampTooOld), errors.Is(verr, ErrTimestampTooNew):
		return d.clock(verr)
	}
	return d.mismatch(CheckSignature, "")
}

// found is a Diagnosis for a cause that was reproduced.
func found(check string, cause Cause, detail string) *Diagnosis {
	return &Diagnosis{Check: check, Cause: cause, Detail: detail, Other: -1}
}

// clock diagnoses a timestamp outside the tolerance: the delivery is
// checked again with the clock at its timestamp.
func (d *diagnoser) clock(verr error) *Diagnosis {
	ts, ok := d.signedTimestamp()
	if !ok {
		return found(CheckTimestamp, CauseMalformed, verr.Error())
	}
	now := d.merged.now()
	offset := now.Sub(time.Unix(ts, 0)).Truncate(time.Second)
	d.pinned = []Option{WithClock(func() time.Time { return time.Unix(ts, 0) })}
	when := fmt.Sprintf("%s before this clock", offset)
	if offset < 0 {
		when = fmt.Sprintf("%s after this clock", -offset)
	}
	v, err := d.verifier(d.secrets, nil)
	if err == nil && v.Verify(d.r, d.body) == nil {
		dg := found(CheckTimestamp, CauseClock, fmt.Sprintf(
			"the signature is valid, but it was signed at %s, %s (tolerance %s): the sender's clock or this host's is off by %d seconds, or the delivery was held or replayed that long",
			time.Unix(ts, 0).UTC().Format(time.RFC3339), when, d.merged.tolerance, int64(offset.Abs()/time.Second)))
		dg.Offset = offset
		return dg
	}
	dg := d.mismatch(CheckSignature, fmt.Sprintf("; besides, the timestamp is outside the tolerance (%s): signed %s", d.merged.tolerance, when))
	dg.Offset = offset
	return dg
}

// signedTimestamp reads the scheme's timestamp header.
func (d *diagnoser) signedTimestamp() (int64, bool) {
	h := d.r.Header
	var text string
	switch d.cfg.Scheme {
	case "stripe":
		for _, entry := range strings.Split(h.Get(StripeHeader), ",") {
			if v, ok := strings.CutPrefix(entry, "t="); ok {
				text = v
			}
		}
	case "hmac":
		if d.merged.timestampHeader != "" {
			text = h.Get(d.merged.timestampHeader)
		}
	default:
		text = standardHeader(h, SvixTimestampHeader, StandardTimestampHeader)
	}
	return parseUnix(text)
}

// mismatch runs the candidates that would each explain a signature that
// does not match, in order, and returns the first that verifies; suffix
// is added to its detail.
func (d *diagnoser) mismatch(check string, suffix string) *Diagnosis {
	for _, try := range []func() *Diagnosis{
		d.headerFamily, d.secretText, d.secretKind, d.hmacFormat, d.others, d.twilioURL, d.bodyVariants,
	} {
		if dg := try(); dg != nil {
			dg.Detail += suffix
			return dg
		}
	}
	dg := d.unexplained(check)
	dg.Detail += suffix
	return dg
}

// unexplained is the diagnosis when nothing reproduces the signature.
func (d *diagnoser) unexplained(check string) *Diagnosis {
	secret := d.cfg.Secret
	switch d.cfg.Scheme {
	case "stripe":
		if looksStandard(secret) {
			return found(check, CauseStandardSecretForStripe, fmt.Sprintf(
				"no signature matches, and the secret (%s) looks like a Standard Webhooks or Svix secret (base64 with '+', '/' or '='), which Stripe never issues: Stripe's secret is the endpoint's whsec_ shown in the Dashboard, or printed by stripe listen",
				describeSecret(secret)))
		}
		return found(check, CauseUnknown, "no signature matches, and no known mistake (a re-serialised body, a stray prefix, another given secret) reproduces it: the secret is most likely not this endpoint's (each endpoint has its own whsec_, and the Stripe CLI's differs from the Dashboard's), or the delivery was altered")
	case "standard", "svix", standardScheme:
		if looksStripe(secret) {
			return found(check, CauseStripeSecretForStandard, fmt.Sprintf(
				"no signature matches, and the secret (%s) looks like a Stripe CLI signing secret (64 hex digits after whsec_); a Standard Webhooks secret is the sender's whsec_<base64>",
				describeSecret(secret)))
		}
	}
	return found(check, CauseUnknown, "no signature matches, and no known mistake (a re-serialised body, a stray prefix, another given secret, a rewritten URL) reproduces it: the secret is most likely not the one the sender signs with, or the delivery was altered")
}

// describeSecret names a secret without revealing it: its well-known
// prefix, if any, and its length.
func describeSecret(s string) string {
	prefix := ""
	for _, p := range []string{"whsec_", "whpk_", "whsk_", "sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_", "sk_", "rk_", "pk_", "v1,"} {
		if strings.HasPrefix(s, p) {
			prefix = p
			break
		}
	}
	return fmt.Sprintf("%s… %d characters", prefix, len(s))
}

// clipHeader shows a header value's first characters only, so a
// diagnosis never carries a whole signature.
func clipHeader(v string) string {
	const keep = 12
	if len(v) <= keep {
		return logtext.Clip(v, keep)
	}
	return logtext.Clip(v[:keep], keep) + "…"
}
