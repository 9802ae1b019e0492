// Package headers decides what of a delivery's headers hookkit stores
// beyond the request: in a dead letter, in a queued job.
package headers

import "net/http"

// kept lists the headers a stored event keeps: those a parser or a handler
// may read again on a re-run (the body's content type, the Standard
// Webhooks and Svix message IDs). Everything else is dropped: signatures
// (under whatever name a scheme gives them: X-Shopify-Hmac-Sha256,
// X-Webhook-Hmac...), their timestamps, credentials, cookies, client
// certificates, and whatever else a sender or a proxy adds.
var kept = []string{"Content-Type", "Webhook-Id", "Svix-Id"}

// MaxValueBytes bounds a kept header's value; a longer value is dropped,
// not clipped (a clipped message ID would be a different one).
const MaxValueBytes = 256

// Kept returns the headers worth keeping with a stored event: an
// allowlist (Content-Type, Webhook-Id, Svix-Id), one value each, at most
// MaxValueBytes long. It never keeps a signature, a timestamp header, a
// credential or a cookie, and a flood of headers adds nothing. Names are
// looked up in canonical form, as net/http's server writes them.
func Kept(h http.Header) http.Header {
	out := http.Header{}
	for _, name := range kept {
		if values := h[name]; len(values) > 0 && values[0] != "" && len(values[0]) <= MaxValueBytes {
			out[name] = []string{values[0]}
		}
	}
	return out
}
