package verify

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

// The fast paths in mac.go must decide exactly as the reference code they
// replace: strconv for numbers, time.Time arithmetic for the tolerance.

func FuzzParseUnix(f *testing.F) {
	for _, s := range []string{"0", "1732350000", "+17", "017", "-5", "", "999999999999999999", "9223372036854775808", "1e9", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseUnix(s)
		want, err := strconv.ParseInt(s, 10, 64)
		if ok != (err == nil) || (ok && n != want) {
			t.Fatalf("parseUnix(%q) = %d, %v; strconv: %d, %v", s, n, ok, want, err)
		}
		if ok && canonicalDecimal(s) != (strconv.FormatInt(n, 10) == s) {
			t.Fatalf("canonicalDecimal(%q) = %v", s, canonicalDecimal(s))
		}
	})
}

func FuzzCheckTimestamp(f *testing.F) {
	f.Add(int64(1732350000), int64(1732350000), int64(0), int64(300))
	f.Add(int64(1732350000), int64(1732349700), int64(1), int64(300))
	f.Add(int64(1732350000), int64(1732350300), int64(999999999), int64(300))
	f.Add(int64(0), int64(-1<<63), int64(0), int64(1))
	f.Add(int64(1732350000), int64(1<<62), int64(5), int64(3600))
	f.Fuzz(func(t *testing.T, nowSec, ts, nsec, tolSec int64) {
		if nsec < 0 || nsec >= 1e9 || tolSec <= 0 || tolSec > 1<<30 {
			return
		}
		now := time.Unix(nowSec, nsec)
		tol := time.Duration(tolSec) * time.Second
		err := checkTimestamp("test", ts, now, tol)
		tt := time.Unix(ts, 0)
		wantOld, wantNew := now.Sub(tt) > tol, !(now.Sub(tt) > tol) && tt.After(now.Add(tol))
		if errors.Is(err, ErrTimestampTooOld) != wantOld || errors.Is(err, ErrTimestampTooNew) != wantNew {
			t.Fatalf("now %v ts %d tol %s: %v; want old %v new %v", now, ts, tol, err, wantOld, wantNew)
		}
	})
}
