package transform

import (
	"encoding/base64"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
)

func bigInt(t *testing.T, s string) *big.Int {
	t.Helper()
	b, ok := new(big.Int).SetString(s, 10)
	require.True(t, ok)
	return b
}

func num(s string) sink.Value  { return sink.NumberValue(s) }
func text(s string) sink.Value { return sink.TextValue(s) }
func date(s string) sink.Value { return sink.Value{Kind: sink.Date, S: s} }
func dt(s string) sink.Value   { return sink.Value{Kind: sink.DateTime, S: s} }

var (
	yes = sink.BoolValue(true)
	no  = sink.BoolValue(false)
)

func TestNormalize(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	minus530 := time.FixedZone("", -(5*3600 + 30*60))
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	ts := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
	huge := bigInt(t, "123456789012345678901234567890")

	tests := []struct {
		name   string
		typ    config.FieldType
		format string
		loc    *time.Location
		in     any
		want   sink.Value
		err    string
	}{
		// By the Go type of the value.
		{name: "auto string", in: "Acme", want: text("Acme")},
		{name: "auto empty string", in: "", want: text("")},
		{name: "auto int64", in: int64(-42), want: num("-42")},
		{name: "auto int64 min", in: int64(math.MinInt64), want: num("-9223372036854775808")},
		{name: "auto big.Int", in: huge, want: num("123456789012345678901234567890")},
		{name: "auto nil big.Int", in: (*big.Int)(nil), err: "cannot convert nil *big.Int to number"},
		{name: "auto decimal keeps digits", in: source.Decimal("12.50"), want: num("12.50")},
		{name: "auto decimal canonicalised", in: source.Decimal("+0012.50"), want: num("12.50")},
		{name: "auto decimal not a number", in: source.Decimal("12,5"), err: `cannot convert "12,5" to number`},
		{name: "auto float64", in: 1.5, want: num("1.5")},
		{name: "auto float64 shortest", in: 0.1, want: num("0.1")},
		{name: "auto float64 large without exponent", in: 1e21, want: num("1000000000000000000000")},
		{name: "auto float64 small without exponent", in: 1.5e-7, want: num("0.00000015")},
		{name: "auto float64 negative zero", in: math.Copysign(0, -1), want: num("0")},
		{name: "auto float64 NaN", in: math.NaN(), err: "cannot convert NaN to number"},
		{name: "auto float64 Inf", in: math.Inf(-1), err: "cannot convert -Inf to number"},
		{name: "auto float32", in: float32(0.1), want: num("0.1")},
		{name: "auto float32 NaN", in: float32(math.NaN()), err: "cannot convert NaN to number"},
		{name: "auto bool", in: true, want: yes},
		{name: "auto time UTC", in: ts, want: dt("2024-05-01T10:00:00.123Z")},
		{name: "auto time with zone", in: ts.In(plus2), want: dt("2024-05-01T12:00:00.123+02:00")},
		{name: "auto time negative zone", in: ts.In(minus530), want: dt("2024-05-01T04:30:00.123-05:30")},
		{name: "auto time named zone", in: ts.In(ny), want: dt("2024-05-01T06:00:00.123-04:00")},
		{name: "auto time year 0", in: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), err: "year out of range 1-9999"},
		{name: "auto time year 10000", in: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), err: "year out of range 1-9999"},
		{name: "auto date", in: source.Date("2024-02-29"), want: date("2024-02-29")},
		{name: "auto date not in calendar", in: source.Date("2023-02-29"), err: `cannot convert "2023-02-29" to date`},
		{name: "auto time of day", in: source.TimeOfDay("12:34:56"), want: text("12:34:56.000Z")},
		{name: "auto time of day nanos", in: source.TimeOfDay("12:34:56.789123456"), want: text("12:34:56.789Z")},
		{name: "auto time of day short fraction", in: source.TimeOfDay("23:59:59.7"), want: text("23:59:59.700Z")},
		{name: "auto time of day hour 24", in: source.TimeOfDay("24:00:00"), err: `cannot convert "24:00:00" to time`},
		{name: "auto time of day no seconds", in: source.TimeOfDay("12:34"), err: `cannot convert "12:34" to time`},
		{name: "auto time of day empty fraction", in: source.TimeOfDay("12:34:56."), err: `cannot convert "12:34:56." to time`},
		{name: "auto time of day junk", in: source.TimeOfDay("12:34:56x"), err: `cannot convert "12:34:56x" to time`},
		{name: "auto time of day bad fraction", in: source.TimeOfDay("12:34:56.7a"), err: `cannot convert "12:34:56.7a" to time`},
		{name: "auto time of day long fraction", in: source.TimeOfDay("12:34:56.0123456789"), err: `cannot convert "12:34:56.0123456789" to time`},
		{name: "auto JSON", in: source.JSON(`{"a":1}`), want: text(`{"a":1}`)},
		{name: "auto bytes", in: []byte("abc"), want: text("YWJj")},
		{name: "auto int", in: 7, want: num("7")},
		{name: "auto int8", in: int8(-8), want: num("-8")},
		{name: "auto int16", in: int16(16), want: num("16")},
		{name: "auto int32", in: int32(-32), want: num("-32")},
		{name: "auto uint", in: uint(1), want: num("1")},
		{name: "auto uint8", in: uint8(255), want: num("255")},
		{name: "auto uint16", in: uint16(16), want: num("16")},
		{name: "auto uint32", in: uint32(32), want: num("32")},
		{name: "auto uint64", in: uint64(math.MaxUint64), want: num("18446744073709551615")},
		{name: "auto map", in: map[string]any{"a": 1}, err: "unsupported value of type map[string]interface {} (toJSON makes it text)"},
		{name: "auto duration", in: time.Second, err: "unsupported value of type time.Duration"},

		// type: string
		{name: "string of int64", typ: config.TypeString, in: int64(42), want: text("42")},
		{name: "string of decimal", typ: config.TypeString, in: source.Decimal("007.50"), want: text("7.50")},
		{name: "string of odd decimal", typ: config.TypeString, in: source.Decimal("n/a"), want: text("n/a")},
		{name: "string of float", typ: config.TypeString, in: 2.5, want: text("2.5")},
		{name: "string of NaN", typ: config.TypeString, in: math.NaN(), want: text("NaN")},
		{name: "string of negative zero", typ: config.TypeString, in: math.Copysign(0, -1), want: text("0")},
		{name: "string of float32 Inf", typ: config.TypeString, in: float32(math.Inf(1)), want: text("+Inf")},
		{name: "string of float32", typ: config.TypeString, in: float32(0.25), want: text("0.25")},
		{name: "string of bool", typ: config.TypeString, in: false, want: text("false")},
		{name: "string of time", typ: config.TypeString, in: ts, want: text("2024-05-01T10:00:00.123Z")},
		{name: "string of date", typ: config.TypeString, in: source.Date("2024-05-01"), want: text("2024-05-01")},
		{name: "string of time of day", typ: config.TypeString, in: source.TimeOfDay("10:00:00.5"), want: text("10:00:00.5")},
		{name: "string of JSON", typ: config.TypeString, in: source.JSON(`[1]`), want: text("[1]")},
		{name: "string of bytes", typ: config.TypeString, in: []byte{0xff}, want: text("/w==")},
		{name: "string of big.Int", typ: config.TypeString, in: huge, want: text("123456789012345678901234567890")},
		{name: "string of slice", typ: config.TypeString, in: []any{1}, err: "unsupported value of type []interface {} (toJSON makes it text)"},

		// type: number
		{name: "number of text", typ: config.TypeNumber, in: " 12.50 ", want: num("12.50")},
		{name: "number of text plus", typ: config.TypeNumber, in: "+.5", want: num("0.5")},
		{name: "number of text trailing dot", typ: config.TypeNumber, in: "12.", want: num("12")},
		{name: "number of text leading zeros", typ: config.TypeNumber, in: "-007.10", want: num("-7.10")},
		{name: "number of text negative zero", typ: config.TypeNumber, in: "-0.00", want: num("0.00")},
		{name: "number of text long", typ: config.TypeNumber, in: "12345678901234567890.123456789012345678", want: num("12345678901234567890.123456789012345678")},
		{name: "number of word", typ: config.TypeNumber, in: "abc", err: `cannot convert "abc" to number`},
		{name: "number of empty", typ: config.TypeNumber, in: "", err: `cannot convert "" to number`},
		{name: "number of dot", typ: config.TypeNumber, in: ".", err: `cannot convert "." to number`},
		{name: "number of sign", typ: config.TypeNumber, in: "-", err: `cannot convert "-" to number`},
		{name: "number of exponent", typ: config.TypeNumber, in: "1e3", err: `cannot convert "1e3" to number`},
		{name: "number of two dots", typ: config.TypeNumber, in: "1.2.3", err: `cannot convert "1.2.3" to number`},
		{name: "number of int64", typ: config.TypeNumber, in: int64(5), want: num("5")},
		{name: "number of decimal", typ: config.TypeNumber, in: source.Decimal("-1.25"), want: num("-1.25")},
		{name: "number of float", typ: config.TypeNumber, in: 3.75, want: num("3.75")},
		{name: "number of Inf", typ: config.TypeNumber, in: math.Inf(1), err: "cannot convert +Inf to number"},
		{name: "number of bool", typ: config.TypeNumber, in: true, err: "cannot convert true (bool) to number"},
		{name: "number of time", typ: config.TypeNumber, in: ts, err: "cannot convert 2024-05-01T10:00:00.123456789Z to number"},

		// type: integer
		{name: "integer of text", typ: config.TypeInteger, in: "12", want: num("12")},
		{name: "integer of whole text", typ: config.TypeInteger, in: " 12.00 ", want: num("12")},
		{name: "integer of fractional text", typ: config.TypeInteger, in: "12.5", err: `cannot convert "12.5" to integer`},
		{name: "integer of word", typ: config.TypeInteger, in: "twelve", err: `cannot convert "twelve" to integer`},
		{name: "integer of decimal", typ: config.TypeInteger, in: source.Decimal("-3.000"), want: num("-3")},
		{name: "integer of negative zero decimal", typ: config.TypeInteger, in: source.Decimal("-0.0"), want: num("0")},
		{name: "integer of fractional decimal", typ: config.TypeInteger, in: source.Decimal("2.50"), err: `cannot convert "2.50" to integer`},
		{name: "integer of whole float", typ: config.TypeInteger, in: 12.0, want: num("12")},
		{name: "integer of fractional float", typ: config.TypeInteger, in: 12.5, err: "cannot convert 12.5 (float64) to integer"},
		{name: "integer of Inf", typ: config.TypeInteger, in: math.Inf(1), err: "cannot convert +Inf (float64) to integer"},
		{name: "integer of NaN", typ: config.TypeInteger, in: math.NaN(), err: "cannot convert NaN (float64) to integer"},
		{name: "integer of whole float32", typ: config.TypeInteger, in: float32(2), want: num("2")},
		{name: "integer of fractional float32", typ: config.TypeInteger, in: float32(2.5), err: "cannot convert 2.5 (float32) to integer"},
		{name: "integer of int64", typ: config.TypeInteger, in: int64(-9), want: num("-9")},
		{name: "integer of big.Int", typ: config.TypeInteger, in: huge, want: num("123456789012345678901234567890")},
		{name: "integer of nil big.Int", typ: config.TypeInteger, in: (*big.Int)(nil), err: "cannot convert nil *big.Int to integer"},
		{name: "integer of bool", typ: config.TypeInteger, in: true, err: "cannot convert true (bool) to integer"},

		// type: boolean
		{name: "boolean of true", typ: config.TypeBoolean, in: true, want: yes},
		{name: "boolean of TRUE", typ: config.TypeBoolean, in: "TRUE", want: yes},
		{name: "boolean of yes", typ: config.TypeBoolean, in: " Yes ", want: yes},
		{name: "boolean of t", typ: config.TypeBoolean, in: "t", want: yes},
		{name: "boolean of Y", typ: config.TypeBoolean, in: "Y", want: yes},
		{name: "boolean of text 1", typ: config.TypeBoolean, in: "1", want: yes},
		{name: "boolean of false", typ: config.TypeBoolean, in: "false", want: no},
		{name: "boolean of NO", typ: config.TypeBoolean, in: "NO", want: no},
		{name: "boolean of F", typ: config.TypeBoolean, in: "F", want: no},
		{name: "boolean of n", typ: config.TypeBoolean, in: "n", want: no},
		{name: "boolean of text 0", typ: config.TypeBoolean, in: "0", want: no},
		{name: "boolean of maybe", typ: config.TypeBoolean, in: "maybe", err: `cannot convert "maybe" to boolean`},
		{name: "boolean of int64 1", typ: config.TypeBoolean, in: int64(1), want: yes},
		{name: "boolean of int64 0", typ: config.TypeBoolean, in: int64(0), want: no},
		{name: "boolean of int64 2", typ: config.TypeBoolean, in: int64(2), err: "cannot convert 2 (int64) to boolean"},
		{name: "boolean of float 1", typ: config.TypeBoolean, in: 1.0, want: yes},
		{name: "boolean of float 0", typ: config.TypeBoolean, in: 0.0, want: no},
		{name: "boolean of float half", typ: config.TypeBoolean, in: 0.5, err: "cannot convert 0.5 (float64) to boolean"},
		{name: "boolean of float32", typ: config.TypeBoolean, in: float32(1), want: yes},
		{name: "boolean of decimal 1.00", typ: config.TypeBoolean, in: source.Decimal("1.00"), want: yes},
		{name: "boolean of decimal 0", typ: config.TypeBoolean, in: source.Decimal("-0"), want: no},
		{name: "boolean of decimal 2", typ: config.TypeBoolean, in: source.Decimal("2"), err: `cannot convert "2" to boolean`},
		{name: "boolean of decimal 0.5", typ: config.TypeBoolean, in: source.Decimal("0.5"), err: `cannot convert "0.5" to boolean`},
		{name: "boolean of big.Int 1", typ: config.TypeBoolean, in: big.NewInt(1), want: yes},
		{name: "boolean of huge big.Int", typ: config.TypeBoolean, in: huge, err: "cannot convert 123456789012345678901234567890 (*big.Int) to boolean"},
		{name: "boolean of int", typ: config.TypeBoolean, in: 0, want: no},
		{name: "boolean of int8", typ: config.TypeBoolean, in: int8(1), want: yes},
		{name: "boolean of int16", typ: config.TypeBoolean, in: int16(1), want: yes},
		{name: "boolean of int32", typ: config.TypeBoolean, in: int32(0), want: no},
		{name: "boolean of uint", typ: config.TypeBoolean, in: uint(1), want: yes},
		{name: "boolean of uint8", typ: config.TypeBoolean, in: uint8(0), want: no},
		{name: "boolean of uint16", typ: config.TypeBoolean, in: uint16(1), want: yes},
		{name: "boolean of uint32", typ: config.TypeBoolean, in: uint32(1), want: yes},
		{name: "boolean of uint64 1", typ: config.TypeBoolean, in: uint64(1), want: yes},
		{name: "boolean of uint64 wrapping", typ: config.TypeBoolean, in: uint64(1<<64 - 1), err: "cannot convert 18446744073709551615 (uint64) to boolean"},
		{name: "boolean of time", typ: config.TypeBoolean, in: ts, err: "cannot convert 2024-05-01T10:00:00.123456789Z to boolean"},

		// type: date
		{name: "date of time in its zone", typ: config.TypeDate, in: time.Date(2024, 5, 1, 23, 30, 0, 0, ny), want: date("2024-05-01")},
		{name: "date of time year 0", typ: config.TypeDate, in: time.Date(0, 5, 1, 0, 0, 0, 0, time.UTC), err: "year out of range 1-9999"},
		{name: "date of date", typ: config.TypeDate, in: source.Date("2024-05-01"), want: date("2024-05-01")},
		{name: "date of bad date", typ: config.TypeDate, in: source.Date("2024-13-01"), err: `cannot convert "2024-13-01" to date`},
		{name: "date of text", typ: config.TypeDate, in: " 2024-05-01 ", want: date("2024-05-01")},
		{name: "date of unpadded text", typ: config.TypeDate, in: "2024-5-1", err: `cannot convert "2024-5-1" to date`},
		{name: "date of text day 0", typ: config.TypeDate, in: "2024-05-00", err: `cannot convert "2024-05-00" to date`},
		{name: "date of text year 0", typ: config.TypeDate, in: "0000-05-01", err: `cannot convert "0000-05-01" to date`},
		{name: "date of text with letters", typ: config.TypeDate, in: "2024-0x-01", err: `cannot convert "2024-0x-01" to date`},
		{name: "date of text with format", typ: config.TypeDate, format: "02/01/2006", in: "31/12/2024", want: date("2024-12-31")},
		{name: "date of text not in format", typ: config.TypeDate, format: "02/01/2006", in: "2024-12-31", err: `cannot convert "2024-12-31" to date`},
		{name: "date of text with format year 0", typ: config.TypeDate, format: "2006 01 02", in: "0000 01 02", err: "year out of range 1-9999"},
		{name: "date of int", typ: config.TypeDate, in: int64(20240501), err: "cannot convert 20240501 (int64) to date"},

		// type: datetime
		{name: "datetime of time", typ: config.TypeDateTime, in: ts.In(plus2), want: dt("2024-05-01T12:00:00.123+02:00")},
		{name: "datetime of date", typ: config.TypeDateTime, in: source.Date("2024-05-01"), want: dt("2024-05-01T00:00:00.000Z")},
		{name: "datetime of bad date", typ: config.TypeDateTime, in: source.Date("01/05/2024"), err: `cannot convert "01/05/2024" to datetime`},
		{name: "datetime of RFC 3339", typ: config.TypeDateTime, in: "2024-05-01T10:00:00+02:00", want: dt("2024-05-01T10:00:00.000+02:00")},
		{name: "datetime of RFC 3339 nanos", typ: config.TypeDateTime, in: "2024-05-01T10:00:00.98765Z", want: dt("2024-05-01T10:00:00.987Z")},
		{name: "datetime of text with format", typ: config.TypeDateTime, format: "2006-01-02 15:04", in: "2024-05-01 10:30", want: dt("2024-05-01T10:30:00.000Z")},
		{name: "datetime of text with format in a zone", typ: config.TypeDateTime, format: "2006-01-02 15:04", loc: ny, in: "2024-05-01 10:30", want: dt("2024-05-01T10:30:00.000-04:00")},
		{name: "datetime of text not in format", typ: config.TypeDateTime, format: "2006-01-02 15:04", in: "yesterday", err: `cannot convert "yesterday" to datetime`},
		{name: "datetime of text not RFC 3339", typ: config.TypeDateTime, in: "2024-05-01 10:00", err: `cannot convert "2024-05-01 10:00" to datetime`},
		{name: "datetime of bool", typ: config.TypeDateTime, in: true, err: "cannot convert true (bool) to datetime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := tt.loc
			if loc == nil {
				loc = time.UTC
			}
			c := conv{typ: tt.typ, format: tt.format, loc: loc}
			var a arena
			got, err := c.normalize(tt.in, &a)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestConvertErrorQuotesShort(t *testing.T) {
	long := "x" + strings.Repeat("é", 500) // two bytes a rune: the cut must fall between runes
	_, err := toNumber(long, &arena{})
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 120)
	assert.Contains(t, err.Error(), "…")
	assert.NotContains(t, err.Error(), `\x`, "a rune was split")

	_, err = toNumber(strings.Repeat("x", 1000), &arena{})
	assert.Equal(t, `cannot convert "`+strings.Repeat("x", maxQuoted)+`…" to number`, err.Error())

	_, err = auto(source.JSON("{"), &arena{})
	assert.NoError(t, err)
	_, err = toNumber(source.JSON(`{"a":1}`), &arena{})
	assert.EqualError(t, err, `cannot convert JSON "{\"a\":1}" to number`)
	_, err = toNumber([]byte("abc"), &arena{})
	assert.EqualError(t, err, "cannot convert 3 bytes to number")
	_, err = toDate(source.TimeOfDay("10:00:00"))
	assert.EqualError(t, err, `cannot convert "10:00:00" to date`)
}

