package main

import (
	"flag"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// schemeFlags are the flags that say how deliveries are signed or
// verified.
type schemeFlags struct {
	scheme    string
	secrets   stringList
	preset    string
	publicURL string
	// A custom HMAC scheme.
	hmacHeader, prefix, encoding, timestampHeader, signedContent string
}

func (f *schemeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.scheme, "scheme", "", "the sender's scheme: stripe, twilio, standard, svix, hmac, or an HMAC preset ("+strings.Join(verifytest.HMACPresets(), ", ")+")")
	fs.Var(&f.secrets, "secret", "the signing secret (repeatable; default $HOOKKIT_SECRET): Stripe's whsec_..., Twilio's auth token, Standard Webhooks' whsec_<base64> (v1) or whsk_<base64> (v1a), an HMAC key")
	fs.StringVar(&f.preset, "preset", "", "with --scheme hmac: the sender ("+strings.Join(verifytest.HMACPresets(), ", ")+")")
	fs.StringVar(&f.publicURL, "public-url", "", "Twilio: the scheme://host[:port] Twilio requests, when it differs from --url's (behind a proxy or tunnel)")
	fs.StringVar(&f.hmacHeader, "hmac-header", "", "with --scheme hmac: the signature header")
	fs.StringVar(&f.prefix, "hmac-prefix", "", "with --scheme hmac: the prefix before the MAC (sha256=)")
	fs.StringVar(&f.encoding, "hmac-encoding", "", "with --scheme hmac: hex or base64")
	fs.StringVar(&f.timestampHeader, "hmac-timestamp-header", "", "with --scheme hmac: the header of the signed Unix timestamp")
	fs.StringVar(&f.signedContent, "hmac-signed-content", "", "with --scheme hmac: what is signed, with {body} and {timestamp}")
}

// scheme is a resolved signing scheme.
type scheme struct {
	name      string // stripe, twilio, standard, svix, hmac
	preset    string
	hmac      verifytest.HMAC // hmac: the header and its format, no secret
	secrets   []string
	publicURL string
}

var schemeNames = []string{"stripe", "twilio", "standard", "svix", "hmac"}

// resolve turns the flags into a scheme; name is the scheme when --scheme
// is not given (a trigger type's sender), and secrets may be left empty
// when needSecret is false.
func (f *schemeFlags) resolve(sio *stdio, name string, needSecret bool) (scheme, error) {
	if f.scheme != "" {
		name = f.scheme
	}
	s := scheme{name: name, secrets: f.secrets, publicURL: strings.TrimSuffix(f.publicURL, "/")}
	if len(s.secrets) == 0 && sio.getenv("HOOKKIT_SECRET") != "" {
		s.secrets = []string{sio.getenv("HOOKKIT_SECRET")}
	}
	if name == "standard-webhooks" {
		s.name = "standard"
	}
	if _, ok := verifytest.HMACPreset(s.name, nil); ok {
		s.name, s.preset = "hmac", name
	}
	if s.name == "hmac" && f.preset != "" {
		s.preset = f.preset
	}
	switch {
	case s.name == "":
		return s, usageErr("--scheme is required (%s, or a preset: %s)", strings.Join(schemeNames, ", "), strings.Join(verifytest.HMACPresets(), ", "))
	case !slices.Contains(schemeNames, s.name):
		return s, usageErr("unknown scheme %q (want %s, or a preset: %s)", s.name, strings.Join(schemeNames, ", "), strings.Join(verifytest.HMACPresets(), ", "))
	case needSecret && len(s.secrets) == 0:
		return s, usageErr("--secret is required (or set HOOKKIT_SECRET)")
	case s.publicURL != "" && s.name != "twilio":
		return s, usageErr("--public-url applies only to --scheme twilio")
	}
	for i, secret := range s.secrets {
		if secret == "" {
			return s, usageErr("secret %d is empty", i+1)
		}
	}
	if s.name != "hmac" {
		if f.preset != "" || f.hmacHeader != "" || f.prefix != "" || f.encoding != "" || f.timestampHeader != "" || f.signedContent != "" {
			return s, usageErr("--preset and the --hmac-* flags apply only to --scheme hmac")
		}
		return s, nil
	}
	return f.resolveHMAC(s)
}

