// Package eventtime reads the times a parser takes from a signed body
// (an envelope's event time, a Twilio callback's Timestamp, a booking's
// scheduled_at) so that every time it returns is one every encoder and
// database accepts: within the years 1970 to 9999, with a UTC offset
// within RFC 3339's range, and in UTC.
//
// Go's time.Parse reads more than RFC 3339 and RFC 1123 allow: an offset
// of +24:00 (or "+2400"), and minutes of 60 in an RFC 3339 offset. Such a
// time then fails json.Marshal ("timezone hour outside of range"), and a
// store or queue that encodes it fails on it; from a signed body that
// failure recurs on every retry, and a batch that carries the event fails
// with it. These functions refuse what RFC 3339 refuses instead.
package eventtime

import "time"

// Error is why a time is refused. Its text says what the value is not,
// never what it is: a signed body's values reach logs only as shapes.
type Error string

func (e Error) Error() string { return string(e) }

const (
	errLayout     = Error("not an RFC 3339 time")
	errLayout1123 = Error("not an RFC 1123 time with a numeric zone")
	errOffset     = Error("a UTC offset outside RFC 3339's range (-23:59 to +23:59)")
	errOutOfRange = Error("out of range for an event time (1970 to 9999)")
)

const secondsPerDay = 24 * 60 * 60

// The range of times accepted: from the Unix epoch to the end of year 9999
// (what RFC 3339 can write). Outside it a time is no sender's clock:
// "created":1e300 would otherwise overflow into 1677, and a store would
// keep that.
var (
	minTime = time.Unix(0, 0)
	maxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Sane returns t in UTC when it is within 1970 to 9999 and its offset is
// less than a day either way; otherwise an Error.
func Sane(t time.Time) (time.Time, error) {
	if _, off := t.Zone(); off <= -secondsPerDay || off >= secondsPerDay {
		return time.Time{}, errOffset
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		return time.Time{}, errOutOfRange
	}
	return t.UTC(), nil
}

// ParseRFC3339 parses an RFC 3339 time (fractional seconds optional),
// refusing an offset whose hours exceed 23 or whose minutes exceed 59, and
// returns it in UTC (see Sane).
func ParseRFC3339(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errLayout
	}
	if last := s[len(s)-1]; last != 'Z' && last != 'z' {
		// time.Parse has checked the shape: the offset is s's last six
		// bytes, "+hh:mm" or "-hh:mm".
		if !offsetInRange(s[len(s)-5:len(s)-3], s[len(s)-2:]) {
			return time.Time{}, errOffset
		}
	}
	return Sane(t)
}

// ParseRFC1123Z parses a time as Twilio writes its Timestamp parameter,
// "Mon, 02 Jan 2006 15:04:05 -0700", with the same checks as ParseRFC3339.
func ParseRFC1123Z(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC1123Z, s)
	if err != nil {
		return time.Time{}, errLayout1123
	}
	// The offset is s's last five bytes, "+hhmm" or "-hhmm".
	if !offsetInRange(s[len(s)-4:len(s)-2], s[len(s)-2:]) {
		return time.Time{}, errOffset
	}
	return Sane(t)
}

func offsetInRange(hh, mm string) bool {
	return len(hh) == 2 && len(mm) == 2 && digit(hh[0]) && digit(hh[1]) && digit(mm[0]) && digit(mm[1]) &&
		(hh[0] < '2' || hh[0] == '2' && hh[1] <= '3') && mm[0] <= '5'
}

func digit(c byte) bool { return '0' <= c && c <= '9' }
