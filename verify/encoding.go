package verify

import "encoding/base64"

// Signatures arrive as text and are compared as bytes with hmac.Equal,
// which takes time that depends only on the lengths (which are public).
// Decoding first, and accepting only the one canonical text of each MAC
// (the exact length, strict base64, lowercase hex where the SDK compares
// lowercase text), keeps the acceptance of the SDKs, which compare text.

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

// decodeHexLower is decodeHex for digits that must be lowercase, as
// twilio-go compares the hex of bodySHA256.
func decodeHexLower(dst []byte, s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'F' {
			return false
		}
	}
	return decodeHex(dst, s)
}

// strictBase64 refuses non-zero padding bits, so only the canonical text of
// a MAC decodes to it.
var strictBase64 = base64.StdEncoding.Strict()

// decodeBase64 decodes s, which must be exactly the standard padded base64
// of len(dst) bytes (base64 decoding ignores line breaks; the length rules
// them out), into dst.
func decodeBase64(dst []byte, s string) bool {
	if len(s) != base64.StdEncoding.EncodedLen(len(dst)) {
		return false
	}
	var src, buf [88]byte // the text and bytes of a MAC of up to 64 bytes
	n, err := strictBase64.Decode(buf[:], src[:copy(src[:], s)])
	if err != nil || n != len(dst) {
		return false
	}
	copy(dst, buf[:n])
	return true
}
