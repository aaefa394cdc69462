package snowflake

import (
	"context"
	"database/sql/driver"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	sf "github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/source"
)

var pool = memory.NewGoAllocator()

// fakeChunk serves records as a fetched Arrow batch would.
type fakeChunk struct {
	recs []arrow.Record
	err  error
	loc  *time.Location
}

func (c *fakeChunk) Fetch(context.Context) ([]arrow.Record, error) { return c.recs, c.err }
func (c *fakeChunk) Location(arrow.Record, int) *time.Location     { return c.loc }

// record builds a one-column record; meta is the field's metadata.
func record(t *testing.T, arr arrow.Array, meta map[string]string) arrow.Record {
	t.Helper()
	md := arrow.MetadataFrom(meta)
	schema := arrow.NewSchema([]arrow.Field{{Name: "C", Type: arr.DataType(), Nullable: true, Metadata: md}}, nil)
	return array.NewRecord(schema, []arrow.Array{arr}, int64(arr.Len()))
}

// read converts every row of a one-column record.
func read(t *testing.T, typ string, scale int, rec arrow.Record) ([]any, error) {
	t.Helper()
	cols := []column{{name: "C", typ: typ, scale: scale}}
	var got []any
	out := &batcher{size: 100, emit: func(b source.Batch) error {
		for _, r := range b.Rows {
			got = append(got, r[0])
		}
		return nil
	}}
	ch := &fakeChunk{recs: []arrow.Record{rec}, loc: time.FixedZone("session", -5*3600)}
	if err := streamChunks(context.Background(), []chunk{ch}, cols, out); err != nil {
		return nil, err
	}
	return got, nil
}

func mustRead(t *testing.T, typ string, scale int, rec arrow.Record) []any {
	t.Helper()
	got, err := read(t, typ, scale, rec)
	require.NoError(t, err)
	return got
}

func int64s(vals []int64, valid []bool) arrow.Array {
	b := array.NewInt64Builder(pool)
	b.AppendValues(vals, valid)
	return b.NewArray()
}

func TestFixedFromArrow(t *testing.T) {
	valid := []bool{true, true, false}
	// Int64 at scale 0 and 2.
	assert.Equal(t, []any{int64(42), int64(-7), nil}, mustRead(t, "FIXED", 0, record(t, int64s([]int64{42, -7, 0}, valid), nil)))
	assert.Equal(t, []any{source.Decimal("0.42"), source.Decimal("-0.07"), nil},
		mustRead(t, "FIXED", 2, record(t, int64s([]int64{42, -7, 0}, valid), nil)))
	// Snowflake narrows small NUMBERs to Int32, Int16 and Int8.
	b32 := array.NewInt32Builder(pool)
	b32.AppendValues([]int32{12345}, nil)
	assert.Equal(t, []any{source.Decimal("123.45")}, mustRead(t, "FIXED", 2, record(t, b32.NewArray(), nil)))
	b16 := array.NewInt16Builder(pool)
	b16.AppendValues([]int16{-5}, nil)
	assert.Equal(t, []any{int64(-5)}, mustRead(t, "FIXED", 0, record(t, b16.NewArray(), nil)))
	b8 := array.NewInt8Builder(pool)
	b8.AppendValues([]int8{5}, nil)
	assert.Equal(t, []any{source.Decimal("0.005")}, mustRead(t, "FIXED", 3, record(t, b8.NewArray(), nil)))

	// Decimal128: NUMBER(38,0) beyond int64 (which fakesnow cannot hold)
	// becomes *big.Int without loss; scaled values stay exact.
	wide, _ := new(big.Int).SetString("-123456789012345678901234567890123456", 10)
	small := big.NewInt(9)
	db := array.NewDecimal128Builder(pool, &arrow.Decimal128Type{Precision: 38, Scale: 0})
	db.Append(decimal128.FromBigInt(wide))
	db.Append(decimal128.FromBigInt(small))
	db.AppendNull()
	got := mustRead(t, "FIXED", 0, record(t, db.NewArray(), nil))
	assert.Equal(t, wide, got[0])
	assert.Equal(t, int64(9), got[1])
	assert.Nil(t, got[2])

	db = array.NewDecimal128Builder(pool, &arrow.Decimal128Type{Precision: 38, Scale: 18})
	u, _ := new(big.Int).SetString("12345678901234567890123456789012345678", 10)
	db.Append(decimal128.FromBigInt(u))
	db.Append(decimal128.FromBigInt(big.NewInt(-5)))
	assert.Equal(t, []any{source.Decimal("12345678901234567890.123456789012345678"), source.Decimal("-0.000000000000000005")},
		mustRead(t, "FIXED", 18, record(t, db.NewArray(), nil)))
}

