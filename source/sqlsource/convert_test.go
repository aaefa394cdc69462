package sqlsource

import (
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/source"
)

func TestParseType(t *testing.T) {
	cases := []struct {
		in   string
		want typeInfo
	}{
		{"INTEGER", typeInfo{kind: kindInt}},
		{"decimal(10, 2)", typeInfo{kind: kindDecimal, scale: 2, hasScale: true}},
		{"NUMERIC(12)", typeInfo{kind: kindDecimal, hasScale: true}},
		{"NUMERIC", typeInfo{kind: kindDecimal}},
		{"NUMERIC(x,y)", typeInfo{kind: kindDecimal}},
		{"NUMERIC(x)", typeInfo{kind: kindDecimal}},
		{"double  precision", typeInfo{kind: kindFloat}},
		{"TIMESTAMP WITH TIME ZONE", typeInfo{kind: kindTimestamp}},
		{"VARCHAR(20)", typeInfo{kind: kindText}},
		{"UNSIGNED INT8", typeInfo{kind: kindInt}},
		{"VARYING CHARACTER(9)", typeInfo{kind: kindText}},
		{"MYCLOB", typeInfo{kind: kindText}},
		{"MYTEXT", typeInfo{kind: kindText}},
		{"SMALLBLOB", typeInfo{kind: kindBinary}},
		{"MYREAL", typeInfo{kind: kindFloat}},
		{"FLOATY", typeInfo{kind: kindFloat}},
		{"DOUBLE-ISH", typeInfo{kind: kindFloat}},
		{"GEOMETRY", typeInfo{kind: kindAuto}},
		{"", typeInfo{kind: kindAuto}},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, parseType(c.in), c.in)
	}
}

func TestCanonicalDecimal(t *testing.T) {
	ok := map[string]string{
		"12.50":     "12.50",
		"+12.5":     "12.5",
		"-000.50":   "-0.50",
		"-0.0":      "0.0",
		"-0":        "0",
		".5":        "0.5",
		"5.":        "5",
		"1.5E+3":    "1500",
		"1.5e-3":    "0.0015",
		"-12345e-2": "-123.45",
		"  7 ":      "7",
		"0001":      "1",
		"1e0":       "1",
		"123456789012345678901234567890.123456789": "123456789012345678901234567890.123456789",
	}
	for in, want := range ok {
		got, err := CanonicalDecimal(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-", ".", "abc", "1.2.3", "1e", "1e5000", "1e-5000", "12a", "1,5"} {
		_, err := CanonicalDecimal(in)
		assert.Error(t, err, in)
	}
}

func conv(t *testing.T, c Converter, v any) any {
	t.Helper()
	out, err := c(v)
	require.NoError(t, err, "%T %v", v, v)
	return out
}

func TestConverters(t *testing.T) {
	huge, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	ts := time.Date(2024, 5, 1, 10, 0, 0, 5, time.FixedZone("", 3600))

	// integers
	assert.Equal(t, int64(5), conv(t, toInt, int32(5)))
	assert.Equal(t, int64(5), conv(t, toInt, uint8(5)))
	assert.Equal(t, int64(5), conv(t, toInt, 5.0))
	assert.Equal(t, int64(-5), conv(t, toInt, []byte(" -5 ")))
	assert.Equal(t, huge, conv(t, toInt, "123456789012345678901234567890"))
	assert.Equal(t, huge, conv(t, toInt, huge))
	assert.Equal(t, int64(3), conv(t, toInt, big.NewInt(3)))
	assert.Equal(t, new(big.Int).SetUint64(math.MaxUint64), conv(t, toInt, uint64(math.MaxUint64)))
	assert.Equal(t, int64(7), conv(t, toInt, uint(7)))
	for _, v := range []any{int(1), int16(1), int8(1), uint16(1), uint32(1)} {
		assert.Equal(t, int64(1), conv(t, toInt, v))
	}

	// decimals: exact from text, shortest text from floats, padded to scale
	dec2 := converterFor(typeInfo{kind: kindDecimal, scale: 2, hasScale: true})
	assert.Equal(t, source.Decimal("12.50"), conv(t, dec2, 12.5))
	assert.Equal(t, source.Decimal("12.00"), conv(t, dec2, int64(12)))
	assert.Equal(t, source.Decimal("12.345"), conv(t, dec2, "12.345"), "digits beyond the scale are kept")
	assert.Equal(t, source.Decimal("0.10"), conv(t, dec2, []byte("0.1")))
	assert.Equal(t, source.Decimal("0.25"), conv(t, dec2, big.NewRat(1, 4)))
	assert.Equal(t, source.Decimal("1.50"), conv(t, dec2, float32(1.5)))
	assert.Equal(t, source.Decimal("123456789012345678901234567890.00"), conv(t, dec2, huge))
	decAny := converterFor(typeInfo{kind: kindDecimal})
	assert.Equal(t, source.Decimal("0.1"), conv(t, decAny, 0.1))
	whole := converterFor(typeInfo{kind: kindDecimal, hasScale: true})
	assert.Equal(t, int64(7), conv(t, whole, "7"))
	assert.Equal(t, huge, conv(t, whole, []byte("123456789012345678901234567890")))
	assert.Equal(t, source.Decimal("7.5"), conv(t, whole, 7.5), "a fraction in a scale-0 column is kept exactly")

	// floats, booleans
	assert.Equal(t, 1.5, conv(t, toFloat, float32(1.5)))
	assert.Equal(t, 2.0, conv(t, toFloat, int64(2)))
	assert.Equal(t, 2.5, conv(t, toFloat, "2.5"))
	assert.Equal(t, true, conv(t, toBool, true))
	assert.Equal(t, true, conv(t, toBool, int64(1)))
	assert.Equal(t, false, conv(t, toBool, int64(0)))
	assert.Equal(t, true, conv(t, toBool, "TRUE"))
	assert.Equal(t, false, conv(t, toBool, []byte("f")))

	// dates, times, timestamps
	assert.Equal(t, source.Date("2024-05-01"), conv(t, toDate, ts))
	assert.Equal(t, source.Date("2024-05-01"), conv(t, toDate, "2024-05-01"))
	assert.Equal(t, source.Date("2024-05-01"), conv(t, toDate, "2024-05-01 23:00:00"))
	assert.Equal(t, source.TimeOfDay("10:00:00.000000005"), conv(t, toTimeOfDay, ts))
	assert.Equal(t, source.TimeOfDay("08:05:00"), conv(t, toTimeOfDay, []byte("08:05:00.000")))
	assert.Equal(t, ts, conv(t, toTimestamp, ts))
	for in, want := range map[string]time.Time{
		"2024-05-01T10:00:00Z":          time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		"2024-05-01 10:00:00.5":         time.Date(2024, 5, 1, 10, 0, 0, 5e8, time.UTC),
		"2024-05-01 10:00:00+02:00":     time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC),
		"2024-05-01 10:00:00 +02:00":    time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC),
		"2024-05-01 10:00:00-07":        time.Date(2024, 5, 1, 17, 0, 0, 0, time.UTC),
		"2024-05-01T10:00:00.123456789": time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC),
		"2024-05-01":                    time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
	} {
		got, ok := conv(t, toTimestamp, in).(time.Time)
		require.True(t, ok, in)
		assert.True(t, want.Equal(got), "%s: %v", in, got)
	}

	// JSON, binary, text
	assert.Equal(t, source.JSON(`[1]`), conv(t, toJSON, []byte(`[1]`)))
	assert.Equal(t, source.JSON(`{"a":1}`), conv(t, toJSON, map[string]any{"a": 1}))
	assert.Equal(t, source.JSON(`[1]`), conv(t, toJSON, []any{1}))
	assert.Equal(t, []byte("ab"), conv(t, toBinary, "ab"))
	assert.Equal(t, "ab", conv(t, toText, []byte("ab")))
	assert.Equal(t, "1.5", conv(t, toText, 1.5))
	assert.Equal(t, "true", conv(t, toText, true))
	assert.Equal(t, "7", conv(t, toText, int64(7)))
	assert.Equal(t, "2024-05-01T10:00:00.000000005+01:00", conv(t, toText, ts))

	// auto keeps source types and widens Go's others
	for _, v := range []any{"s", int64(1), 1.5, true, ts, []byte("b"), source.Decimal("1"), source.Date("2024-05-01"),
		source.TimeOfDay("10:00:00"), source.JSON("{}")} {
		assert.Equal(t, v, conv(t, toAuto, v))
	}
	assert.Equal(t, int64(4), conv(t, toAuto, big.NewInt(4)))
	assert.Equal(t, 0.5, conv(t, toAuto, float32(0.5)))
	assert.Equal(t, int64(3), conv(t, toAuto, int16(3)))
}

