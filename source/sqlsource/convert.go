package sqlsource

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/retl-go/retl/source"
)

type kind uint8

const (
	kindAuto kind = iota
	kindInt
	kindDecimal
	kindFloat
	kindBool
	kindDate
	kindTime
	kindTimestamp
	kindJSON
	kindBinary
	kindText
)

// kinds maps the base type names drivers report (upper case, without
// length or precision) to how their values are normalised.
var kinds = map[string]kind{}

func init() {
	add := func(k kind, names ...string) {
		for _, n := range names {
			kinds[n] = k
		}
	}
	add(kindInt, "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "MEDIUMINT", "INT2", "INT4", "INT8",
		"SERIAL", "BIGSERIAL", "SMALLSERIAL", "BYTEINT", "HUGEINT", "UNSIGNED BIG INT", "UBIGINT", "UINTEGER")
	add(kindDecimal, "DECIMAL", "NUMERIC", "NUMBER", "DEC", "FIXED")
	add(kindFloat, "REAL", "FLOAT", "DOUBLE", "DOUBLE PRECISION", "FLOAT4", "FLOAT8")
	add(kindBool, "BOOL", "BOOLEAN")
	add(kindDate, "DATE")
	add(kindTime, "TIME", "TIME WITHOUT TIME ZONE")
	add(kindTimestamp, "DATETIME", "DATETIME2", "SMALLDATETIME", "DATETIMEOFFSET", "TIMESTAMP", "TIMESTAMPTZ",
		"TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ")
	add(kindJSON, "JSON", "JSONB", "VARIANT", "OBJECT", "ARRAY")
	add(kindBinary, "BLOB", "BYTEA", "BINARY", "VARBINARY", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "IMAGE")
	add(kindText, "CHAR", "VARCHAR", "TEXT", "STRING", "CLOB", "NCHAR", "NVARCHAR", "CHARACTER",
		"CHARACTER VARYING", "VARCHAR2", "NVARCHAR2", "UUID", "TINYTEXT", "MEDIUMTEXT", "LONGTEXT", "CITEXT", "NTEXT")
}

// typeInfo is what a column's declared type says: its kind and, for
// decimals, the scale when known.
type typeInfo struct {
	kind     kind
	scale    int
	hasScale bool
}

// parseType reads a type name such as "DECIMAL(10,2)" or "character varying".
func parseType(name string) typeInfo {
	name = strings.ToUpper(strings.TrimSpace(name))
	base, args, _ := strings.Cut(name, "(")
	base = strings.Join(strings.Fields(base), " ")
	ti := typeInfo{kind: kinds[base]}
	if ti.kind == kindAuto && base != "" {
		ti.kind = affinity(base)
	}
	if ti.kind == kindDecimal && args != "" {
		args = strings.TrimSuffix(strings.TrimSpace(args), ")")
		if _, s, ok := strings.Cut(args, ","); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 0 {
				ti.scale, ti.hasScale = n, true
			}
		} else if _, err := strconv.Atoi(strings.TrimSpace(args)); err == nil {
			// DECIMAL(p) has scale 0.
			ti.hasScale = true
		}
	}
	return ti
}

// affinity applies SQLite's rules for type names it does not know, so
// declarations like "UNSIGNED INT8" or "VARYING CHARACTER" still classify.
func affinity(base string) kind {
	switch {
	case strings.Contains(base, "INT"):
		return kindInt
	case strings.Contains(base, "CHAR"), strings.Contains(base, "CLOB"), strings.Contains(base, "TEXT"):
		return kindText
	case strings.Contains(base, "BLOB"):
		return kindBinary
	case strings.Contains(base, "REAL"), strings.Contains(base, "FLOA"), strings.Contains(base, "DOUB"):
		return kindFloat
	}
	return kindAuto
}

// DefaultConverter returns the converter for a column from the type name
// its driver reports (and its DecimalSize, when the name has no scale).
func DefaultConverter(col *sql.ColumnType) Converter {
	ti := parseType(col.DatabaseTypeName())
	if ti.kind == kindDecimal && !ti.hasScale {
		if _, s, ok := col.DecimalSize(); ok && s >= 0 && s < math.MaxInt32 {
			ti.scale, ti.hasScale = int(s), true
		}
	}
	return converterFor(ti)
}

