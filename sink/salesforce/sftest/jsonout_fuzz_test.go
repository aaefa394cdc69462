package sftest

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stdJSONString is encoding/json's encoding of s without its HTML escaping,
// which the emulator's answers do not use.
func stdJSONString(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(s))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

var jsonStringSeeds = []string{
	"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rreturn",
	"\x00\x01\x1f\x7f", "\b\f", "<a href='x'>&amp;</a>", "é ü 中文 🙂",
	"\u2028\u2029", "\xff", "a\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\ufffd",
}

// appendJSONString writes what encoding/json writes (HTML escaping off),
// but for \b and \f, which encoding/json abbreviates since Go 1.22 and
// which both decode the same.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString([]byte("{"), s)
		require.True(t, bytes.HasPrefix(got, []byte("{")), "appends to what it is given")
		got = got[1:]
		want := stdJSONString(t, s)
		require.True(t, json.Valid(got), "%q gave %q", s, got)
		var gotS, wantS string
		require.NoError(t, json.Unmarshal(got, &gotS))
		require.NoError(t, json.Unmarshal(want, &wantS))
		assert.Equal(t, wantS, gotS, "%q", s)
		if !strings.ContainsAny(s, "\b\f") {
			assert.Equal(t, string(want), string(got), "%q", s)
		}
	})
}

// Every value the store holds (null, text, boolean, a finite number; an
// int field's number whole) reads back from appendJSONValue as itself.
func FuzzAppendJSONValue(f *testing.F) {
	for _, s := range jsonStringSeeds {
		f.Add(uint8(1), s, 0.0, false)
	}
	for _, x := range []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1.5, 42, 1e-7, 1e20, 1e21, -1e300, math.MaxFloat64, math.SmallestNonzeroFloat64, 1 << 53, 9.223372036854775e18} {
		f.Add(uint8(3), "", x, false)
		f.Add(uint8(3), "", x, true)
	}
	f.Add(uint8(0), "", 0.0, false)
	f.Add(uint8(2), "", 1.0, false)
	f.Add(uint8(2), "", 0.0, false)
	f.Fuzz(func(t *testing.T, kind uint8, s string, x float64, isInt bool) {
		var fd *fieldDef
		if isInt {
			fd = &fieldDef{Field: Field{Type: TypeInt}}
			x = math.Trunc(x)
		}
		var v any
		switch kind % 4 {
		case 1:
			v = s
		case 2:
			v = x > 0
		case 3:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return // parseNumber refuses them: the store never holds one
			}
			v = x
		}
		got := append(appendJSONValue([]byte("["), fd, v), ']')
		dec := json.NewDecoder(bytes.NewReader(got))
		dec.UseNumber()
		var vals []any
		require.NoError(t, dec.Decode(&vals), "%#v gave %q", v, got)
		require.Len(t, vals, 1)
		switch want := v.(type) {
		case float64:
			n, ok := vals[0].(json.Number)
			require.True(t, ok, "%#v gave %q", v, got)
			back, err := strconv.ParseFloat(string(n), 64)
			require.NoError(t, err)
			assert.Equal(t, want, back, "%#v gave %q", v, got)
		case string:
			var str string
			require.NoError(t, json.Unmarshal(stdJSONString(t, want), &str))
			assert.Equal(t, str, vals[0], "%q gave %q", want, got)
		default:
			assert.Equal(t, v, vals[0], "%#v gave %q", v, got)
		}
	})
}

// The text of an int field's number beyond int64 is still that number.
func TestFormatTextWholeNumberBeyondInt64(t *testing.T) {
	fd := &fieldDef{Field: Field{Type: TypeInt}}
	assert.Equal(t, "100000000000000000000", formatText(fd, 1e20))
	assert.Equal(t, "-9223372036854775808", formatText(fd, math.MinInt64))
	assert.Equal(t, "42", formatText(fd, 42.0))
}