func TestOtherTypesFromArrow(t *testing.T) {
	fb := array.NewFloat64Builder(pool)
	fb.AppendValues([]float64{1.5, 0}, []bool{true, false})
	assert.Equal(t, []any{1.5, nil}, mustRead(t, "REAL", 0, record(t, fb.NewArray(), nil)))

	bb := array.NewBooleanBuilder(pool)
	bb.AppendValues([]bool{true, false}, nil)
	assert.Equal(t, []any{true, false}, mustRead(t, "BOOLEAN", 0, record(t, bb.NewArray(), nil)))

	dt := array.NewDate32Builder(pool)
	dt.AppendValues([]arrow.Date32{19844, -1}, nil)
	assert.Equal(t, []any{source.Date("2024-05-01"), source.Date("1969-12-31")}, mustRead(t, "DATE", 0, record(t, dt.NewArray(), nil)))

	// TIME arrives as Snowflake's scaled integer, relabelled time64[ns].
	tb := array.NewTime64Builder(pool, &arrow.Time64Type{Unit: arrow.Nanosecond})
	tb.AppendValues([]arrow.Time64{45296789}, nil)
	assert.Equal(t, []any{source.TimeOfDay("12:34:56.789")}, mustRead(t, "TIME", 3, record(t, tb.NewArray(), nil)))
	tb.AppendValues([]arrow.Time64{45296789000001}, nil)
	assert.Equal(t, []any{source.TimeOfDay("12:34:56.789000001")}, mustRead(t, "TIME", 9, record(t, tb.NewArray(), nil)))

	bin := array.NewBinaryBuilder(pool, arrow.BinaryTypes.Binary)
	bin.AppendValues([][]byte{[]byte("abc")}, nil)
	bin.AppendNull()
	binArr := bin.NewArray()
	got := mustRead(t, "BINARY", 0, record(t, binArr, nil))
	assert.Equal(t, []any{[]byte("abc"), nil}, got)
	// A copy: the record's buffer is released after the chunk.
	got[0].([]byte)[0] = 'X'
	assert.Equal(t, []byte("abc"), binArr.(*array.Binary).Value(0))

	sb := array.NewStringBuilder(pool)
	sb.AppendValues([]string{`{"a":1}`, ""}, []bool{true, false})
	strs := sb.NewArray()
	assert.Equal(t, []any{source.JSON(`{"a":1}`), nil}, mustRead(t, "VARIANT", 0, record(t, strs, nil)))
	assert.Equal(t, []any{source.JSON(`{"a":1}`), nil}, mustRead(t, "OBJECT", 0, record(t, strs, nil)))
	assert.Equal(t, []any{source.JSON(`{"a":1}`), nil}, mustRead(t, "ARRAY", 0, record(t, strs, nil)))
	assert.Equal(t, []any{`{"a":1}`, nil}, mustRead(t, "TEXT", 0, record(t, strs, nil)))
	assert.Equal(t, []any{`{"a":1}`, nil}, mustRead(t, "GEOGRAPHY", 0, record(t, strs, nil)), "other types sent as text")
}

