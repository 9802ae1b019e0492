package verify

import (
	"crypto/hmac"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bounds on what a verifier reads from a signature header. Real headers are
// far smaller (a Stripe header during a secret rotation holds four entries
// in about 200 bytes); anything past these is refused as malformed before
// any MAC is computed, so a hostile header cannot make verification slow.
const (
	maxHeaderBytes   = 8 << 10
	maxHeaderEntries = 64
)

// keyedMAC hands out HMAC states keyed with one secret. Keying an HMAC costs
// two hash blocks and several allocations, so states are pooled and Reset
// between uses; with a warm pool a verification allocates nothing.
type keyedMAC struct {
	pool sync.Pool
}

// macState is a pooled HMAC with scratch space for its sum and for short
// strings it writes, so neither escapes to the heap per request.
type macState struct {
	h       hash.Hash
	sum     [64]byte
	scratch [128]byte
}

func newKeyedMAC(newHash func() hash.Hash, key []byte) *keyedMAC {
	key = append([]byte(nil), key...)
	k := &keyedMAC{}
	k.pool.New = func() any { return &macState{h: hmac.New(newHash, key)} }
	return k
}

func (k *keyedMAC) get() *macState {
	s := k.pool.Get().(*macState)
	s.h.Reset()
	return s
}

func (k *keyedMAC) put(s *macState) { k.pool.Put(s) }

// writeTimestamp writes the decimal timestamp as the SDKs sign it (strconv's
// form: no sign for positives, no leading zeros) followed by suffix, in one
// Write. text is the timestamp as received, used directly when canonical.
func (s *macState) writeTimestamp(text string, n int64, suffix byte) {
	b := s.scratch[:0]
	if canonicalDecimal(text) && len(text) < len(s.scratch) {
		b = append(b, text...)
	} else {
		b = strconv.AppendInt(b, n, 10)
	}
	s.h.Write(append(b, suffix))
}

// writeString writes str to the hash without converting it to a []byte on
// the heap.
func (s *macState) writeString(str string) {
	for len(str) > 0 {
		n := copy(s.scratch[:], str)
		s.h.Write(s.scratch[:n])
		str = str[n:]
	}
}

// writePrefixed writes prefix, a separator, the timestamp (see
// writeTimestamp) and suffix, in one Write when they fit the scratch space.
func (s *macState) writePrefixed(prefix string, sep byte, tsText string, ts int64, suffix byte) {
	if len(prefix)+len(tsText)+22 > len(s.scratch) {
		s.writeString(prefix)
		s.h.Write([]byte{sep})
		s.writeTimestamp(tsText, ts, suffix)
		return
	}
	b := append(append(s.scratch[:0], prefix...), sep)
	if canonicalDecimal(tsText) {
		b = append(b, tsText...)
	} else {
		b = strconv.AppendInt(b, ts, 10)
	}
	s.h.Write(append(b, suffix))
}

func (s *macState) finish() []byte { return s.h.Sum(s.sum[:0]) }

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

// equalText compares a signature as sent with an encoding computed here, in
// time that depends only on the lengths (which are public). It folds eight
// bytes at a time; the shifts compile to single loads.
func equalText(sent string, want []byte) bool {
	if len(sent) != len(want) {
		return false
	}
	var diff uint64
	i := 0
	for ; i+8 <= len(want); i += 8 {
		s, w := sent[i:i+8], want[i:i+8]
		diff |= (uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56) ^
			(uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56)
	}
	for ; i < len(want); i++ {
		diff |= uint64(sent[i] ^ want[i])
	}
	return diff == 0
}

// hexValue maps a byte to its hex digit value, or 0xff if it is not one.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
		t[c-'a'+'A'] = byte(c-'a') + 10
	}
	return t
}()

// decodeHex decodes s (either case) into dst and reports whether s was
// valid hex of exactly len(dst) bytes. It runs without branching on the
// digits; an invalid digit is noticed after the loop.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	var bad byte
	for i := range dst {
		hi, lo := hexValue[s[2*i]], hexValue[s[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo
	}
	return bad&0xf0 == 0
}

// validHex reports whether s decodes as hex of any even length, the test
// stripe-go applies to decide whether a v1 entry counts as a signature.
func validHex(s string) bool {
	if len(s)%2 != 0 {
		return false
	}
	var bad byte
	for i := 0; i < len(s); i++ {
		bad |= hexValue[s[i]]
	}
	return bad&0xf0 == 0
}

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

// keys builds one keyedMAC per secret.
func keys(newHash func() hash.Hash, secrets [][]byte) []*keyedMAC {
	out := make([]*keyedMAC, len(secrets))
	for i, s := range secrets {
		out[i] = newKeyedMAC(newHash, s)
	}
	return out
}
