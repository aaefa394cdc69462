package salesforce

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuoteSOQL(t *testing.T) {
	cases := map[string]string{
		"A-1":        `'A-1'`,
		"O'Brien":    `'O\'Brien'`,
		`back\slash`: `'back\\slash'`,
		`"q"`:        `'\"q\"'`,
		"a\nb\rc\td": `'a\nb\rc\td'`,
		"\b\f":       `'\b\f'`,
		`\'`:         `'\\\''`,
		"":           `''`,
	}
	for in, want := range cases {
		assert.Equal(t, want, quoteSOQL(in), in)
	}
}

// unquoteSOQL reads one SOQL string literal at the start of s, the way
// Salesforce's parser does, and returns its value and what follows it.
func unquoteSOQL(t testing.TB, s string) (string, string) {
	require.True(t, strings.HasPrefix(s, "'"), "literal does not start with a quote: %q", s)
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			return b.String(), s[i+1:]
		case '\\':
			i++
			require.Less(t, i, len(s), "dangling backslash in %q", s)
			esc, ok := map[byte]byte{'\\': '\\', '\'': '\'', '"': '"', 'n': '\n', 'r': '\r', 't': '\t', 'b': '\b', 'f': '\f'}[s[i]]
			require.True(t, ok, "unknown escape \\%c in %q", s[i], s)
			b.WriteByte(esc)
		default:
			b.WriteByte(c)
		}
	}
	t.Fatalf("unterminated literal %q", s)
	return "", ""
}

func FuzzQuoteSOQL(f *testing.F) {
	for _, seed := range []string{"A-1", "O'Brien", `\`, `\'`, "' OR Name != '", "a\nb", "\x00", "é'\"\\"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		q := quoteSOQL(s)
		// The literal, inside a query, ends exactly where it should.
		got, rest := unquoteSOQL(t, q+") LIMIT 1")
		assert.Equal(t, s, got)
		assert.Equal(t, ") LIMIT 1", rest)
	})
}

func TestChunkLiterals(t *testing.T) {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = strings.Repeat("k", 20) + "'" + string(rune('a'+i%26))
	}
	chunks := chunkLiterals(keys, 2000)
	require.Greater(t, len(chunks), 1)
	n := 0
	for _, c := range chunks {
		n += len(c)
		assert.LessOrEqual(t, len(url.QueryEscape(strings.Join(c, ", "))), 2000)
	}
	assert.Equal(t, len(keys), n)
	// A key longer than the limit still goes, alone.
	long := chunkLiterals([]string{"a", strings.Repeat("x", 50), "b"}, 20)
	assert.Equal(t, [][]string{{"'a'"}, {"'" + strings.Repeat("x", 50) + "'"}, {"'b'"}}, long)
	assert.Empty(t, chunkLiterals(nil, 10))
}
