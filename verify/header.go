package verify

import "net/http"

// Bounds on what a verifier reads from a signature header. Real headers are
// far smaller (a Stripe header during a secret rotation holds four entries
// in about 200 bytes); anything past these is refused as malformed before
// any MAC is computed, so a hostile header cannot make verification slow.
const (
	maxHeaderBytes   = 8 << 10
	maxHeaderEntries = 64
)

// headerValue returns the first value of a header whose canonical name is
// key. Looking the canonical name up directly skips re-canonicalising it on
// every request; a header map built by hand with other spellings still
// works through Get.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return h.Get(key)
}
