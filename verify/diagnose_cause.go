package verify

import "strconv"

// Cause is the likely reason a delivery fails verification.
type Cause int

// The causes Diagnose tells apart.
const (
	// CauseNone: the delivery verifies.
	CauseNone Cause = iota
	// CauseUnknown: no known mistake reproduces the signature; most
	// often the secret is not the one the sender signs with.
	CauseUnknown
	// CauseAPIKey: the secret is an API key (sk_, rk_, pk_), not an
	// endpoint's signing secret.
	CauseAPIKey
	// CauseStandardSecretForStripe: a Standard Webhooks secret (base64
	// after whsec_) where Stripe's secret belongs, or a signer that
	// decoded Stripe's secret as one.
	CauseStandardSecretForStripe
	// CauseStripeSecretForStandard: a Stripe secret (text, used as it is)
	// where a Standard Webhooks secret belongs, or a signer that keyed a
	// Standard Webhooks signature with the secret's text.
	CauseStripeSecretForStandard
	// CauseSecretPrefix: the secret carries something that is not part of
	// it: a "v1," copied from a signature, quotes, spaces, a newline.
	CauseSecretPrefix
	// CauseSecretBase64: a Standard Webhooks secret that is not standard
	// padded base64 (URL-safe, unpadded, or not base64 at all).
	CauseSecretBase64
	// CauseSigningKey: a Standard Webhooks whsk_ signing key where its
	// whpk_ public key belongs.
	CauseSigningKey
	// CauseReserialized: the body was parsed and written again (other
	// whitespace, indentation or key order) before verification.
	CauseReserialized
	// CauseBOM: a byte order mark was added to or removed from the body.
	CauseBOM
	// CauseTrailingNewline: a newline was added to or removed from the
	// end of the body.
	CauseTrailingNewline
	// CauseEncoding: the body's characters were re-encoded (\u escapes,
	// HTML or slash escapes, Latin-1, line endings).
	CauseEncoding
	// CauseClock: the signature is valid but its timestamp is outside the
	// tolerance: a clock off by Offset, or a delivery held that long.
	CauseClock
	// CauseTwilioURL: the URL the verifier rebuilds is not the one Twilio
	// signed (a proxy, a tunnel, a port or a query string); URL names the
	// one that verifies.
	CauseTwilioURL
	// CauseHeaderFamily: the svix- and webhook- headers disagree, and the
	// family read first is not the one signed.
	CauseHeaderFamily
	// CauseOtherSecret: one of DiagnoseConfig.Others verifies: the
	// delivery was signed for another endpoint, or with an old secret.
	CauseOtherSecret
	// CauseMissingHeader: the scheme's signature headers are absent or
	// empty: stripped by a proxy, or never sent.
	CauseMissingHeader
	// CauseWrongScheme: the delivery carries another scheme's signature.
	CauseWrongScheme
	// CauseSignatureFormat: the HMAC header's prefix or encoding is not
	// the configured one (WithPrefix, WithEncoding).
	CauseSignatureFormat
	// CauseMalformed: the signature header cannot be parsed.
	CauseMalformed
	// CauseConfig: the configuration is refused for another reason (the
	// constructor's error says which).
	CauseConfig
)

var causeNames = [...]string{
	CauseNone:                    "none",
	CauseUnknown:                 "unknown",
	CauseAPIKey:                  "api-key",
	CauseStandardSecretForStripe: "standard-secret-for-stripe",
	CauseStripeSecretForStandard: "stripe-secret-for-standard",
	CauseSecretPrefix:            "secret-prefix",
	CauseSecretBase64:            "secret-base64",
	CauseSigningKey:              "signing-key",
	CauseReserialized:            "reserialized",
	CauseBOM:                     "bom",
	CauseTrailingNewline:         "trailing-newline",
	CauseEncoding:                "encoding",
	CauseClock:                   "clock",
	CauseTwilioURL:               "twilio-url",
	CauseHeaderFamily:            "header-family",
	CauseOtherSecret:             "other-secret",
	CauseMissingHeader:           "missing-header",
	CauseWrongScheme:             "wrong-scheme",
	CauseSignatureFormat:         "signature-format",
	CauseMalformed:               "malformed",
	CauseConfig:                  "config",
}

// String returns the cause's short name ("clock", "twilio-url", ...).
func (c Cause) String() string {
	if c >= 0 && int(c) < len(causeNames) {
		return causeNames[c]
	}
	return "Cause(" + strconv.Itoa(int(c)) + ")"
}

// The checks a Diagnosis names.
const (
	CheckConfig    = "configuration"
	CheckHeader    = "signature header"
	CheckTimestamp = "timestamp"
	CheckSignature = "signature"
	CheckBodyHash  = "body hash"
)
