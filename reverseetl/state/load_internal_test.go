package state

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"io"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The load file's fields are written as encoding/csv writes them, byte for
// byte, and read back whole.
func FuzzAppendField(f *testing.F) {
	for _, s := range []string{"", "plain", "a|b", `say "hi"`, "two\nlines", "cr\r", " lead", "\tlead", `\.`, "\u00a0nbsp", "é", "\xff", `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		cw := csv.NewWriter(&want)
		cw.Comma = '|'
		require.NoError(t, cw.Write([]string{s, "x"}))
		cw.Flush()
		got := appendField(nil, s)
		got = append(got, '|', 'x', '\n')
		assert.Equal(t, want.String(), string(got))
		assert.Equal(t, string(got), string(append(appendField(nil, []byte(s)), "|x\n"...)))
	})
}

// A spool's rows come back from its file as they were written, the
// compressed text flushed in pieces along the way.
func TestSpoolRoundTrip(t *testing.T) {
	p, err := newSpool()
	require.NoError(t, err)
	defer p.remove()
	want := [][]string{}
	for i := range 10_000 {
		row := []string{"run", "a|b", `q"uote`, "line\nbreak", ""}
		p.str(row[0])
		p.str(row[1])
		p.text([]byte(row[2]))
		p.str(row[3])
		p.str(row[4])
		p.int(int64(i))
		want = append(want, append(row, strconv.Itoa(i)))
		require.NoError(t, p.end())
	}
	require.Greater(t, p.size(), int64(spoolFlush), "the text was compressed in more than one piece")
	require.NoError(t, p.finish())
	zr, err := gzip.NewReader(p.f)
	require.NoError(t, err)
	text, err := io.ReadAll(zr)
	require.NoError(t, err)
	cr := csv.NewReader(bytes.NewReader(text))
	cr.Comma = '|'
	got, err := cr.ReadAll()
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, int64(10_000), p.rows)
}