// resolveHMAC describes an HMAC scheme's header: its preset's, changed by
// the --hmac-* flags.
func (f *schemeFlags) resolveHMAC(s scheme) (scheme, error) {
	if s.preset != "" {
		p, ok := verifytest.HMACPreset(s.preset, nil)
		if !ok {
			return s, usageErr("unknown HMAC preset %q (want one of %s)", s.preset, strings.Join(verifytest.HMACPresets(), ", "))
		}
		s.hmac = p
	}
	if f.hmacHeader != "" {
		s.hmac.Header = f.hmacHeader
	}
	if f.prefix != "" {
		s.hmac.Prefix = f.prefix
	}
	switch f.encoding {
	case "", "hex":
		if f.encoding == "hex" {
			s.hmac.Encoding = verify.Hex
		}
	case "base64":
		s.hmac.Encoding = verify.Base64
	default:
		return s, usageErr("--hmac-encoding %q: want hex or base64", f.encoding)
	}
	if f.timestampHeader != "" {
		s.hmac.TimestampHeader = f.timestampHeader
	}
	if f.signedContent != "" {
		s.hmac.SignedContent = f.signedContent
	}
	if s.hmac.Header == "" {
		return s, usageErr("--scheme hmac needs --preset (%s) or --hmac-header", strings.Join(verifytest.HMACPresets(), ", "))
	}
	return s, nil
}

// String names the scheme as --scheme would.
func (s scheme) String() string {
	if s.preset != "" {
		return s.preset
	}
	return s.name
}

// signer returns the signer of the scheme at time at (zero: now); id is
// the Standard Webhooks message ID (empty: derived from the body).
func (s scheme) signer(at time.Time, id string) verifytest.Signer {
	switch s.name {
	case "stripe":
		return stripeSigner{secrets: s.secrets, at: at}
	case "twilio":
		return verifytest.Twilio{AuthToken: s.secrets[0], PublicURL: s.publicURL}
	case "standard", "svix":
		return verifytest.Standard{Secret: s.secrets[0], More: s.secrets[1:], ID: id, Time: at, Svix: s.name == "svix"}
	}
	h := s.hmac
	h.Secret, h.Time = []byte(s.secrets[0]), at
	return h
}

// stripeSigner signs like Stripe while it rolls a secret: one v1 entry
// per secret under one timestamp.
type stripeSigner struct {
	secrets []string
	at      time.Time
}

func (s stripeSigner) Sign(r *http.Request, body []byte) error {
	at := s.at
	if at.IsZero() {
		at = time.Now()
	}
	header := ""
	for _, secret := range s.secrets {
		h := verifytest.Stripe{Secret: secret, Time: at}.Header(body)
		if header == "" {
			header = h
			continue
		}
		_, v1, _ := strings.Cut(h, ",")
		header += "," + v1
	}
	r.Header.Set(verify.StripeHeader, header)
	return nil
}

// options are the verifier options of the scheme besides its secrets.
func (s scheme) options() []verify.Option {
	switch s.name {
	case "twilio":
		if s.publicURL != "" {
			return []verify.Option{verify.WithPublicURL(s.publicURL)}
		}
	case "hmac":
		return s.hmac.Options()
	}
	return nil
}

// diagnoseConfig describes the verifier for verify.Diagnose: the first
// secret is the endpoint's, the others are tried as other endpoints'.
func (s scheme) diagnoseConfig() verify.DiagnoseConfig {
	return verify.DiagnoseConfig{Scheme: s.name, Secret: s.secrets[0], Header: s.hmac.Header, Options: s.options(), Others: s.secrets[1:]}
}

// detectScheme names the scheme whose signature headers h carries, or "".
func detectScheme(h http.Header) string {
	switch {
	case h.Get(verify.StripeHeader) != "":
		return "stripe"
	case h.Get(verify.TwilioHeader) != "":
		return "twilio"
	case h.Get(verify.SvixSignatureHeader) != "":
		return "svix"
	case h.Get(verify.StandardSignatureHeader) != "":
		return "standard"
	}
	for _, name := range verifytest.HMACPresets() {
		p, _ := verifytest.HMACPreset(name, nil)
		if h.Get(p.Header) != "" {
			return name
		}
	}
	return ""
}

// signatureHeaders are the headers a signer sets, removed before a
// delivery is signed again.
var signatureHeaders = func() []string {
	names := []string{verify.StripeHeader, verify.TwilioHeader, verify.StandardSignatureHeader, verify.StandardTimestampHeader,
		verify.SvixSignatureHeader, verify.SvixTimestampHeader}
	for _, name := range verifytest.HMACPresets() {
		p, _ := verifytest.HMACPreset(name, nil)
		names = append(names, p.Header)
		if p.TimestampHeader != "" {
			names = append(names, p.TimestampHeader)
		}
	}
	return names
}()