func TestTimestampsFromArrow(t *testing.T) {
	epochs := int64s([]int64{1714557600, 0}, nil)
	fb := array.NewInt32Builder(pool)
	fb.AppendValues([]int32{123456000, 0}, nil)
	fracs := fb.NewArray()
	zb := array.NewInt32Builder(pool)
	zb.AppendValues([]int32{1440 + 120, 1440}, nil)
	zones := zb.NewArray()
	// The second row is null in the struct's own bitmap, as Snowflake sends
	// it (fakesnow does not, which TestEveryTypeRoundTrips records).
	nulls := []byte{0b01}
	structOf := func(arrs ...arrow.Array) arrow.Array {
		names := []string{"epoch", "fraction", "timezone"}[:len(arrs)]
		if len(arrs) == 2 && arrs[1] == zones {
			names = []string{"epoch", "timezone"}
		}
		s, err := array.NewStructArrayWithNulls(arrs, names, memory.NewBufferBytes(nulls), 1, 0)
		require.NoError(t, err)
		return s
	}
	at := time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC)
	scale9 := map[string]string{"scale": "9"}

	ntz := mustRead(t, "TIMESTAMP_NTZ", 0, record(t, structOf(epochs, fracs), scale9))
	assert.Equal(t, []any{at, nil}, ntz)

	ltz := mustRead(t, "TIMESTAMP_LTZ", 0, record(t, structOf(epochs, fracs), scale9))
	require.IsType(t, time.Time{}, ltz[0])
	assert.True(t, at.Equal(ltz[0].(time.Time)))
	assert.Equal(t, "session", ltz[0].(time.Time).Location().String(), "LTZ is shown in the session's zone")
	assert.Nil(t, ltz[1])

	tz := mustRead(t, "TIMESTAMP_TZ", 0, record(t, structOf(epochs, fracs, zones), scale9))
	require.IsType(t, time.Time{}, tz[0])
	assert.True(t, at.Equal(tz[0].(time.Time)))
	_, off := tz[0].(time.Time).Zone()
	assert.Equal(t, 2*3600, off, "TZ keeps its offset")
	assert.Nil(t, tz[1])

	// At low scales Snowflake sends one scaled integer (with a zone for TZ).
	scaled := int64s([]int64{1714557600123, -1}, []bool{true, false})
	scale3 := map[string]string{"scale": "3"}
	ms := time.Date(2024, 5, 1, 10, 0, 0, 123000000, time.UTC)
	assert.Equal(t, []any{ms, nil}, mustRead(t, "TIMESTAMP_NTZ", 0, record(t, scaled, scale3)))
	tz2 := mustRead(t, "TIMESTAMP_TZ", 0, record(t, structOf(int64s([]int64{1714557600123, 0}, nil), zones), scale3))
	assert.True(t, ms.Equal(tz2[0].(time.Time)))
	_, off = tz2[0].(time.Time).Zone()
	assert.Equal(t, 2*3600, off)
	// Before the epoch the fraction is negative and still adds up.
	neg := mustRead(t, "TIMESTAMP_NTZ", 0, record(t, int64s([]int64{-1500}, nil), scale3))
	assert.Equal(t, time.Date(1969, 12, 31, 23, 59, 58, 500000000, time.UTC), neg[0])
	// Without metadata the scale is 9.
	assert.Equal(t, []any{time.Unix(1, 5).UTC()}, mustRead(t, "TIMESTAMP_NTZ", 0, record(t, int64s([]int64{1000000005}, nil), nil)))
}

func TestUnsupportedArrowShapes(t *testing.T) {
	ints := int64s([]int64{1}, nil)
	sb := array.NewStringBuilder(pool)
	sb.Append("x")
	strs := sb.NewArray()
	ib := array.NewInt32Builder(pool)
	ib.Append(1)
	i32 := ib.NewArray()
	bad := func(arrs []arrow.Array, names []string) arrow.Array {
		s, err := array.NewStructArray(arrs, names)
		require.NoError(t, err)
		return s
	}
	cases := []struct {
		name, typ string
		scale     int
		rec       arrow.Record
		msg       string
	}{
		{"fixed as text", "FIXED", 0, record(t, strs, nil), "unsupported Snowflake type FIXED as Arrow utf8"},
		{"real as int", "REAL", 0, record(t, ints, nil), "unsupported Snowflake type REAL as Arrow int64"},
		{"boolean as int", "BOOLEAN", 0, record(t, ints, nil), "unsupported Snowflake type BOOLEAN"},
		{"date as int", "DATE", 0, record(t, ints, nil), "unsupported Snowflake type DATE"},
		{"time as int", "TIME", 9, record(t, ints, nil), "unsupported Snowflake type TIME"},
		{"binary as int", "BINARY", 0, record(t, ints, nil), "unsupported Snowflake type BINARY"},
		{"decfloat", "DECFLOAT", 0, record(t, ints, nil), "unsupported Snowflake type DECFLOAT"},
		{"tz as int", "TIMESTAMP_TZ", 0, record(t, ints, nil), "unsupported Snowflake type TIMESTAMP_TZ as Arrow int64"},
		{"ntz as text", "TIMESTAMP_NTZ", 0, record(t, strs, nil), "unsupported Snowflake type TIMESTAMP_NTZ as Arrow utf8"},
		{"struct epoch not int64", "TIMESTAMP_NTZ", 0, record(t, bad([]arrow.Array{i32, i32}, []string{"a", "b"}), nil), "unsupported"},
		{"struct fraction not int32", "TIMESTAMP_NTZ", 0, record(t, bad([]arrow.Array{ints, ints}, []string{"a", "b"}), nil), "unsupported"},
		{"tz zone not int32", "TIMESTAMP_TZ", 0, record(t, bad([]arrow.Array{ints, ints}, []string{"a", "b"}), nil), "unsupported"},
		{"ntz with a zone", "TIMESTAMP_NTZ", 0, record(t, bad([]arrow.Array{ints, i32, i32}, []string{"a", "b", "c"}), nil), "unsupported"},
		{"tz zone field not int32", "TIMESTAMP_TZ", 0, record(t, bad([]arrow.Array{ints, i32, ints}, []string{"a", "b", "c"}), nil), "unsupported"},
		{"struct of one", "TIMESTAMP_NTZ", 0, record(t, bad([]arrow.Array{ints}, []string{"a"}), nil), "unsupported"},
		{"timestamp scale", "TIMESTAMP_NTZ", 0, record(t, ints, map[string]string{"scale": "12"}), ""},
	}
	for _, c := range cases {
		_, err := read(t, c.typ, c.scale, c.rec)
		if c.msg == "" {
			// A scale out of range in the metadata falls back to 9.
			assert.NoError(t, err, c.name)
			continue
		}
		if assert.Error(t, err, c.name) {
			assert.Contains(t, err.Error(), "column C ("+c.typ+"): "+c.msg, c.name)
		}
	}
	_, err := timestampReader(ints, "TIMESTAMP_NTZ", 10, time.UTC)
	assert.ErrorContains(t, err, "timestamp scale 10 is out of range")

	tb := array.NewTime64Builder(pool, &arrow.Time64Type{Unit: arrow.Nanosecond})
	tb.AppendValues([]arrow.Time64{86400}, nil)
	_, err = read(t, "TIME", 0, record(t, tb.NewArray(), nil))
	assert.ErrorContains(t, err, "column C (TIME): TIME value 86400 at scale 0 is not within a day")
	tb.AppendValues([]arrow.Time64{1}, nil)
	_, err = read(t, "TIME", 10, record(t, tb.NewArray(), nil))
	assert.ErrorContains(t, err, "TIME scale 10 is out of range")
}

