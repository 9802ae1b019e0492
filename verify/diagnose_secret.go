package verify

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
)

// apiKeyPrefixes are the prefixes of Stripe's API keys, which are not
// signing secrets.
var apiKeyPrefixes = []string{"sk_", "rk_", "pk_"}

// config diagnoses a configuration the constructor refuses.
func (d *diagnoser) config(err error) *Diagnosis {
	for i, s := range d.secrets {
		for _, p := range apiKeyPrefixes {
			if strings.HasPrefix(s, p) {
				dg := found(CheckConfig, CauseAPIKey, fmt.Sprintf(
					"%s (%s) is an API key, not a webhook signing secret: give the endpoint's signing secret (whsec_..., on the endpoint's page in the Dashboard or printed by stripe listen)",
					nthSecret(i), describeSecret(s)))
				dg.Err = err
				return dg
			}
		}
	}
	dg := d.configSecret(err)
	dg.Err = err
	return dg
}

// nthSecret names the i-th configured secret.
func nthSecret(i int) string {
	if i == 0 {
		return "the secret"
	}
	return fmt.Sprintf("WithSecrets' secret %d", i)
}

// configSecret diagnoses a secret the constructor refuses: for Standard
// Webhooks, a signing key, or a secret that is not base64.
func (d *diagnoser) configSecret(err error) *Diagnosis {
	if !d.isStandard() {
		return found(CheckConfig, CauseConfig, err.Error())
	}
	for i, s := range d.secrets {
		if b64, ok := strings.CutPrefix(s, standardSigningPrefix); ok {
			detail := fmt.Sprintf("%s (%s) is a whsk_ signing key, which only the sender holds: give the receiver its public key", nthSecret(i), describeSecret(s))
			if pub, ok := publicKeyOf(b64); ok {
				detail += " " + pub
				if d.verifies(d.r, d.body, replace(d.secrets, i, pub), nil) {
					detail += ", which verifies this delivery"
				}
			}
			return found(CheckConfig, CauseSigningKey, detail)
		}
		if strings.HasPrefix(s, standardPublicPrefix) {
			continue
		}
		if _, derr := DecodeStandardSecret(s); derr == nil {
			continue
		}
		if dg := d.repairSecret(i, s); dg != nil {
			return dg
		}
		if d.verifies(d.r, d.body, replace(d.secrets, i, standardFromText(s)), nil) {
			return found(CheckConfig, CauseStripeSecretForStandard, fmt.Sprintf(
				"%s (%s) is not base64 after whsec_, and the delivery was signed with its text as the key, as Stripe signs: a Standard Webhooks secret is whsec_<base64 of the key>; the sender must sign with the decoded key",
				nthSecret(i), describeSecret(s)))
		}
		if looksStripeText(s) {
			return found(CheckConfig, CauseStripeSecretForStandard, fmt.Sprintf(
				"%s (%s) is not base64 after whsec_: it looks like a Stripe signing secret, used as text; a Standard Webhooks secret is whsec_<base64> (Svix and GoConverso show it on the endpoint's page)",
				nthSecret(i), describeSecret(s)))
		}
		_, derr := DecodeStandardSecret(s)
		return found(CheckConfig, CauseSecretBase64, fmt.Sprintf(
			"%s (%s) is refused (%v): copy it again from the sender", nthSecret(i), describeSecret(s), derr))
	}
	return found(CheckConfig, CauseConfig, err.Error())
}

func (d *diagnoser) isStandard() bool {
	switch d.cfg.Scheme {
	case "standard", "svix", standardScheme:
		return true
	}
	return false
}

// publicKeyOf returns the whpk_ public key of a whsk_ key's base64.
func publicKeyOf(b64 string) (string, bool) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", false
	}
	var key ed25519.PrivateKey
	switch len(raw) {
	case ed25519.SeedSize:
		key = ed25519.NewKeyFromSeed(raw)
	case ed25519.PrivateKeySize:
		key = ed25519.PrivateKey(raw)
	default:
		return "", false
	}
	return standardPublicPrefix + base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)), true
}

// replace returns a copy of secrets with the i-th replaced by s.
func replace(secrets []string, i int, s string) []string {
	out := append([]string(nil), secrets...)
	out[i] = s
	return out
}

// standardFromText is the Standard Webhooks secret whose key is s's text.
func standardFromText(s string) string {
	return "whsec_" + base64.StdEncoding.EncodeToString([]byte(s))
}

// secretRepairs are the ways a secret is commonly copied wrong: what to
// undo, and how to say it.
var secretRepairs = []struct {
	what string
	fix  func(string) string
}{
	{"a stray \"v1,\" before it (copied from a signature header?); the secret is what follows",
		func(s string) string { return strings.TrimPrefix(s, "v1,") }},
	{"spaces or a line break around it (read from a file or an environment file?)",
		strings.TrimSpace},
	{"quotes around it",
		func(s string) string { return strings.Trim(s, `"'`) }},
	{"a missing whsec_ prefix: the prefix is part of the secret",
		func(s string) string {
			if strings.HasPrefix(s, "whsec_") {
				return s
			}
			return "whsec_" + s
		}},
	{"a whsec_ prefix the sender does not sign with",
		func(s string) string { return strings.TrimPrefix(s, "whsec_") }},
}

