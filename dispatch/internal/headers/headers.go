// Package headers decides what of a delivery's headers hookkit stores
// beyond the request: in a dead letter, in a queued job.
package headers

import (
	"net/http"
	"strings"
)

// Kept returns the headers worth keeping with a stored event: those a
// parser may read again (the content type, a Standard Webhooks message ID),
// never credentials, cookies, tokens, secrets or signatures.
func Kept(h http.Header) http.Header {
	kept := http.Header{}
	for name, values := range h {
		if secret(strings.ToLower(name)) {
			continue
		}
		kept[name] = append([]string(nil), values...)
	}
	return kept
}

func secret(lowerName string) bool {
	for _, w := range []string{"signature", "authorization", "cookie", "token", "secret", "api-key", "apikey", "password"} {
		if strings.Contains(lowerName, w) {
			return true
		}
	}
	return false
}