func TestStreamChunks(t *testing.T) {
	cols := []column{{name: "C", typ: "FIXED"}}
	rec := func(vals ...int64) arrow.Record { return record(t, int64s(vals, nil), nil) }
	var sizes []int
	out := &batcher{size: 2, emit: func(b source.Batch) error { sizes = append(sizes, len(b.Rows)); return nil }}
	chunks := []chunk{&fakeChunk{recs: []arrow.Record{rec(1, 2, 3)}}, &fakeChunk{recs: []arrow.Record{rec(4), rec(5)}}}
	require.NoError(t, streamChunks(context.Background(), chunks, cols, out))
	assert.Equal(t, []int{2, 2, 1}, sizes, "batches span chunks and records")

	boom := errors.New("chunk download failed")
	out = &batcher{size: 2, emit: func(source.Batch) error { return nil }}
	assert.ErrorIs(t, streamChunks(context.Background(), []chunk{&fakeChunk{err: boom}}, cols, out), boom)

	twoCols := array.NewRecord(arrow.NewSchema([]arrow.Field{{Name: "A", Type: arrow.PrimitiveTypes.Int64}, {Name: "B", Type: arrow.PrimitiveTypes.Int64}}, nil),
		[]arrow.Array{int64s([]int64{1}, nil), int64s([]int64{2}, nil)}, 1)
	err := streamChunks(context.Background(), []chunk{&fakeChunk{recs: []arrow.Record{twoCols}}}, cols, out)
	assert.ErrorContains(t, err, "the result has 1 columns but a chunk has 2")

	stop := errors.New("stop")
	out = &batcher{size: 1, emit: func(source.Batch) error { return stop }}
	err = streamChunks(context.Background(), []chunk{&fakeChunk{recs: []arrow.Record{rec(1)}}}, cols, out)
	var ee *emitError
	require.ErrorAs(t, err, &ee)
	assert.Same(t, stop, ee.err)
	assert.Equal(t, "stop", err.Error())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out = &batcher{size: 1, emit: func(source.Batch) error { return nil }}
	assert.ErrorIs(t, streamChunks(ctx, []chunk{&fakeChunk{recs: []arrow.Record{rec(1)}}}, cols, out), context.Canceled)
	// Cancelled between batches inside one chunk.
	ctx, cancel = context.WithCancel(context.Background())
	out = &batcher{size: 1, emit: func(source.Batch) error { cancel(); return nil }}
	assert.ErrorIs(t, streamChunks(ctx, []chunk{&fakeChunk{recs: []arrow.Record{rec(1, 2)}}}, cols, out), context.Canceled)
}