func toDate(v any) (sink.Value, error) {
	c := conv{typ: config.TypeDate, loc: time.UTC}
	return c.normalize(v, &arena{})
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in    string
		want  string
		whole bool
		ok    bool
	}{
		{"0", "0", true, true},
		{"42", "42", true, true},
		{"-12.50", "-12.50", false, true},
		{"12.00", "12.00", true, true},
		{"+1", "1", true, true},
		{"-0", "0", true, true},
		{"000", "0", true, true},
		{".5", "0.5", false, true},
		{"-.5", "-0.5", false, true},
		{"5.", "5", true, true},
		{"", "", false, false},
		{"+", "", false, false},
		{".", "", false, false},
		{"1e5", "", false, false},
		{" 1", "", false, false},
		{"1_000", "", false, false},
		{"--1", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, ok := parseDecimal(tt.in, &arena{})
			require.Equal(t, tt.ok, ok)
			if !ok {
				return
			}
			assert.Equal(t, tt.want, d.text)
			assert.Equal(t, tt.whole, d.whole())
		})
	}
}

func TestParseDecimalCanonicalDoesNotAllocate(t *testing.T) {
	var a arena
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := parseDecimal("-12345.678", &a); !ok {
			t.Fatal("not parsed")
		}
	})
	assert.Zero(t, allocs)
}

