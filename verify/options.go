package verify

import (
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultTolerance is how far a signed timestamp may be from the verifier's
// clock, in either direction, unless WithTolerance says otherwise. It matches
// Stripe's and Standard Webhooks' documented default of five minutes.
const DefaultTolerance = 5 * time.Minute

// Option configures a verifier, or Middleware. The same type serves every
// constructor; an option that does not apply (WithPublicURL on Stripe,
// WithMaxBodyBytes on a verifier) makes the constructor fail with
// ErrInvalidConfig rather than being ignored, so a misreading of the
// configuration never weakens verification silently.
type Option func(*config) error

// optionGroup is a set of options that only some constructors accept.
type optionGroup int

const (
	secretOptions     optionGroup = iota // every verifier's
	timeOptions                          // need a signed timestamp
	twilioOptions                        // rebuild Twilio's URL
	hmacOptions                          // describe a generic HMAC header
	middlewareOptions                    // read and reject requests
	optionGroups
)

// appliesTo names, for the error, who accepts each group.
var appliesTo = [optionGroups]string{
	secretOptions:     "apply to a verifier's constructor",
	timeOptions:       "need a signed timestamp (NewStripe, NewStandard, NewHMAC with WithTimestampHeader)",
	twilioOptions:     "apply only to NewTwilio",
	hmacOptions:       "apply only to NewHMAC",
	middlewareOptions: "apply only to Middleware",
}

type config struct {
	tolerance    time.Duration
	now          func() time.Time
	extraSecrets []string

	// used names the options of each group that were given, for errors.
	used [optionGroups][]string

	publicScheme, publicHost string
	trustForwarded           bool

	encoding        Encoding
	prefix          string
	timestampHeader string
	signedContent   string

	maxBody int64
	onError func(w http.ResponseWriter, r *http.Request, err error)
}

func (c *config) use(g optionGroup, name string) { c.used[g] = append(c.used[g], name) }

// newConfig applies opts for a constructor of scheme that accepts the
// groups in accepts, and refuses any other group's options.
func newConfig(scheme string, opts []Option, accepts ...optionGroup) (*config, error) {
	c := &config{tolerance: DefaultTolerance, now: time.Now, maxBody: DefaultMaxBodyBytes, onError: writeRejection}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("%s: %w", scheme, err)
		}
	}
	for g := range optionGroups {
		if len(c.used[g]) > 0 && !slices.Contains(accepts, g) {
			return nil, fmt.Errorf("%s: %s %s: %w", scheme, strings.Join(c.used[g], ", "), appliesTo[g], ErrInvalidConfig)
		}
	}
	return c, nil
}

// secretKeys turns the constructor's secret and WithSecrets' into one
// keyed MAC each; key checks and decodes one secret (i is its position,
// 0 for the constructor's).
func secretKeys(scheme string, newHash func() hash.Hash, primary string, c *config, key func(i int, secret string) ([]byte, error)) ([]*keyedMAC, error) {
	secrets := append([]string{primary}, c.extraSecrets...)
	macs := make([]*keyedMAC, len(secrets))
	for i, s := range secrets {
		if s == "" {
			return nil, fmt.Errorf("%s: secret %d is empty: %w", scheme, i, ErrInvalidConfig)
		}
		k, err := key(i, s)
		if err != nil {
			return nil, fmt.Errorf("%s: secret %d: %w", scheme, i, err)
		}
		macs[i] = newKeyedMAC(newHash, k)
	}
	return macs, nil
}

// rawKey is the key check of schemes that use the secret's text as the key.
func rawKey(_ int, secret string) ([]byte, error) { return []byte(secret), nil }

// WithTolerance sets how far a signed timestamp may lie from the clock, in
// the past or in the future (default DefaultTolerance). It applies to the
// schemes that sign a timestamp: Stripe, Standard Webhooks, and HMAC with
// WithTimestampHeader.
func WithTolerance(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("tolerance %s must be positive: %w", d, ErrInvalidConfig)
		}
		c.tolerance = d
		c.use(timeOptions, "WithTolerance")
		return nil
	}
}

// WithClock replaces time.Now as the clock signed timestamps are checked
// against; tests use it to pin time.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("nil clock: %w", ErrInvalidConfig)
		}
		c.now = now
		c.use(timeOptions, "WithClock")
		return nil
	}
}

