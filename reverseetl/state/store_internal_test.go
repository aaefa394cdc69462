package state

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTrimStatementEnd(t *testing.T) {
	for in, want := range map[string]string{
		"select 1":                         "select 1",
		"select 1;":                        "select 1",
		"  select 1 ;  \n":                 "select 1",
		"select 1; -- done\n":              "select 1",
		"select 1; // done":                "select 1",
		"select 1 /* a; */ ;/* b */\n-- c": "select 1 /* a; */",
		"select ';' as s":                  "select ';' as s",
		"select 'it''s;' as s;":            "select 'it''s;' as s",
		`select 'a\';' as s;`:              `select 'a\';' as s`,
		`select 1 as "x;";`:                `select 1 as "x;"`,
		"select $$;$$ as s;":               "select $$;$$ as s",
		"select 1; select 2":               "select 1; select 2",
		"select 1 -- trailing comment":     "select 1 -- trailing comment",
		"select 'unterminated;":            "select 'unterminated;",
		"select $$unterminated;":           "select $$unterminated;",
		"select 1 /* unterminated;":        "select 1 /* unterminated;",
		"select 1;;":                       "select 1",
	} {
		assert.Equal(t, want, trimStatementEnd(in), in)
	}
}

func TestChunksSplitBySizeAndRows(t *testing.T) {
	defer func(b, r int) { maxStatementBytes, maxStatementRows = b, r }(maxStatementBytes, maxStatementRows)
	maxStatementBytes, maxStatementRows = 20, 3
	var got []string
	do := func(a string) error { got = append(got, a); return nil }
	require.NoError(t, chunks([]any{1, 2, 3, 4, "a-long-string-of-text", 5}, do))
	assert.Equal(t, []string{"[1,2,3]", "[4]", `["a-long-string-of-text"]`, "[5]"}, got)

	got = nil
	require.NoError(t, chunks(nil, do))
	assert.Empty(t, got, "no rows, no statement")

	assert.ErrorContains(t, chunks([]any{1, make(chan int)}, do), "unsupported type")
	boom := errors.New("boom")
	calls := 0
	err := chunks([]any{1, 2, 3, 4, 5, 6, 7}, func(string) error { calls++; return boom })
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 1, calls, "the first failure stops")
}
