// Package logtext bounds request-derived strings before they reach a log
// or an error message, so a hostile request can make neither huge nor
// make it say something it did not.
package logtext

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clip returns s when it is at most n bytes, and otherwise its first n
// bytes (cut at a rune boundary) followed by "…(+<rest> bytes)". Either way,
// every control character (C0, DEL and the C1 controls such as U+0085 and
// U+009B, which JSON encoders pass through raw and some terminals and log
// viewers obey), line and paragraph separator, bidirectional override and
// invalid byte is written as a \uXXXX (or \xXX) escape.
func Clip(s string, n int) string {
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…(+" + strconv.Itoa(len(s)-cut) + " bytes)"
	}
	return escape(s)
}

// escape writes s's unsafe runes as escapes; a plain printable ASCII
// string, the usual case, is returned as it is, without allocating.
func escape(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case unsafe(r):
			b.WriteString(`\u`)
			b.WriteString(strconv.FormatUint(uint64(r)|0x10000, 16)[1:])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func unsafe(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' ||
		(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}