func TestFromDriver(t *testing.T) {
	wide, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	bf, _, _ := big.ParseFloat("12.345", 10, 127, big.ToNearestEven)
	ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.FixedZone("", 3600))
	ok := []struct {
		typ   string
		scale int
		in    driver.Value
		want  any
	}{
		{"FIXED", 0, nil, nil},
		{"FIXED", 0, "42", int64(42)},
		{"FIXED", 0, "123456789012345678901234567890", wide},
		{"FIXED", 2, "12.30", source.Decimal("12.30")},
		{"FIXED", 0, "1.5", source.Decimal("1.5")},
		{"FIXED", 0, int64(7), int64(7)},
		{"FIXED", 0, *wide, wide},
		{"FIXED", 0, wide, wide},
		{"FIXED", 3, *bf, source.Decimal("12.345")},
		{"FIXED", 3, bf, source.Decimal("12.345")},
		{"DECFLOAT", 0, "1.5E+3", int64(1500)},
		{"REAL", 0, 1.5, 1.5},
		{"REAL", 0, "2.5", 2.5},
		{"BOOLEAN", 0, true, true},
		{"BOOLEAN", 0, "1", true},
		{"BOOLEAN", 0, "FALSE", false},
		{"DATE", 0, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), source.Date("2024-05-01")},
		{"TIME", 0, time.Time{}.Add(12*time.Hour + 5*time.Millisecond), source.TimeOfDay("12:00:00.005")},
		{"TIMESTAMP_NTZ", 0, ts, ts.UTC()},
		{"TIMESTAMP_LTZ", 0, ts, ts},
		{"TIMESTAMP_TZ", 0, ts, ts},
		{"BINARY", 0, []byte("ab"), []byte("ab")},
		{"VARIANT", 0, "[1]", source.JSON("[1]")},
		{"TEXT", 0, "x", "x"},
	}
	for _, c := range ok {
		col := column{name: "C", typ: c.typ, scale: c.scale}
		got, err := col.fromDriver(c.in)
		require.NoError(t, err, "%s %v", c.typ, c.in)
		assert.Equal(t, c.want, got, "%s %v", c.typ, c.in)
	}
	bad := []struct {
		typ   string
		scale int
		in    driver.Value
		msg   string
	}{
		{"FIXED", 0, "x", `"x" is not a decimal number`},
		{"FIXED", 2, int64(7), "unexpected driver value int64"},
		{"FIXED", 0, true, "unexpected driver value bool"},
		{"REAL", 0, "x", `"x" is not a number`},
		{"REAL", 0, true, "unexpected driver value bool"},
		{"BOOLEAN", 0, "maybe", `"maybe" is not a boolean`},
		{"BOOLEAN", 0, 1.0, "unexpected driver value float64"},
		{"DATE", 0, "2024", "unexpected driver value string"},
		{"TIME", 0, "12:00", "unexpected driver value string"},
		{"TIMESTAMP_NTZ", 0, "x", "unexpected driver value string"},
		{"TIMESTAMP_TZ", 0, "x", "unexpected driver value string"},
		{"BINARY", 0, "ab", "unexpected driver value string"},
		{"OBJECT", 0, 1.0, "unexpected driver value float64"},
		{"TEXT", 0, 1.0, "unexpected driver value float64"},
	}
	for _, c := range bad {
		col := column{name: "C", typ: c.typ, scale: c.scale}
		_, err := col.fromDriver(c.in)
		assert.ErrorContains(t, err, c.msg, "%s %v", c.typ, c.in)
	}
}

// fakeRows are driver rows, optionally Snowflake rows whose Arrow batches
// fail with err.
type fakeRows struct {
	cols   []string
	types  []string
	scales []int64
	data   [][]driver.Value
	i      int
	nexErr error
}

func (r *fakeRows) Columns() []string                       { return r.cols }
func (r *fakeRows) Close() error                            { return nil }
func (r *fakeRows) ColumnTypeDatabaseTypeName(i int) string { return r.types[i] }
func (r *fakeRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	switch strings.ToUpper(r.types[i]) {
	case "FIXED":
		return 38, r.scales[i], true
	case "TIME":
		return r.scales[i], 0, true
	}
	return 0, 0, false
}
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.i >= len(r.data) {
		if r.nexErr != nil {
			return r.nexErr
		}
		return io.EOF
	}
	copy(dest, r.data[r.i])
	r.i++
	return nil
}

