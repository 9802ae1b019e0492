package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"unicode/utf8"

	"github.com/hookkit/hookkit/internal/requesttarget"
)

// maxDiagnosedBody bounds the bodies whose variants are tried: each
// variant costs a copy and a verification.
const maxDiagnosedBody = 1 << 20

// bodyVariant is a body as it may have been before something changed it.
type bodyVariant struct {
	cause Cause
	what  string
	body  []byte
}

// bodyVariants tries the bodies the sender may have sent, undoing what a
// framework, proxy or editor may have done, and names the first that
// verifies.
func (d *diagnoser) bodyVariants() *Diagnosis {
	if len(d.body) > maxDiagnosedBody {
		return nil
	}
	check := CheckSignature
	if d.cfg.Scheme == "twilio" {
		if _, ok := queryValue(requesttarget.Of(d.r), "bodySHA256"); ok {
			check = CheckBodyHash
		}
	}
	v, err := d.verifier(d.secrets, nil)
	if err != nil {
		return nil
	}
	for _, variant := range variantsOf(d.body) {
		if v.Verify(d.r, variant.body) == nil {
			return found(check, variant.cause, fmt.Sprintf(
				"the body verifies after %s: verify the raw bytes as received, before anything parses or rewrites them", variant.what))
		}
	}
	return nil
}

var bom = []byte("\xef\xbb\xbf")

// variantsOf lists the candidate original bodies of body.
func variantsOf(body []byte) []bodyVariant {
	var out []bodyVariant
	add := func(cause Cause, what string, b []byte) {
		if !bytes.Equal(b, body) {
			out = append(out, bodyVariant{cause, what, b})
		}
	}
	if rest, ok := bytes.CutPrefix(body, bom); ok {
		add(CauseBOM, "removing the byte order mark (EF BB BF) added before it", rest)
	} else {
		add(CauseBOM, "restoring a byte order mark (EF BB BF) removed from its start", append(slices.Clip(bom), body...))
	}
	switch {
	case bytes.HasSuffix(body, []byte("\r\n")):
		add(CauseTrailingNewline, "removing the CRLF added at its end", body[:len(body)-2])
	case bytes.HasSuffix(body, []byte("\n")):
		add(CauseTrailingNewline, "removing the newline added at its end", body[:len(body)-1])
	default:
		add(CauseTrailingNewline, "restoring a newline removed from its end", append(slices.Clip(body), '\n'))
	}
	if bytes.Contains(body, []byte("\r\n")) {
		add(CauseEncoding, "turning its CRLF line endings back into LF", bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")))
	} else if bytes.Contains(body, []byte("\n")) {
		add(CauseEncoding, "turning its LF line endings back into CRLF", bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n")))
	}
	if !utf8.Valid(body) {
		add(CauseEncoding, "reading it as Latin-1 and writing it as UTF-8", latin1ToUTF8(body))
	} else if b, ok := utf8ToLatin1(body); ok {
		add(CauseEncoding, "writing its UTF-8 characters back as Latin-1", b)
	}
	if json.Valid(body) {
		out = append(out, jsonVariants(body)...)
	} else if form, err := url.ParseQuery(string(body)); err == nil && len(form) > 0 && bytes.IndexByte(body, '=') >= 0 {
		add(CauseReserialized, "re-encoding its form (a framework parsed and wrote it again)", []byte(form.Encode()))
		add(CauseEncoding, "writing its spaces as %20 instead of '+'", bytes.ReplaceAll(body, []byte("+"), []byte("%20")))
		add(CauseEncoding, "writing its spaces as '+' instead of %20", bytes.ReplaceAll(body, []byte("%20"), []byte("+")))
	}
	return out
}

func latin1ToUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)*2)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

func utf8ToLatin1(b []byte) ([]byte, bool) {
	out := make([]byte, 0, len(b))
	wide := false
	for _, r := range string(b) {
		if r > 0xff {
			return nil, false
		}
		wide = wide || r >= 0x80
		out = append(out, byte(r))
	}
	return out, wide
}

