package transform

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
)

// conv is how one field's non-null value is normalised to what Salesforce
// accepts.
type conv struct {
	typ config.FieldType
	// format is a Go time layout for text dates and date-times.
	format string
	// loc is the zone of text date-times whose format has no zone.
	loc *time.Location
}

// validType reports whether t is a type a mapping may name.
func validType(t config.FieldType) bool {
	switch t {
	case config.TypeAuto, config.TypeString, config.TypeNumber, config.TypeInteger,
		config.TypeBoolean, config.TypeDate, config.TypeDateTime:
		return true
	}
	return false
}

// normalize converts v, which is not nil, to the field's sink value. Text
// that needs formatting is cut from a; strings are passed through.
func (c *conv) normalize(v any, a *arena) (sink.Value, error) {
	switch c.typ {
	case config.TypeString:
		return toText(v, a)
	case config.TypeNumber:
		return toNumber(v, a)
	case config.TypeInteger:
		return toInteger(v, a)
	case config.TypeBoolean:
		return toBoolean(v)
	case config.TypeDate:
		return c.toDate(v, a)
	case config.TypeDateTime:
		return c.toDateTime(v, a)
	}
	return auto(v, a)
}

// auto normalises by the Go type of the value.
func auto(v any, a *arena) (sink.Value, error) {
	switch x := v.(type) {
	case string:
		return sink.Value{Kind: sink.Text, S: x}, nil
	case bool:
		return sink.BoolValue(x), nil
	case time.Time:
		s, err := dateTimeText(x, a)
		return sink.Value{Kind: sink.DateTime, S: s}, err
	case source.Date:
		if !isDate(string(x)) {
			return sink.Value{}, convertError(v, "date")
		}
		return sink.Value{Kind: sink.Date, S: string(x)}, nil
	case source.TimeOfDay:
		s, ok := timeOfDayText(string(x), a)
		if !ok {
			return sink.Value{}, convertError(v, "time")
		}
		return sink.TextValue(s), nil
	case source.JSON:
		return sink.TextValue(string(x)), nil
	case []byte:
		return sink.TextValue(base64Text(x, a)), nil
	}
	if s, ok, err := numberText(v, a); ok {
		return sink.Value{Kind: sink.Number, S: s}, err
	}
	return sink.Value{}, unsupported(v)
}

// numberText formats the numeric types exactly. ok is false when v is not
// a number.
func numberText(v any, a *arena) (s string, ok bool, err error) {
	switch x := v.(type) {
	case int64:
		return a.commit(strconv.AppendInt(a.free(20), x, 10)), true, nil
	case source.Decimal:
		d, ok := parseDecimal(string(x), a)
		if !ok {
			return "", true, convertError(v, "number")
		}
		return d.text, true, nil
	case float64:
		s, err := floatText(x, 64, a)
		return s, true, err
	case *big.Int:
		if x == nil {
			return "", true, convertError(v, "number")
		}
		return a.commit(x.Append(a.free(x.BitLen()/3+2), 10)), true, nil
	case int:
		return a.commit(strconv.AppendInt(a.free(20), int64(x), 10)), true, nil
	case int8:
		return a.commit(strconv.AppendInt(a.free(4), int64(x), 10)), true, nil
	case int16:
		return a.commit(strconv.AppendInt(a.free(6), int64(x), 10)), true, nil
	case int32:
		return a.commit(strconv.AppendInt(a.free(11), int64(x), 10)), true, nil
	case uint:
		return a.commit(strconv.AppendUint(a.free(20), uint64(x), 10)), true, nil
	case uint8:
		return a.commit(strconv.AppendUint(a.free(3), uint64(x), 10)), true, nil
	case uint16:
		return a.commit(strconv.AppendUint(a.free(5), uint64(x), 10)), true, nil
	case uint32:
		return a.commit(strconv.AppendUint(a.free(10), uint64(x), 10)), true, nil
	case uint64:
		return a.commit(strconv.AppendUint(a.free(20), x, 10)), true, nil
	case float32:
		s, err := floatText(float64(x), 32, a)
		return s, true, err
	}
	return "", false, nil
}

// floatText formats f in plain decimal notation with the fewest digits that
// read back as f. Salesforce has no NaN or infinity.
func floatText(f float64, bits int, a *arena) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("cannot convert %v to number", f)
	}
	if f == 0 {
		f = 0 // -0 is 0 in decimal text
	}
	return a.commit(strconv.AppendFloat(a.free(24), f, 'f', -1, bits)), nil
}

