package jsonstr

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"":               `""`,
		`q"b\s`:          `"q\"b\\s"`,
		"\n\r\t\x00\x1f": `"\n\r\t\u0000\u001f"`,
		"é\u2028\u2029":  `"é\u2028\u2029"`,
		"\xff":           `"\ufffd"`,
		"<a&b>":          `"<a&b>"`,
	} {
		assert.Equal(t, want, string(Append([]byte("x"), in))[1:], "%q", in)
	}
}

// Append agrees with encoding/json on what every string means.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\s`, "\n\r\t\b\f\x00\x1f", "é\u2028\u2029", "\xff\xfe", "<a&b>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Append(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(got, &back), "%q", got)
		want, _ := json.Marshal(s)
		var wantBack string
		require.NoError(t, json.Unmarshal(want, &wantBack))
		assert.Equal(t, wantBack, back)
	})
}