// base64Repairs turn a Standard Webhooks secret in a near-miss encoding
// into standard padded base64.
var base64Repairs = []struct {
	what string
	fix  func(string) string
}{
	{"URL-safe base64 ('-' and '_'); Standard Webhooks secrets are standard base64 ('+' and '/')",
		func(s string) string { return strings.NewReplacer("-", "+", "_", "/").Replace(s) }},
	{"base64 without its '=' padding",
		func(s string) string {
			if n := len(s) % 4; n != 0 {
				return s + strings.Repeat("=", 4-n)
			}
			return s
		}},
	{"URL-safe base64 without its '=' padding",
		func(s string) string {
			s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
			if n := len(s) % 4; n != 0 {
				return s + strings.Repeat("=", 4-n)
			}
			return s
		}},
}

// repairSecret tries the usual copying mistakes on the i-th secret, s,
// and the near-miss base64 encodings of a Standard Webhooks secret; it
// returns the diagnosis of the first that verifies.
func (d *diagnoser) repairSecret(i int, s string) *Diagnosis {
	for _, rep := range secretRepairs {
		fixed := rep.fix(s)
		if fixed == s || fixed == "" {
			continue
		}
		check := CheckSignature
		if d.isStandard() {
			if _, err := DecodeStandardSecret(s); err != nil {
				check = CheckConfig
			}
		}
		if d.verifies(d.r, d.body, replace(d.secrets, i, fixed), nil) {
			return found(check, CauseSecretPrefix, fmt.Sprintf("%s (%s) verifies once its mistake is undone: %s", nthSecret(i), describeSecret(s), rep.what))
		}
	}
	if !d.isStandard() {
		return nil
	}
	b64, _ := strings.CutPrefix(s, "whsec_")
	for _, rep := range base64Repairs {
		fixed := rep.fix(b64)
		if fixed == b64 {
			continue
		}
		if d.verifies(d.r, d.body, replace(d.secrets, i, "whsec_"+fixed), nil) {
			return found(CheckConfig, CauseSecretBase64, fmt.Sprintf("%s (%s) is %s: it verifies once re-encoded", nthSecret(i), describeSecret(s), rep.what))
		}
	}
	return nil
}

// secretText tries the copying mistakes on every configured secret.
func (d *diagnoser) secretText() *Diagnosis {
	for i, s := range d.secrets {
		if dg := d.repairSecret(i, s); dg != nil {
			return dg
		}
	}
	return nil
}

// secretKind checks whether the delivery was signed with the secret read
// the other scheme's way: Stripe's whsec_ text is the key, Standard
// Webhooks' whsec_ is base64 of the key.
func (d *diagnoser) secretKind() *Diagnosis {
	for i, s := range d.secrets {
		switch {
		case d.cfg.Scheme == "stripe":
			key, err := DecodeStandardSecret(s)
			if err != nil || !strings.HasPrefix(s, "whsec_") {
				continue
			}
			if d.verifies(d.r, d.body, replace(d.secrets, i, string(key)), nil) {
				return found(CheckSignature, CauseStandardSecretForStripe, fmt.Sprintf(
					"the delivery was signed with %s (%s) base64-decoded, as Standard Webhooks keys are: Stripe signs with the whole whsec_ text; the signer treats a Stripe secret as a Standard Webhooks one (or this is a Standard Webhooks secret given to a Stripe verifier)",
					strings.TrimPrefix(nthSecret(i), "the "), describeSecret(s)))
			}
		case d.isStandard() && !strings.HasPrefix(s, standardPublicPrefix):
			for _, text := range []string{s, strings.TrimPrefix(s, "whsec_")} {
				if d.verifies(d.r, d.body, replace(d.secrets, i, standardFromText(text)), nil) {
					return found(CheckSignature, CauseStripeSecretForStandard, fmt.Sprintf(
						"the delivery was signed with the text of %s (%s) as the key, as Stripe signs: Standard Webhooks keys are the base64-decoded bytes after whsec_; the signer treats the secret as a Stripe one",
						strings.TrimPrefix(nthSecret(i), "the "), describeSecret(s)))
				}
			}
		}
	}
	return nil
}

// others tries the secrets the verifier is not built with.
func (d *diagnoser) others() *Diagnosis {
	for i, s := range d.cfg.Others {
		if s == "" {
			continue
		}
		if d.verifies(d.r, d.body, []string{s}, nil) {
			dg := found(CheckSignature, CauseOtherSecret, fmt.Sprintf(
				"the delivery verifies with other secret %d (%s), not with the configured ones: it was signed for another endpoint, or with a secret since rolled; each endpoint has its own secret",
				i+1, describeSecret(s)))
			dg.Other = i
			return dg
		}
	}
	return nil
}

// looksStandard reports whether a secret given to Stripe is base64 that
// Stripe's own secrets never are (they are letters and digits).
func looksStandard(s string) bool {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok || strings.Trim(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == "" {
		return false
	}
	_, err := base64.StdEncoding.DecodeString(b64)
	return err == nil
}

// looksStripe reports whether a secret is shaped like the Stripe CLI's
// (whsec_ and 64 hex digits).
func looksStripe(s string) bool {
	b64, ok := strings.CutPrefix(s, "whsec_")
	return ok && len(b64) == 64 && strings.Trim(b64, "0123456789abcdef") == ""
}

// looksStripeText reports whether a secret that is not base64 is shaped
// like Stripe's: whsec_ and letters, digits or underscores.
func looksStripeText(s string) bool {
	rest, ok := strings.CutPrefix(s, "whsec_")
	return ok && rest != "" && strings.Trim(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == ""
}
