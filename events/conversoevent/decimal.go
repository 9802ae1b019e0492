package conversoevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
)

// Decimal is a JSON number exactly as the sender wrote it, such as "35.00":
// never read through a float64, which holds 35.00 exactly but not 0.10 or
// 19.99. The zero value, "", is a price the delivery did not carry (absent
// or null). Use Minor to get an amount in a currency's minor unit.
type Decimal string

// ErrPrice is wrapped by Minor's errors: a Decimal that is not a whole
// number of the minor unit asked for, is out of range, or is not a number.
var ErrPrice = errors.New("conversoevent: price not representable in minor units")

// UnmarshalJSON keeps a JSON number's text; null leaves d unchanged.
// Anything else (a quoted "35.00", true, an object) is a
// *json.UnmarshalTypeError, which names the field and quotes no value.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0:
		return &json.UnmarshalTypeError{Value: "nothing", Type: reflect.TypeFor[Decimal]()}
	case string(b) == "null":
		return nil
	case b[0] == '-' || ('0' <= b[0] && b[0] <= '9'):
		*d = Decimal(b) // encoding/json has checked that it is a valid number
		return nil
	}
	kind := map[byte]string{'"': "string", 't': "bool", 'f': "bool", '{': "object", '[': "array"}[b[0]]
	return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[Decimal]()}
}

// MarshalJSON writes the number as it was received, or null for "".
func (d Decimal) MarshalJSON() ([]byte, error) {
	if d == "" {
		return []byte("null"), nil
	}
	if c := d[0]; (c != '-' && (c < '0' || c > '9')) || !json.Valid([]byte(d)) {
		return nil, fmt.Errorf("conversoevent: Decimal is not a JSON number: %w", ErrPrice)
	}
	return []byte(d), nil
}

// String returns the number as it was received ("35.00").
func (d Decimal) String() string { return string(d) }

// Minor returns d in units of 10^-digits: Minor(2) of 35.00 is 3500 (cents
// of USD or EUR), Minor(0) of 500 is 500 (JPY has no minor unit). Trailing
// zeros do not matter (35.000 is 3500 too); a nonzero digit below the minor
// unit (35.005 in cents), an amount beyond int64, an exponent beyond ±40, a
// negative digits or a Decimal that is not a number is an error wrapping
// ErrPrice.
func (d Decimal) Minor(digits int) (int64, error) {
	neg, mantissa, scale, ok := d.parts()
	if !ok {
		return 0, fmt.Errorf("price is not a decimal number: %w", ErrPrice)
	}
	if digits < 0 {
		return 0, fmt.Errorf("%d minor digits: %w", digits, ErrPrice)
	}
	mantissa = strings.TrimLeft(mantissa, "0")
	if mantissa == "" {
		return 0, nil
	}
	// d = mantissa × 10^-scale; the result is mantissa × 10^(digits-scale).
	for scale > digits {
		if !strings.HasSuffix(mantissa, "0") {
			return 0, fmt.Errorf("price has more than %d decimal places: %w", digits, ErrPrice)
		}
		mantissa = mantissa[:len(mantissa)-1]
		scale--
	}
	if len(mantissa)+digits-scale > 19 {
		return 0, fmt.Errorf("price is out of range: %w", ErrPrice)
	}
	var n uint64
	for _, c := range mantissa {
		n = n*10 + uint64(c-'0')
	}
	for ; scale < digits; scale++ {
		n *= 10
	}
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("price is out of range: %w", ErrPrice)
	}
	if neg {
		return -int64(n), nil
	}
	return int64(n), nil
}

// maxExponent bounds the exponent Minor accepts: no price needs 10^±40.
const maxExponent = 40

// parts splits a JSON number into its sign, its digits without the decimal
// point, and the power of ten they are divided by (which an exponent
// lowers): "-3.50e1" is (true, "350", 1).
func (d Decimal) parts() (neg bool, mantissa string, scale int, ok bool) {
	s := string(d)
	neg = strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	s, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if !digitsOnly(intPart) || (hasPoint && !digitsOnly(frac)) || (len(intPart) > 1 && intPart[0] == '0') {
		return false, "", 0, false
	}
	scale = len(frac)
	if hasExp {
		e, ok := smallInt(exp)
		if !ok {
			return false, "", 0, false
		}
		scale -= e
	}
	mantissa = intPart + frac
	for scale < 0 { // 5e2: shift the exponent into the digits
		mantissa += "0"
		scale++
	}
	return neg, mantissa, scale, true
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// smallInt parses an exponent, optionally signed, within ±maxExponent.
func smallInt(s string) (int, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if !digitsOnly(s) || len(s) > 2 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	if n > maxExponent {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}
