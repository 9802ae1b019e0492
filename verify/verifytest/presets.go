package verifytest

import (
	"slices"

	"github.com/hookkit/hookkit/verify"
)

// hmacPresets are well-known senders that sign with an HMAC-SHA256 in one
// header, described as their HMAC signer without a secret.
var hmacPresets = map[string]HMAC{
	// Etail Depot: the hex MAC of the body.
	"etail": {Header: "Etail-Signature"},
	// GitHub: "sha256=" and the hex MAC of the body.
	"github": {Header: "X-Hub-Signature-256", Prefix: "sha256="},
	// GoConverso's native deliveries: the hex MAC of the body.
	"goconverso": {Header: "X-Goconverso-Signature"},
	// Shopify: the base64 MAC of the body.
	"shopify": {Header: "X-Shopify-Hmac-Sha256", Encoding: verify.Base64},
	// Slack: "v0=" and the hex MAC of "v0:<timestamp>:<body>".
	"slack": {Header: "X-Slack-Signature", Prefix: "v0=", TimestampHeader: "X-Slack-Request-Timestamp",
		SignedContent: "v0:{timestamp}:{body}"},
}

// HMACPreset returns the signer of the HMAC sender named (one of
// HMACPresets), keyed with secret, and whether there is one by that name.
func HMACPreset(name string, secret []byte) (HMAC, bool) {
	p, ok := hmacPresets[name]
	p.Secret = secret
	return p, ok
}

// HMACPresets returns the names of the HMAC presets, sorted: etail, github,
// goconverso, shopify, slack.
func HMACPresets() []string {
	names := make([]string, 0, len(hmacPresets))
	for name := range hmacPresets {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Options returns the options of verify.NewHMAC (with s.Header as its
// header) that verify what s signs: its prefix, encoding, timestamp
// header and signed content.
func (s HMAC) Options() []verify.Option {
	var opts []verify.Option
	if s.Prefix != "" {
		opts = append(opts, verify.WithPrefix(s.Prefix))
	}
	if s.Encoding != verify.Hex {
		opts = append(opts, verify.WithEncoding(s.Encoding))
	}
	if s.TimestampHeader != "" {
		opts = append(opts, verify.WithTimestampHeader(s.TimestampHeader))
	}
	if s.SignedContent != "" {
		opts = append(opts, verify.WithSignedContent(s.SignedContent))
	}
	return opts
}
