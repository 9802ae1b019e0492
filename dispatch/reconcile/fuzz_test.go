package reconcile_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch/reconcile"
)

// FuzzParseRetryAfter: whatever a sender puts in Retry-After, the wait is
// never negative nor over a day, and parsing never panics.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	for _, seed := range []string{"", "0", "1", "120", "-5", "86401", "99999999999999999999", " 7 ", "1.5",
		now.Add(time.Minute).Format(http.TimeFormat), "Mon, 02 Jan 2006 15:04:05 GMT", "soon"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d := reconcile.ParseRetryAfter(v, now); d < 0 || d > reconcile.MaxRetryAfter {
			t.Errorf("ParseRetryAfter(%q) = %s", v, d)
		}
	})
}
