package salesforce

import (
	"bytes"
	"encoding/csv"
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