func TestArena(t *testing.T) {
	t.Run("strings survive later writes", func(t *testing.T) {
		var a arena
		var got []string
		for i := range 5000 { // several chunks
			got = append(got, a.commit(strconv.AppendInt(a.free(20), int64(i), 10)))
		}
		for i, s := range got {
			require.Equal(t, strconv.Itoa(i), s)
		}
	})
	t.Run("large values get their own buffer", func(t *testing.T) {
		var a arena
		small := a.commit(append(a.free(1), 'x'))
		blob := make([]byte, arenaChunk)
		for i := range blob {
			blob[i] = byte(i)
		}
		s := base64Text(blob, &a)
		assert.Equal(t, base64.StdEncoding.EncodeToString(blob), s)
		after := a.commit(append(a.free(1), 'y'))
		assert.Equal(t, "x", small)
		assert.Equal(t, "y", after)
		assert.Equal(t, 2, len(a.buf), "the chunk holds only the small values")
	})
	t.Run("an append that outgrows its room", func(t *testing.T) {
		var a arena
		b := a.free(1)
		b = append(b, strings.Repeat("z", 2*arenaChunk)...)
		s := a.commit(b)
		assert.Equal(t, strings.Repeat("z", 2*arenaChunk), s)
		assert.Empty(t, a.buf, "the chunk did not take the outgrown bytes")
		assert.Equal(t, "", a.commit(a.free(4)))
	})
}
