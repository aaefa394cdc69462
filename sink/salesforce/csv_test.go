package salesforce

import (
	"bytes"
	"encoding/csv"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// appendRow quotes exactly as encoding/csv does, and what it writes reads
// back as the same cells.
func FuzzAppendRow(f *testing.F) {
	for _, s := range []string{"", "a", "b,c", `q"`, "x\ny", "x\r\ny", " lead", "\u00a0nbsp", `\.`, "#N/A", "é,\"", "\t"} {
		f.Add(s, "plain")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, cells := range [][]string{{a}, {a, b}, {b, a, ""}} {
			var want bytes.Buffer
			w := csv.NewWriter(&want)
			require.NoError(t, w.Write(cells))
			w.Flush()
			got := appendRow(nil, cells)
			if len(cells) == 1 && cells[0] == "" {
				assert.Equal(t, "\"\"\n", string(got))
				continue
			}
			assert.Equal(t, want.String(), string(got), "cells %q", cells)
			if strings.ContainsRune(strings.Join(cells, ""), '\r') {
				continue // encoding/csv reads \r\n inside quotes as \n
			}
			back, err := csv.NewReader(bytes.NewReader(got)).Read()
			if err == nil {
				assert.Equal(t, cells, back)
			}
		}
	})
}

func TestAppendRowAppends(t *testing.T) {
	b := appendRow([]byte("head\n"), []string{"a", "b c", `say "hi"`})
	assert.Equal(t, "head\na,b c,\"say \"\"hi\"\"\"\n", string(b))
	e := newCSVEncoder()
	v := e.view([]string{"x"})
	kept := e.row([]string{"y"})
	assert.Equal(t, "y\n", string(v), "a view is valid until the next call")
	assert.Equal(t, "y\n", string(kept))
}

func TestRecordReader(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	in := "a,b\n\n\"multi\nline\",\"q\"\"\"\r\n" + long + ",\"" + long + "\n\"\nlast"
	rr := newRecordReader(strings.NewReader(in))
	var got []string
	for {
		rec, err := rr.next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got = append(got, string(rec))
	}
	assert.Equal(t, []string{"a,b", "\"multi\nline\",\"q\"\"\"", long + ",\"" + long + "\n\"", "last"}, got)
}

func TestCutCell(t *testing.T) {
	for _, c := range []struct {
		in, cell, rest string
		last, ok       bool
	}{
		{in: `"001",true,x`, cell: "001", rest: "true,x", ok: true},
		{in: `a,"b"`, cell: "a", rest: `"b"`, ok: true},
		{in: `"a"`, cell: "a", last: true, ok: true},
		{in: `a`, cell: "a", last: true, ok: true},
		{in: `"a""b",c`},
		{in: `"a"x,c`},
		{in: `"open`},
	} {
		cell, rest, ok := cutCell([]byte(c.in))
		assert.Equal(t, c.ok, ok, c.in)
		if ok {
			assert.Equal(t, c.cell, string(cell), c.in)
			assert.Equal(t, c.last, rest == nil, c.in)
			assert.Equal(t, c.rest, string(rest), c.in)
		}
	}
}

// A file whose rows echo the upload is read raw until a row does not
// split simply; that row and the rest come decoded.
func TestResultsRaw(t *testing.T) {
	body := "\ufeff\"sf__Id\",\"sf__Created\",Name,Ext\n" +
		"\"001A\",\"true\",Acme,A-1\n" +
		"\"001\"\"B\",\"false\",\"Big, Co\",A-2\n" +
		"\"001C\",\"true\",Cee,A-3\n"
	rf, err := readResults(strings.NewReader(body), []string{"Name", "Ext"})
	require.NoError(t, err)
	assert.True(t, rf.echo)
	id, created, rest, ok, err := rf.nextRaw()
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, []string{"001A", "true", "Acme,A-1"}, []string{string(id), string(created), string(rest)})
	_, _, _, ok, err = rf.nextRaw()
	require.NoError(t, err)
	assert.False(t, ok, "a doubled quote needs decoding")
	assert.False(t, rf.echo)
	row, err := rf.next()
	require.NoError(t, err)
	assert.Equal(t, []string{`001"B`, "false", "Big, Co", "A-2"}, row)
	row, err = rf.next()
	require.NoError(t, err)
	assert.Equal(t, "001C", row[0])
	_, err = rf.next()
	assert.ErrorIs(t, err, io.EOF)

	other, err := readResults(strings.NewReader("sf__Id,sf__Created,Ext,Name\n1,true,A-1,Acme\n"), []string{"Name", "Ext"})
	require.NoError(t, err)
	assert.False(t, other.echo, "columns in another order are decoded")
	row, err = other.next()
	require.NoError(t, err)
	cells, complete := other.uploadedCells(row)
	assert.True(t, complete)
	assert.Equal(t, []string{"Acme", "A-1"}, cells)
}