// toText is type string: anything scalar becomes text, numbers in canonical form.
func toText(v any, a *arena) (sink.Value, error) {
	switch x := v.(type) {
	case string:
		return sink.TextValue(x), nil
	case source.Decimal:
		if d, ok := parseDecimal(string(x), a); ok {
			return sink.TextValue(d.text), nil
		}
		return sink.TextValue(string(x)), nil
	case source.Date:
		return sink.TextValue(string(x)), nil
	case source.TimeOfDay:
		return sink.TextValue(string(x)), nil
	case float64:
		if s, err := floatText(x, 64, a); err == nil {
			return sink.TextValue(s), nil
		}
		return sink.TextValue(strconv.FormatFloat(x, 'f', -1, 64)), nil
	case float32:
		if s, err := floatText(float64(x), 32, a); err == nil {
			return sink.TextValue(s), nil
		}
		return sink.TextValue(strconv.FormatFloat(float64(x), 'f', -1, 32)), nil
	}
	r, err := auto(v, a)
	r.Kind = sink.Text
	return r, err
}

// toNumber is type number: exact decimal text; text must be a plain decimal.
func toNumber(v any, a *arena) (sink.Value, error) {
	if s, ok := v.(string); ok {
		d, ok := parseDecimal(strings.TrimSpace(s), a)
		if !ok {
			return sink.Value{}, convertError(v, "number")
		}
		return sink.NumberValue(d.text), nil
	}
	s, ok, err := numberText(v, a)
	if !ok {
		return sink.Value{}, convertError(v, "number")
	}
	return sink.NumberValue(s), err
}

// toInteger is type integer: a number without a fractional part. "12.00"
// is whole and becomes "12".
func toInteger(v any, a *arena) (sink.Value, error) {
	switch x := v.(type) {
	case string:
		return wholeDecimal(v, strings.TrimSpace(x), a)
	case source.Decimal:
		return wholeDecimal(v, string(x), a)
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) {
			return sink.Value{}, convertError(v, "integer")
		}
	case float32:
		if f := float64(x); f != math.Trunc(f) || math.IsInf(f, 0) {
			return sink.Value{}, convertError(v, "integer")
		}
	}
	s, ok, err := numberText(v, a)
	if !ok || err != nil {
		return sink.Value{}, convertError(v, "integer")
	}
	return sink.NumberValue(s), nil
}

func wholeDecimal(v any, text string, a *arena) (sink.Value, error) {
	d, ok := parseDecimal(text, a)
	if !ok || !d.whole() {
		return sink.Value{}, convertError(v, "integer")
	}
	return sink.NumberValue(d.integer()), nil
}

// toBoolean is type boolean: true/false, yes/no, t/f, y/n, 1/0 in any case,
// and the numbers 0 and 1.
func toBoolean(v any) (sink.Value, error) {
	switch x := v.(type) {
	case bool:
		return sink.BoolValue(x), nil
	case string:
		switch s := strings.TrimSpace(x); {
		case oneOf(s, "true", "yes", "t", "y", "1"):
			return sink.BoolValue(true), nil
		case oneOf(s, "false", "no", "f", "n", "0"):
			return sink.BoolValue(false), nil
		}
	case source.Decimal:
		var a arena // a canonical decimal 0 or 1 is never rewritten
		if d, ok := parseDecimal(string(x), &a); ok && d.whole() {
			switch d.integer() {
			case "0":
				return sink.BoolValue(false), nil
			case "1":
				return sink.BoolValue(true), nil
			}
		}
	case *big.Int:
		if x != nil && x.IsInt64() {
			return intBool(v, x.Int64())
		}
	case float64:
		return floatBool(v, x)
	case float32:
		return floatBool(v, float64(x))
	case int64:
		return intBool(v, x)
	case int:
		return intBool(v, int64(x))
	case int8:
		return intBool(v, int64(x))
	case int16:
		return intBool(v, int64(x))
	case int32:
		return intBool(v, int64(x))
	case uint:
		return intBool(v, int64(min(uint64(x), 2)))
	case uint8:
		return intBool(v, int64(x))
	case uint16:
		return intBool(v, int64(x))
	case uint32:
		return intBool(v, int64(x))
	case uint64:
		return intBool(v, int64(min(x, 2)))
	}
	return sink.Value{}, convertError(v, "boolean")
}

func intBool(v any, n int64) (sink.Value, error) {
	switch n {
	case 0:
		return sink.BoolValue(false), nil
	case 1:
		return sink.BoolValue(true), nil
	}
	return sink.Value{}, convertError(v, "boolean")
}

