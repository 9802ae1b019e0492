package verify

import (
	"bytes"
	"fmt"
	"slices"
)

// maxFormParams is net/url's limit on the pairs in one query or form; a body
// with more is refused, as url.ParseQuery (and so twilio-go) refuses it.
const maxFormParams = 10000

// parseForm decodes body into sc.params with the same acceptance as
// url.ParseQuery: pairs are separated by '&', a pair holding ';' or a bad
// %-escape makes the whole body invalid, empty pairs are skipped, '+' is a
// space. Keys and values that need no unescaping point into body.
func (sc *twilioScratch) parseForm(body []byte) error {
	sc.params = sc.params[:0]
	if n := bytes.Count(body, []byte{'&'}) + 1; n > maxFormParams {
		return twilioError(ErrSignatureMismatch, fmt.Sprintf("form body has %d pairs, limit %d", n, maxFormParams))
	}
	if cap(sc.decoded) < len(body) {
		sc.decoded = make([]byte, 0, len(body))
	}
	sc.decoded = sc.decoded[:0]
	for rest := body; len(rest) > 0; {
		var pair []byte
		pair, rest, _ = bytes.Cut(rest, []byte{'&'})
		if bytes.IndexByte(pair, ';') >= 0 {
			return twilioError(ErrSignatureMismatch, "form body holds ';', which is not a pair separator")
		}
		if len(pair) == 0 {
			continue
		}
		k, v, _ := bytes.Cut(pair, []byte{'='})
		key, ok := sc.unescape(k)
		if !ok {
			return twilioError(ErrSignatureMismatch, "form body holds a malformed %-escape")
		}
		value, ok := sc.unescape(v)
		if !ok {
			return twilioError(ErrSignatureMismatch, "form body holds a malformed %-escape")
		}
		sc.params = append(sc.params, param{key: key, value: value})
	}
	return nil
}

// unescape decodes one form component. Its output goes to sc.decoded, whose
// capacity (len(body)) is never exceeded because decoding only shrinks.
func (sc *twilioScratch) unescape(s []byte) ([]byte, bool) {
	if bytes.IndexByte(s, '%') < 0 && bytes.IndexByte(s, '+') < 0 {
		return s, true
	}
	start := len(sc.decoded)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			if i+2 >= len(s) {
				return nil, false
			}
			hi, lo := hexValue[s[i+1]], hexValue[s[i+2]]
			if (hi|lo)&0xf0 != 0 {
				return nil, false
			}
			sc.decoded = append(sc.decoded, hi<<4|lo)
			i += 2
		case '+':
			sc.decoded = append(sc.decoded, ' ')
		default:
			sc.decoded = append(sc.decoded, c)
		}
	}
	return sc.decoded[start:len(sc.decoded):len(sc.decoded)], true
}

// unescapeString decodes a short query component (used for the query of the
// request URL, which is not on the per-parameter hot path).
func unescapeString(s string) (string, bool) {
	if !needsUnescape(s) {
		return s, true
	}
	var sc twilioScratch
	sc.decoded = make([]byte, 0, len(s))
	b, ok := sc.unescape([]byte(s))
	return string(b), ok
}

func needsUnescape(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '+' {
			return true
		}
	}
	return false
}

// sortParams orders parameters by name, then value: the order Twilio signs
// them in. Sorting by name alone first matters: "Reason" sorts before
// "ReasonConferenceEnded" whatever their values.
func sortParams(ps []param) {
	slices.SortFunc(ps, func(a, b param) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		return bytes.Compare(a.value, b.value)
	})
}
