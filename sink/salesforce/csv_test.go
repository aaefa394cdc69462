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

// What the encoder writes reads back through encoding/csv as the same
// cells, one row a line.
func FuzzCSVEncoder(f *testing.F) {
	for _, s := range []string{"", "a", "b,c", `q"`, "x\ny", "x\r\ny", " lead", "\u00a0nbsp", `\.`, "#N/A", "é,\"", "\t"} {
		f.Add(s, "plain")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		var e csvEncoder
		for _, cells := range [][]string{{a}, {a, b}, {b, a, ""}} {
			got := e.view(cells)
			if len(cells) == 1 && cells[0] == "" {
				assert.Equal(t, "\"\"\n", string(got), "a lone empty cell stays a row")
			}
			if strings.ContainsRune(strings.Join(cells, ""), '\r') {
				continue // encoding/csv reads \r\n inside quotes as \n
			}
			back, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
			require.NoError(t, err, "cells %q", cells)
			assert.Equal(t, [][]string{cells}, back)
		}
	})
}

func TestCSVEncoderViewAndRow(t *testing.T) {
	e := newCSVEncoder()
	v := e.view([]string{"x"})
	kept := e.row([]string{"y"})
	assert.Equal(t, "y\n", string(v), "a view is valid until the next call")
	assert.Equal(t, "y\n", string(kept))
	assert.Equal(t, "a,b c,\"say \"\"hi\"\"\"", string(e.line([]string{"a", "b c", `say "hi"`})))
}

// A result file as Salesforce writes it: a byte order mark, every cell
// quoted, columns matched by name in any order and then without case.
func TestResultsQuoted(t *testing.T) {
	body := "\ufeff\"sf__Id\",\"sf__Created\",\"Name\",\"ext\"\n" +
		"\"001A\",\"true\",\"Acme\",\"A-1\"\n" +
		"\"001\"\"B\",\"false\",\"Big, Co\",\"A-2\"\n"
	rf, err := readResults(strings.NewReader(body), []string{"Name", "Ext"})
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, -1}, []int{rf.idCol, rf.createdCol, rf.errorCol})
	row, err := rf.next()
	require.NoError(t, err)
	cells, complete := rf.uploadedCells(row)
	assert.True(t, complete)
	assert.Equal(t, []string{"Acme", "A-1"}, cells)
	row, err = rf.next()
	require.NoError(t, err)
	assert.Equal(t, []string{`001"B`, "false", "Big, Co", "A-2"}, row)
	_, err = rf.next()
	assert.ErrorIs(t, err, io.EOF)

	other, err := readResults(strings.NewReader("sf__Id,sf__Created,Ext,Name\n1,true,A-1,Acme\n"), []string{"Name", "Ext", "Phone"})
	require.NoError(t, err)
	row, err = other.next()
	require.NoError(t, err)
	cells, complete = other.uploadedCells(row)
	assert.False(t, complete, "a column missing from the file")
	assert.Equal(t, []string{"Acme", "A-1", ""}, cells)

	empty, err := readResults(strings.NewReader("\n\n"), []string{"Name"})
	require.NoError(t, err)
	_, err = empty.next()
	assert.ErrorIs(t, err, io.EOF)

	_, err = readResults(strings.NewReader("\"sf__Id,x\n"), []string{"Name"})
	assert.Error(t, err, "a header whose quote never closes")
}