func floatBool(v any, f float64) (sink.Value, error) {
	switch f {
	case 0:
		return sink.BoolValue(false), nil
	case 1:
		return sink.BoolValue(true), nil
	}
	return sink.Value{}, convertError(v, "boolean")
}

func oneOf(s string, words ...string) bool {
	for _, w := range words {
		if strings.EqualFold(s, w) {
			return true
		}
	}
	return false
}

// toDate is type date: a time's date in its own zone, a Date, or text as
// yyyy-mm-dd or in the field's format.
func (c *conv) toDate(v any, a *arena) (sink.Value, error) {
	switch x := v.(type) {
	case time.Time:
		s, err := dateText(x, a)
		return sink.Value{Kind: sink.Date, S: s}, err
	case source.Date:
		if isDate(string(x)) {
			return sink.Value{Kind: sink.Date, S: string(x)}, nil
		}
	case string:
		if c.format == "" {
			if s := strings.TrimSpace(x); isDate(s) {
				return sink.Value{Kind: sink.Date, S: s}, nil
			}
			break
		}
		t, err := time.ParseInLocation(c.format, strings.TrimSpace(x), c.loc)
		if err != nil {
			break
		}
		s, err := dateText(t, a)
		return sink.Value{Kind: sink.Date, S: s}, err
	}
	return sink.Value{}, convertError(v, "date")
}

// toDateTime is type datetime: a time, a Date at midnight UTC, or text in
// RFC 3339 or the field's format.
func (c *conv) toDateTime(v any, a *arena) (sink.Value, error) {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case source.Date:
		if !isDate(string(x)) {
			return sink.Value{}, convertError(v, "datetime")
		}
		b := append(a.free(len(x)+14), x...)
		return sink.Value{Kind: sink.DateTime, S: a.commit(append(b, "T00:00:00.000Z"...))}, nil
	case string:
		var err error
		if c.format == "" {
			t, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(x))
		} else {
			t, err = time.ParseInLocation(c.format, strings.TrimSpace(x), c.loc)
		}
		if err != nil {
			return sink.Value{}, convertError(v, "datetime")
		}
	default:
		return sink.Value{}, convertError(v, "datetime")
	}
	s, err := dateTimeText(t, a)
	return sink.Value{Kind: sink.DateTime, S: s}, err
}

// decimal is a parsed decimal number in canonical text: no plus sign, no
// leading zeros, no minus on zero, the fraction's digits kept as given.
type decimal struct {
	text string
	// dot is the index of '.' in text, or len(text).
	dot int
}

// whole reports whether the fraction is all zeros.
func (d decimal) whole() bool {
	for i := d.dot + 1; i < len(d.text); i++ {
		if d.text[i] != '0' {
			return false
		}
	}
	return true
}

// integer is the part before the dot; for "-0.50" that would be "-0", which
// callers avoid by checking whole first.
func (d decimal) integer() string { return d.text[:d.dot] }

// parseDecimal parses [+-]digits[.digits] (either side of the dot may be
// empty, not both). When s is already canonical it is returned as is, so
// the common case does not allocate.
func parseDecimal(s string, a *arena) (decimal, bool) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	intStart := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(s) && s[i] == '.' {
		i++
		fracStart = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		fracEnd = i
	}
	if i != len(s) || (intEnd == intStart && fracEnd == fracStart) {
		return decimal{}, false
	}
	// Leading zeros go, keeping one before the dot.
	digits := s[intStart:intEnd]
	for len(digits) > 1 && digits[0] == '0' {
		digits = digits[1:]
	}
	frac := s[fracStart:fracEnd]
	zero := strings.Trim(digits, "0") == "" && strings.Trim(frac, "0") == ""
	if zero {
		neg = false
	}
	canonical := digits != "" && (neg == (s[0] == '-')) && s[0] != '+' &&
		len(digits) == intEnd-intStart && (frac != "" || fracStart == intEnd)
	if canonical {
		return decimal{text: s, dot: len(s) - len(frac) - boolInt(frac != "")}, true
	}
	b := a.free(len(s) + 2)
	if neg {
		b = append(b, '-')
	}
	if digits == "" {
		b = append(b, '0')
	} else {
		b = append(b, digits...)
	}
	dot := len(b)
	if frac != "" {
		b = append(b, '.')
		b = append(b, frac...)
	}
	return decimal{text: a.commit(b), dot: dot}, true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// isDate reports whether s is a valid calendar date as yyyy-mm-dd.
