package salesforce

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
)

// stdJSONString is encoding/json's encoding of s without its HTML escaping,
// which the request bodies do not need.
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

// A value of any kind and text reads back as the JSON value it stands
// for: a number that is a JSON number as that number, true and false as
// booleans, null as null, and everything else as the same string.
func FuzzAppendJSONValue(f *testing.F) {
	for _, s := range append(jsonStringSeeds, "0", "-12.50", "1e5", "1 ", "01", "+1", "NaN", "true", "TRUE", "false ", "2024-05-01") {
		for k := sink.Null; k <= sink.DateTime; k++ {
			f.Add(uint8(k), s)
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, s string) {
		// Absent never reaches the writer: the body leaves such fields out.
		k := sink.Null + sink.Kind(kind%uint8(sink.DateTime))
		got := appendJSONValue([]byte("["), sink.Value{Kind: k, S: s})
		got = append(got, ']')
		dec := json.NewDecoder(bytes.NewReader(got))
		dec.UseNumber()
		var vals []any
		require.NoError(t, dec.Decode(&vals), "%v %q gave %q", k, s, got)
		require.Len(t, vals, 1)

		var want any
		var n json.Number
		switch {
		case k == sink.Null:
			want = nil
		case k == sink.Bool && (s == "true" || s == "false"):
			want = s == "true"
		case k == sink.Number && s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') && json.Unmarshal([]byte(s), &n) == nil:
			want = n
		default:
			var str string
			require.NoError(t, json.Unmarshal(stdJSONString(t, s), &str))
			want = str
		}
		assert.Equal(t, want, vals[0], "%v %q gave %q", k, s, got)
	})
}
