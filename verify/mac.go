package verify

import (
	"crypto/hmac"
	"hash"
	"strconv"
	"sync"
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
