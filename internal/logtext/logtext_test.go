package logtext_test

import (
	"strings"
	"testing"

	"github.com/hookkit/hookkit/internal/logtext"
)

func TestClip(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{strings.Repeat("a", 20), 5, "aaaaa…(+15 bytes)"},
		{"ñandú", 2, "ñ…(+5 bytes)"}, // "ñ" is 2 bytes
		{"ñandú", 1, "…(+7 bytes)"},  // never half a rune
		// Controls that JSON encoders pass through raw, and others, are
		// escaped; the rest of the text is kept.
		{"next\u0085line", 50, `next\u0085line`},
		{"csi\u009b2J", 50, `csi\u009b2J`},
		{"esc\x1b[2J", 50, `esc\u001b[2J`},
		{"nul\x00x", 50, `nul\u0000x`},
		{"a\nb", 50, `a\u000ab`},
		{"sep\u2028x", 50, `sep\u2028x`},
		{"rtl\u202eevil", 50, `rtl\u202eevil`},
		{"bad\xffbyte", 50, `bad\xffbyte`},
		{"café ✓", 50, "café ✓"},
	}
	for _, tt := range tests {
		if got := logtext.Clip(tt.in, tt.n); got != tt.want {
			t.Errorf("Clip(%q, %d): got %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