func converterFor(ti typeInfo) Converter {
	switch ti.kind {
	case kindInt:
		return toInt
	case kindDecimal:
		if ti.hasScale && ti.scale == 0 {
			return toWholeDecimal
		}
		scale := ti.scale
		return func(v any) (any, error) { return toDecimal(v, scale) }
	case kindFloat:
		return toFloat
	case kindBool:
		return toBool
	case kindDate:
		return toDate
	case kindTime:
		return toTimeOfDay
	case kindTimestamp:
		return toTimestamp
	case kindJSON:
		return toJSON
	case kindBinary:
		return toBinary
	case kindText:
		return toText
	}
	return toAuto
}

// toAuto keeps the driver's value when it is already a source type, for
// columns whose type name says nothing (such as SQLite expressions).
func toAuto(v any) (any, error) {
	switch x := v.(type) {
	case string, int64, float64, bool, time.Time, []byte,
		source.Decimal, source.Date, source.TimeOfDay, source.JSON:
		return v, nil
	case *big.Int:
		return normBigInt(x), nil
	case float32:
		return float64(x), nil
	}
	if i, ok := asInt(v); ok {
		return i, nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

// asInt converts Go's integer types; uint64 beyond int64 becomes *big.Int.
func asInt(v any) (any, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		return normBigInt(new(big.Int).SetUint64(uint64(x))), true
	case uint64:
		return normBigInt(new(big.Int).SetUint64(x)), true
	}
	return nil, false
}

// normBigInt returns int64 when the value fits, else the *big.Int.
func normBigInt(b *big.Int) any {
	if b.IsInt64() {
		return b.Int64()
	}
	return b
}

// text returns the value of a textual driver value.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

func toInt(v any) (any, error) {
	if i, ok := asInt(v); ok {
		return i, nil
	}
	switch x := v.(type) {
	case *big.Int:
		return normBigInt(x), nil
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) || x < math.MinInt64 || x >= math.MaxInt64 {
			return nil, fmt.Errorf("%v is not an integer", x)
		}
		return int64(x), nil
	}
	if s, ok := text(v); ok {
		return parseInt(strings.TrimSpace(s))
	}
	return nil, fmt.Errorf("cannot read %T as an integer", v)
}

func parseInt(s string) (any, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, fmt.Errorf("%q is not an integer", s)
	}
	return normBigInt(b), nil
}

// toWholeDecimal reads a scale-0 decimal: an integer when the value is one,
// else the exact decimal (a loosely typed database may hold fractions).
func toWholeDecimal(v any) (any, error) {
	d, err := toDecimal(v, 0)
	if err != nil {
		return nil, err
	}
	s := string(d.(source.Decimal))
	if strings.Contains(s, ".") {
		return d, nil
	}
	return parseInt(s)
}

func toDecimal(v any, scale int) (any, error) {
	var s string
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a decimal", x)
		}
		// The shortest text that reads back as the same float: the
		// driver's float is all there is to be exact about.
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		s = strconv.FormatFloat(float64(x), 'f', -1, 32)
	case *big.Int:
		s = x.String()
	case *big.Rat:
		s = x.FloatString(scale)
	default:
		if i, ok := asInt(v); ok {
			s = fmt.Sprint(i)
			break
		}
		t, ok := text(v)
		if !ok {
			return nil, fmt.Errorf("cannot read %T as a decimal", v)
		}
		var err error
		if s, err = CanonicalDecimal(t); err != nil {
			return nil, err
		}
	}
	return source.Decimal(padScale(s, scale)), nil
}

// padScale adds trailing zeros so the text has at least scale fraction
// digits, as a fixed-scale column shows them. It never removes digits.
func padScale(s string, scale int) string {
	if scale <= 0 {
		return s
	}
	_, frac, found := strings.Cut(s, ".")
	if !found {
		return s + "." + strings.Repeat("0", scale)
	}
	if n := scale - len(frac); n > 0 {
		return s + strings.Repeat("0", n)
	}
	return s
}

