package verify

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// checkTimestamp applies the tolerance in both directions. It decides as
// stripe-go and the Standard Webhooks library do, with time.Time arithmetic,
// so the two agree even at the extremes of int64 timestamps; timestamps
// within a century of now, where integer nanoseconds cannot
// overflow, take an equivalent integer path.
func checkTimestamp(scheme string, ts int64, now time.Time, tolerance time.Duration) error {
	const near = 1 << 32 // seconds, 136 years: nanoseconds stay far from overflow
	var tooOld, tooNew bool
	nowSec := now.Unix()
	if d := ts - nowSec; d > -near && d < near {
		age := (nowSec-ts)*int64(time.Second) + int64(now.Nanosecond())
		tooOld, tooNew = age > int64(tolerance), -age > int64(tolerance)
	} else {
		t := time.Unix(ts, 0)
		tooOld, tooNew = now.Sub(t) > tolerance, t.After(now.Add(tolerance))
	}
	switch {
	case tooOld:
		return newError(scheme, 0, ErrTimestampTooOld,
			fmt.Sprintf("timestamp %ds old, tolerance %s", int64(now.Sub(time.Unix(ts, 0))/time.Second), tolerance))
	case tooNew:
		return newError(scheme, 0, ErrTimestampTooNew,
			fmt.Sprintf("timestamp %ds in the future, tolerance %s", int64(time.Unix(ts, 0).Sub(now)/time.Second), tolerance))
	}
	return nil
}

// canonicalDecimal reports whether s, already parsed by strconv.ParseInt, is
// exactly how strconv.FormatInt writes that number (no '+', no leading zeros,
// no "-0"), so the text itself can be hashed instead of formatting again.
func canonicalDecimal(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	switch {
	case digits == "" || digits[0] == '+':
		return false
	case digits[0] == '0':
		return s == "0"
	}
	return true
}

// parseUnix parses a decimal Unix timestamp as strconv.ParseInt does, the
// parser the official SDKs use, so "+17" and "017" mean 17 here as there.
// Plain digits, the only form senders produce, take a short path.
func parseUnix(s string) (int64, bool) {
	if len(s) > 0 && len(s) <= 18 {
		var n int64
		for i := 0; i < len(s); i++ {
			c := s[i] - '0'
			if c > 9 {
				goto general
			}
			n = n*10 + int64(c)
		}
		return n, true
	}
general:
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