func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, ok1 := digitsAt(s, 0, 4)
	m, ok2 := digitsAt(s, 5, 2)
	d, ok3 := digitsAt(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || y < 1 || m < 1 || m > 12 || d < 1 {
		return false
	}
	return d <= daysIn(time.Month(m), y)
}

func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func digitsAt(s string, at, n int) (int, bool) {
	v := 0
	for i := at; i < at+n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// timeOfDayText turns hh:mm:ss[.fffffffff] into Salesforce's HH:MM:SS.sssZ.
func timeOfDayText(s string, a *arena) (string, bool) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return "", false
	}
	h, ok1 := digitsAt(s, 0, 2)
	m, ok2 := digitsAt(s, 3, 2)
	sec, ok3 := digitsAt(s, 6, 2)
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 59 {
		return "", false
	}
	frac := ""
	if len(s) > 8 {
		if s[8] != '.' || len(s) == 9 || len(s) > 18 {
			return "", false
		}
		frac = s[9:]
		if _, ok := digitsAt(frac, 0, len(frac)); !ok {
			return "", false
		}
	}
	b := append(a.free(13), s[:8]...)
	b = append(b, '.')
	for i := range 3 {
		if i < len(frac) {
			b = append(b, frac[i])
		} else {
			b = append(b, '0')
		}
	}
	return a.commit(append(b, 'Z')), true
}

var errYearRange = errors.New("year out of range 1-9999")

// dateTimeText formats t as yyyy-mm-ddThh:mm:ss.sss with its zone's offset,
// Z for UTC; it is time.Format's "2006-01-02T15:04:05.000Z07:00" without
// the cost of interpreting a layout.
func dateTimeText(t time.Time, a *arena) (string, error) {
	y, mo, d := t.Date()
	if y < 1 || y > 9999 {
		return "", errYearRange
	}
	h, mi, s := t.Clock()
	b := appendDate(a.free(29), y, int(mo), d)
	b = append(b, 'T')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, s)
	ms := t.Nanosecond() / 1e6
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	_, off := t.Zone()
	off /= 60 // like time.Format, seconds of an offset are dropped
	if off == 0 {
		b = append(b, 'Z')
	} else {
		sign := byte('+')
		if off < 0 {
			sign, off = '-', -off
		}
		b = append(b, sign)
		b = append2(b, off/60)
		b = append(b, ':')
		b = append2(b, off%60)
	}
	return a.commit(b), nil
}

// dateText formats t's date in its zone as yyyy-mm-dd.
func dateText(t time.Time, a *arena) (string, error) {
	y, m, d := t.Date()
	if y < 1 || y > 9999 {
		return "", errYearRange
	}
	return a.commit(appendDate(a.free(10), y, int(m), d)), nil
}

func appendDate(b []byte, y, m, d int) []byte {
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	b = append2(b, m)
	b = append(b, '-')
	return append2(b, d)
}

func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10%10), byte('0'+n%10))
}

func base64Text(p []byte, a *arena) string {
	return a.commit(base64.StdEncoding.AppendEncode(a.free(base64.StdEncoding.EncodedLen(len(p))), p))
}

// convertError says a value cannot become the given type. The value is
// quoted short, so that a huge cell does not make a huge error.
func convertError(v any, to string) error {
	return fmt.Errorf("cannot convert %s to %s", describe(v), to)
}

func unsupported(v any) error {
	switch v.(type) {
	case map[string]any, []any:
		return fmt.Errorf("unsupported value of type %T (toJSON makes it text)", v)
	}
	return fmt.Errorf("unsupported value of type %T", v)
}

// maxQuoted bounds how much of a value an error message quotes.
const maxQuoted = 64

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return quoteShort(x)
	case source.Decimal:
		return quoteShort(string(x))
	case source.Date:
		return quoteShort(string(x))
	case source.TimeOfDay:
		return quoteShort(string(x))
	case source.JSON:
		return "JSON " + quoteShort(string(x))
	case []byte:
		return fmt.Sprintf("%d bytes", len(x))
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case *big.Int:
		if x == nil {
			return "nil *big.Int"
		}
	}
	return fmt.Sprintf("%s (%T)", short(fmt.Sprint(v)), v)
}

func quoteShort(s string) string {
	return strconv.Quote(short(s))
}

// short cuts s to maxQuoted bytes.
func short(s string) string { return cut(s, maxQuoted) }

// cut shortens s to at most n bytes on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