// WithSecrets adds secrets that are accepted besides the constructor's one,
// for rotating a secret without dropping deliveries: deploy with both, switch
// the sender over, then remove the old one. Each secret is read the way the
// constructor reads its own (for Standard Webhooks, "whsec_<base64>" or raw
// base64). An empty secret is a configuration error.
func WithSecrets(more ...string) Option {
	return func(c *config) error {
		for i, s := range more {
			if s == "" {
				return fmt.Errorf("WithSecrets: secret %d is empty: %w", i, ErrInvalidConfig)
			}
		}
		c.extraSecrets = append(c.extraSecrets, more...)
		c.use(secretOptions, "WithSecrets")
		return nil
	}
}

// WithPublicURL tells the Twilio verifier the scheme and host Twilio sends
// requests to, as "scheme://host[:port]" (for example
// "https://api.example.com"), for when a proxy, load balancer or tunnel in
// front of the application changes them. Twilio signs the URL it requested,
// so the verifier must rebuild that URL exactly. It is the recommended setup,
// behind a proxy or not. Without it (or WithTrustedForwardedHeaders) the
// verifier uses the request's own TLS state and Host header, and the Host
// header is the client's to choose: it is honest only where something in
// front of the application routes by host.
func WithPublicURL(base string) Option {
	return func(c *config) error {
		u, err := url.Parse(base)
		if err != nil {
			return fmt.Errorf("WithPublicURL %q: %w: %w", base, err, ErrInvalidConfig)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("WithPublicURL %q: scheme must be http or https: %w", base, ErrInvalidConfig)
		}
		if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("WithPublicURL %q: want only scheme://host[:port]: %w", base, ErrInvalidConfig)
		}
		c.publicScheme, c.publicHost = u.Scheme, u.Host
		c.use(twilioOptions, "WithPublicURL")
		return nil
	}
}

// WithTrustedForwardedHeaders tells the Twilio verifier that it sits behind
// a proxy that sets X-Forwarded-Proto and X-Forwarded-Host, so it rebuilds
// the signed URL from their first (client-facing) entries. Only use it when
// such a proxy is always in front of the application and overwrites both
// headers: otherwise they are whatever the client sent, and a callback that
// Twilio signed for another URL of the same account would verify here.
// Prefer WithPublicURL, which trusts nothing from the request; the two
// options together are a configuration error.
func WithTrustedForwardedHeaders() Option {
	return func(c *config) error {
		c.trustForwarded = true
		c.use(twilioOptions, "WithTrustedForwardedHeaders")
		return nil
	}
}

// Encoding is how an HMAC verifier's signature header encodes the MAC.
type Encoding int

const (
	// Hex is lowercase or uppercase hexadecimal (Etail Depot, GitHub, Slack).
	Hex Encoding = iota
	// Base64 is standard, padded base64 (Shopify).
	Base64
)

// String returns "hex" or "base64".
func (e Encoding) String() string {
	switch e {
	case Hex:
		return "hex"
	case Base64:
		return "base64"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// WithEncoding sets how the HMAC verifier's signature header encodes the MAC
// (default Hex).
func WithEncoding(e Encoding) Option {
	return func(c *config) error {
		if e != Hex && e != Base64 {
			return fmt.Errorf("WithEncoding: unknown %s: %w", e, ErrInvalidConfig)
		}
		c.encoding = e
		c.use(hmacOptions, "WithEncoding")
		return nil
	}
}

// WithPrefix sets a prefix the HMAC verifier's signature header must carry
// before the encoded MAC, such as "sha256=" (GitHub) or "v0=" (Slack).
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		c.prefix = prefix
		c.use(hmacOptions, "WithPrefix")
		return nil
	}
}

// WithTimestampHeader makes the HMAC verifier read a Unix timestamp in
// seconds from the named header, include it in the signed content, and
// reject it outside the tolerance. The signed content defaults to
// "{timestamp}.{body}"; change it with WithSignedContent.
func WithTimestampHeader(name string) Option {
	return func(c *config) error {
		if name == "" {
			return fmt.Errorf("WithTimestampHeader: empty header name: %w", ErrInvalidConfig)
		}
		c.timestampHeader = name
		c.use(hmacOptions, "WithTimestampHeader")
		return nil
	}
}

// WithSignedContent sets what the HMAC verifier signs, as a template in
// which "{body}" stands for the raw body and "{timestamp}" for the value of
// the WithTimestampHeader header; everything else is literal. Slack's is
// "v0:{timestamp}:{body}". The default is "{body}", or "{timestamp}.{body}"
// with a timestamp header. The template must hold "{body}" once, and
// "{timestamp}" once exactly when a timestamp header is configured, so that
// the timestamp checked is the timestamp signed.
func WithSignedContent(template string) Option {
	return func(c *config) error {
		c.signedContent = template
		c.use(hmacOptions, "WithSignedContent")
		return nil
	}
}