// maxExponent bounds the exponent CanonicalDecimal expands, so hostile text
// cannot ask for gigabytes of zeros.
const maxExponent = 1000

// CanonicalDecimal returns the decimal text s in canonical form: no
// exponent, no leading '+', no superfluous leading zeros, '-' only for
// non-zero values, fraction digits kept as given. "1.5E+3" becomes "1500",
// "-000.50" becomes "-0.50" and "-0.0" becomes "0.0".
func CanonicalDecimal(s string) (string, error) {
	orig := s
	bad := func() (string, error) { return "", fmt.Errorf("%q is not a decimal number", orig) }
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > maxExponent || e < -maxExponent {
			return bad()
		}
		exp, s = e, s[:i]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	digits := intPart + frac
	if digits == "" {
		return bad()
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return bad()
		}
	}
	scale := len(frac) - exp
	if scale < 0 {
		digits += strings.Repeat("0", -scale)
		scale = 0
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	whole, fraction := digits[:len(digits)-scale], digits[len(digits)-scale:]
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	out := whole
	if scale > 0 {
		out += "." + fraction
	}
	if neg && strings.Trim(digits, "0") != "" {
		out = "-" + out
	}
	return out, nil
}

func toFloat(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	}
	if i, ok := asInt(v); ok {
		if n, isInt := i.(int64); isInt {
			return float64(n), nil
		}
	}
	if s, ok := text(v); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	}
	return nil, fmt.Errorf("cannot read %T as a float", v)
}

func toBool(v any) (any, error) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	if i, ok := asInt(v); ok {
		switch i {
		case int64(0):
			return false, nil
		case int64(1):
			return true, nil
		}
		return nil, fmt.Errorf("%v is not a boolean", i)
	}
	if s, ok := text(v); ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "t", "1", "yes", "y":
			return true, nil
		case "false", "f", "0", "no", "n":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", s)
	}
	return nil, fmt.Errorf("cannot read %T as a boolean", v)
}

const (
	dateLayout = "2006-01-02"
	timeLayout = "15:04:05.999999999"
)

// timestampLayouts are tried in order for textual timestamps; a layout
// without a zone reads as UTC.
var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -07:00",
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	dateLayout,
}

func parseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
}

func toDate(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return source.Date(x.Format(dateLayout)), nil
	}
	if s, ok := text(v); ok {
		t, err := parseTimestamp(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a date", s)
		}
		return source.Date(t.Format(dateLayout)), nil
	}
	return nil, fmt.Errorf("cannot read %T as a date", v)
}

func toTimeOfDay(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return source.TimeOfDay(x.Format(timeLayout)), nil
	}
	if s, ok := text(v); ok {
		// Parsing accepts a fraction after the seconds even though the
		// layout has none.
		t, err := time.Parse("15:04:05", strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a time of day", s)
		}
		return source.TimeOfDay(t.Format(timeLayout)), nil
	}
	return nil, fmt.Errorf("cannot read %T as a time of day", v)
}

func toTimestamp(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	}
	if s, ok := text(v); ok {
		return parseTimestamp(s)
	}
	return nil, fmt.Errorf("cannot read %T as a timestamp", v)
}

func toJSON(v any) (any, error) {
	if s, ok := text(v); ok {
		if !json.Valid([]byte(s)) {
			return nil, fmt.Errorf("value is not valid JSON")
		}
		return source.JSON(s), nil
	}
	switch v.(type) {
	case map[string]any, []any:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return source.JSON(b), nil
	}
	return nil, fmt.Errorf("cannot read %T as JSON", v)
}

func toBinary(v any) (any, error) {
	switch x := v.(type) {
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	}
	return nil, fmt.Errorf("cannot read %T as binary", v)
}

func toText(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	}
	if i, ok := asInt(v); ok {
		return fmt.Sprint(i), nil
	}
	return nil, fmt.Errorf("cannot read %T as text", v)
}
