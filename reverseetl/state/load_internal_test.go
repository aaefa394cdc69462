package state

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
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
		p.sep()
		p.buf = appendField(p.buf, []byte(row[2]))
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

// VALUES_JSON written into a load file reads back as the JSON values
// makes: excluded fields left out, null kept, absent fields skipped, text
// with quotes, delimiters and line breaks intact.
func TestValuesWriterMatchesValues(t *testing.T) {
	st, err := New(&sql.DB{}, Snowflake, Options{ExcludeFields: []string{"email"}})
	require.NoError(t, err)
	w := st.Writeback("run")
	l1 := sink.NewLayout([]string{"Name", "Email", "Note", "Gone", `Odd"Key`}, nil)
	l2 := sink.NewLayout([]string{"Id", "Phone"}, nil)
	recs := []*sink.Record{
		{Layout: l1, Values: []sink.Value{sink.TextValue(`say "hi" | bye`), sink.TextValue("a@b.example"), sink.NullValue(), {Kind: sink.Absent}, sink.TextValue("x\ny\n")}},
		{Layout: l1, Values: []sink.Value{sink.TextValue("é\u2028"), sink.TextValue("c@d.example"), sink.TextValue(""), sink.TextValue("1"), sink.TextValue("\x00")}},
		{Layout: l2, Values: []sink.Value{sink.TextValue("001"), sink.TextValue("+1 555")}},
		{Layout: l2, Values: []sink.Value{{Kind: sink.Absent}, {Kind: sink.Absent}}},
		{Layout: l2},
		nil,
	}
	p, err := newSpool()
	require.NoError(t, err)
	defer p.remove()
	var vw valuesWriter
	for _, r := range recs {
		p.str("before")
		p.sep()
		p.buf = vw.append(p.buf, st.exclude, r)
		p.str("after")
		require.NoError(t, p.end())
	}
	require.NoError(t, p.finish())
	zr, err := gzip.NewReader(p.f)
	require.NoError(t, err)
	cr := csv.NewReader(zr)
	cr.Comma = '|'
	got, err := cr.ReadAll()
	require.NoError(t, err)
	require.Len(t, got, len(recs))
	for i, r := range recs {
		assert.Equal(t, []string{"before", string(w.values(nil, r)), "after"}, got[i], "record %d", i)
	}
	assert.NotContains(t, got[0][1], "a@b.example")
	assert.JSONEq(t, `{"Name":"say \"hi\" | bye","Note":null,"Odd\"Key":"x\ny\n"}`, got[0][1])
}

// BenchmarkWritebackRow is the writeback's work for one written row of
// the production path: its RECORD_RESULTS row and its state row, encoded
// and compressed into their load files.
func BenchmarkWritebackRow(b *testing.B) {
	st, err := New(&sql.DB{}, Snowflake, Options{})
	require.NoError(b, err)
	w := st.Writeback("20261207T221512-0a1b2c3d")
	layout := sink.NewLayout([]string{"External_Id__c", "Name", "Industry", "NumberOfEmployees", "ARR__c", "Signed_Up__c", "Renewal_Date__c", "Description"}, nil)
	const chunk = 1000
	outs := make([]reverseetl.Outcome, chunk)
	rows := make([]reverseetl.StateRow, chunk)
	for i := range outs {
		key := fmt.Sprintf("P%07d", i)
		rec := &sink.Record{Seq: int64(i), Key: key, Layout: layout, Values: []sink.Value{
			sink.TextValue(key), sink.TextValue(fmt.Sprintf("Company %d", i)), sink.TextValue("Technology"),
			sink.TextValue(strconv.Itoa(i % 5000)), sink.TextValue(fmt.Sprintf("%d.25", i*37)),
			sink.TextValue("2024-01-05T10:00:00.000Z"), sink.TextValue("2025-03-01"), sink.NullValue()}}
		id := fmt.Sprintf("001%015d", i)
		outs[i] = reverseetl.Outcome{Seq: int64(i), Key: key, Kind: reverseetl.Written, ID: id, Created: true, Record: rec}
		rows[i] = reverseetl.StateRow{Key: key, Hash: fmt.Sprintf("%064x", i*7919), ID: id}
	}
	s := &config.Sync{Name: "accounts"}
	ctx := context.Background()
	at := st.stamp()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%100 == 0 {
			for _, t := range []string{st.tResults, st.tState} {
				if p := st.takeSpool(t, s.Name); p != nil {
					p.remove()
				}
			}
		}
		require.NoError(b, w.results(ctx, s, "upsert", outs))
		_, err := st.spoolRows(st.tState, s.Name, len(rows), func(i int, p *spool) {
			p.writeState(s.Name, rows[i].Key, rows[i].Hash, rows[i].ID, at, "20261207T221512-0a1b2c3d")
		})
		require.NoError(b, err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*chunk), "ns/row")
	for _, t := range []string{st.tResults, st.tState} {
		if p := st.takeSpool(t, s.Name); p != nil {
			p.remove()
		}
	}
}