func TestConverterErrors(t *testing.T) {
	dec := converterFor(typeInfo{kind: kindDecimal, scale: 2, hasScale: true})
	whole := converterFor(typeInfo{kind: kindDecimal, hasScale: true})
	cases := []struct {
		name string
		c    Converter
		v    any
		msg  string
	}{
		{"int fraction", toInt, 1.5, "1.5 is not an integer"},
		{"int inf", toInt, math.Inf(1), "is not an integer"},
		{"int text", toInt, "x1", `"x1" is not an integer`},
		{"int type", toInt, true, "cannot read bool as an integer"},
		{"decimal nan", dec, math.NaN(), "NaN is not a decimal"},
		{"decimal text", dec, "1,5", `"1,5" is not a decimal number`},
		{"decimal type", dec, true, "cannot read bool as a decimal"},
		{"whole decimal text", whole, "x", `"x" is not a decimal number`},
		{"float text", toFloat, "x", `"x" is not a number`},
		{"float type", toFloat, true, "cannot read bool as a float"},
		{"float wide int", toFloat, uint64(math.MaxUint64), "cannot read uint64 as a float"},
		{"bool int", toBool, int64(2), "2 is not a boolean"},
		{"bool text", toBool, "maybe", `"maybe" is not a boolean`},
		{"bool type", toBool, 1.0, "cannot read float64 as a boolean"},
		{"date text", toDate, "May 1st", `"May 1st" is not a date`},
		{"date type", toDate, int64(1), "cannot read int64 as a date"},
		{"time text", toTimeOfDay, "noon", `"noon" is not a time of day`},
		{"time type", toTimeOfDay, int64(1), "cannot read int64 as a time of day"},
		{"timestamp text", toTimestamp, "yesterday", `"yesterday" is not a timestamp`},
		{"timestamp type", toTimestamp, int64(1), "cannot read int64 as a timestamp"},
		{"json invalid", toJSON, "{", "not valid JSON"},
		{"json marshal", toJSON, map[string]any{"f": func() {}}, "unsupported type"},
		{"json type", toJSON, int64(1), "cannot read int64 as JSON"},
		{"binary type", toBinary, int64(1), "cannot read int64 as binary"},
		{"text type", toText, struct{}{}, "cannot read struct {} as text"},
		{"auto type", toAuto, struct{}{}, "unsupported value type struct {}"},
	}
	for _, c := range cases {
		_, err := c.c(c.v)
		if assert.Error(t, err, c.name) {
			assert.Contains(t, err.Error(), c.msg, c.name)
		}
	}
}