// jsonVariants are the ways a JSON body is commonly written again: other
// whitespace (compact, indented by two or four spaces or a tab, Python's
// ", " and ": "), sorted keys (a decoded map), and other string escapes
// (\u escapes of non-ASCII characters and their reverse, HTML escapes,
// escaped slashes).
func jsonVariants(body []byte) []bodyVariant {
	root, err := parseJSON(body)
	if err != nil {
		return nil
	}
	var out []bodyVariant
	seen := map[string]bool{string(body): true}
	add := func(cause Cause, what string, b []byte) {
		if !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, bodyVariant{cause, what, b})
		}
	}
	// Escapes alone, with the whitespace as it is; only those that change
	// something are combined with the layouts below.
	escapes := []jsonEscape{{}}
	for _, esc := range jsonEscapes {
		if b := rewriteStrings(body, esc.fix); !bytes.Equal(b, body) {
			add(CauseEncoding, "changing its string escapes back ("+esc.what+")", b)
			escapes = append(escapes, esc)
		}
	}
	orders := []bool{false}
	if root.unsorted() {
		orders = append(orders, true)
	}
	layouts := []struct {
		what string
		l    jsonLayout
	}{
		{"re-indenting it with two spaces", jsonLayout{indent: "  ", colon: ": "}},
		{"re-indenting it with four spaces", jsonLayout{indent: "    ", colon: ": "}},
		{"re-indenting it with tabs", jsonLayout{indent: "\t", colon: ": "}},
		{"writing it compact, without whitespace", jsonLayout{colon: ":", comma: ","}},
		{"writing it with \", \" and \": \" separators", jsonLayout{colon: ": ", comma: ", "}},
	}
	for _, sorted := range orders {
		for _, lay := range layouts {
			for _, esc := range escapes {
				l := lay.l
				l.sorted, l.escape = sorted, esc.fix
				b := l.write(root)
				what := lay.what
				if sorted {
					what += " with its keys sorted"
				}
				if esc.fix != nil {
					what += " and " + esc.what
				}
				add(CauseReserialized, what+" (it was parsed and re-serialised)", b)
				add(CauseReserialized, what+" with the trailing newline (it was parsed and re-serialised)", append(b, '\n'))
			}
		}
	}
	return out
}

// jsonEscape rewrites a JSON string literal's escapes.
type jsonEscape struct {
	what string
	fix  func(lit []byte) []byte
}

var jsonEscapes = []jsonEscape{
	{"non-ASCII characters as \\u escapes", func(lit []byte) []byte {
		if !hasByteAbove(lit, 0x7f) {
			return lit
		}
		return encodeJSONString(decodeJSONString(lit), true, false, false)
	}},
	{"\\u escapes as the characters they stand for", func(lit []byte) []byte {
		if !bytes.Contains(lit, []byte(`\u`)) && !bytes.Contains(lit, []byte(`\/`)) {
			return lit
		}
		return encodeJSONString(decodeJSONString(lit), false, false, false)
	}},
	{"<, > and & as \\u003c, \\u003e and \\u0026", func(lit []byte) []byte {
		if !bytes.ContainsAny(lit, "<>&") {
			return lit
		}
		return encodeJSONString(decodeJSONString(lit), false, true, false)
	}},
	{"'/' escaped as \\/", func(lit []byte) []byte {
		if bytes.IndexByte(lit, '/') < 0 {
			return lit
		}
		return encodeJSONString(decodeJSONString(lit), false, false, true)
	}},
}

func hasByteAbove(b []byte, max byte) bool {
	for _, c := range b {
		if c > max {
			return true
		}
	}
	return false
}

func decodeJSONString(lit []byte) string {
	var s string
	if json.Unmarshal(lit, &s) != nil {
		return string(lit)
	}
	return s
}

// encodeJSONString writes s as a JSON string literal, escaping non-ASCII
// characters, HTML characters and slashes as asked.
func encodeJSONString(s string, ascii, html, slash bool) []byte {
	const hex = "0123456789abcdef"
	b := []byte{'"'}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '/' && slash:
			b = append(b, '\\', '/')
		case r < 0x20 || (html && (r == '<' || r == '>' || r == '&')) || r == 0x2028 || r == 0x2029:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4&0xf], hex[r&0xf])
			if r > 0xff {
				b = append(b[:len(b)-4], hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
			}
		case r >= 0x80 && ascii:
			for _, u := range utf16Units(r) {
				b = append(b, '\\', 'u', hex[u>>12&0xf], hex[u>>8&0xf], hex[u>>4&0xf], hex[u&0xf])
			}
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

func utf16Units(r rune) []rune {
	if r < 0x10000 {
		return []rune{r}
	}
	r -= 0x10000
	return []rune{0xd800 + r>>10, 0xdc00 + r&0x3ff}
}

// rewriteStrings applies fix to every string literal of a JSON text,
// leaving everything between them as it is.
func rewriteStrings(text []byte, fix func([]byte) []byte) []byte {
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); {
		if text[i] != '"' {
			out = append(out, text[i])
			i++
			continue
		}
		end := stringEnd(text, i)
		out = append(out, fix(text[i:end])...)
		i = end
	}
	return out
}

// stringEnd returns the index just past the string literal starting at i.
func stringEnd(text []byte, i int) int {
	for j := i + 1; j < len(text); j++ {
		switch text[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(text)
}
