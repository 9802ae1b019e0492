package logtext_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

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
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, logtext.Clip(tt.in, tt.n), "Clip(%q, %d)", tt.in, tt.n)
	}
}