type fakeSnowflakeRows struct {
	*fakeRows
	arrowErr error
}

func (r *fakeSnowflakeRows) GetQueryID() string                         { return "q1" }
func (r *fakeSnowflakeRows) GetStatus() sf.QueryStatus                  { return sf.QueryStatusComplete }
func (r *fakeSnowflakeRows) GetArrowBatches() ([]*sf.ArrowBatch, error) { return nil, r.arrowErr }
func (r *fakeSnowflakeRows) NextResultSet() error                       { return io.EOF }

func TestDescribe(t *testing.T) {
	cols := describe(&fakeRows{cols: []string{"N", "T", "S"}, types: []string{"fixed", "time", "text"}, scales: []int64{2, 3, 0}})
	assert.Equal(t, []column{{"N", "FIXED", 2}, {"T", "TIME", 3}, {"S", "TEXT", 0}}, cols)
	// Rows that say nothing of their types still have names.
	assert.Equal(t, []column{{name: "X"}}, describe(plainRows{}))
}

type plainRows struct{}

func (plainRows) Columns() []string         { return []string{"X"} }
func (plainRows) Close() error              { return nil }
func (plainRows) Next([]driver.Value) error { return io.EOF }

func TestStreamRows(t *testing.T) {
	s := &Source{opts: options{batchSize: 2}}
	collect := func(rows driver.Rows) ([][]any, error) {
		var got [][]any
		err := s.stream(context.Background(), rows, func(b source.Batch) error {
			got = append(got, b.Rows...)
			return nil
		})
		return got, err
	}
	data := [][]driver.Value{{"1", "a"}, {"2.50", nil}, {"3", "c"}}
	base := func() *fakeRows {
		return &fakeRows{cols: []string{"N", "S"}, types: []string{"FIXED", "TEXT"}, scales: []int64{0, 0}, data: data}
	}
	want := [][]any{{int64(1), "a"}, {source.Decimal("2.50"), nil}, {int64(3), "c"}}

	// JSON results: Arrow batches refused with Snowflake's own code.
	nonArrow := &sf.SnowflakeError{Number: sf.ErrNonArrowResponseInArrowBatches}
	got, err := collect(&fakeSnowflakeRows{fakeRows: base(), arrowErr: nonArrow})
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// Rows of another driver are scanned as well.
	got, err = collect(base())
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// Other Arrow errors fail the read.
	other := errors.New("arrow batches failed")
	_, err = collect(&fakeSnowflakeRows{fakeRows: base(), arrowErr: other})
	assert.ErrorIs(t, err, other)

	// A failing Next, and a value that does not convert.
	broken := base()
	broken.nexErr = errors.New("connection reset")
	_, err = collect(broken)
	assert.ErrorIs(t, err, broken.nexErr)
	badValue := base()
	badValue.data = [][]driver.Value{{"x", "a"}}
	_, err = collect(badValue)
	assert.ErrorContains(t, err, `column N (FIXED): "x" is not a decimal number`)

	// An emit error is marked for Read to return unchanged.
	stop := errors.New("stop")
	err = s.stream(context.Background(), base(), func(source.Batch) error { return stop })
	var ee *emitError
	require.ErrorAs(t, err, &ee)
	assert.Same(t, stop, ee.err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, s.stream(ctx, base(), func(source.Batch) error { return nil }), context.Canceled)
}

func TestCipherAndPRFChoices(t *testing.T) {
	for _, oid := range []asn1.ObjectIdentifier{nil, oidHMACSHA1, oidHMACSHA224, oidHMACSHA256, oidHMACSHA384, oidHMACSHA512} {
		h, err := prfHash(oid)
		require.NoError(t, err, oid)
		assert.NotNil(t, h(), oid)
	}
	for oid, size := range map[string]int{oidAES128CBC.String(): 16, oidAES192CBC.String(): 24, oidAES256CBC.String(): 32, oidDES3CBC.String(): 24} {
		var parsed asn1.ObjectIdentifier
		for _, o := range []asn1.ObjectIdentifier{oidAES128CBC, oidAES192CBC, oidAES256CBC, oidDES3CBC} {
			if o.String() == oid {
				parsed = o
			}
		}
		newCipher, n, err := blockCipher(parsed)
		require.NoError(t, err, oid)
		assert.Equal(t, size, n, oid)
		_, err = newCipher(make([]byte, n))
		assert.NoError(t, err, oid)
	}
}
