// Package logtext bounds request-derived strings before they reach a log
// or an error message, so a hostile request cannot make either huge.
package logtext

import (
	"strconv"
	"unicode/utf8"
)

// Clip returns s when it is at most n bytes, and otherwise its first n
// bytes (cut at a rune boundary) followed by "…(+<rest> bytes)".
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(+" + strconv.Itoa(len(s)-cut) + " bytes)"
}
