package snowflake

import (
	"bytes"
	"context"
	"database/sql/driver"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	sf "github.com/snowflakedb/gosnowflake"

	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/source/sqlsource"
)

// column is a result column as Snowflake describes it.
type column struct {
	name string
	// typ is Snowflake's type: FIXED, REAL, TEXT, BOOLEAN, DATE, TIME,
	// TIMESTAMP_NTZ, TIMESTAMP_LTZ, TIMESTAMP_TZ, VARIANT, OBJECT, ARRAY,
	// BINARY, ...
	typ string
	// scale is a FIXED column's scale, or a TIME column's fraction digits.
	scale int
}

func (c *column) errorf(err error) error {
	return fmt.Errorf("column %s (%s): %w", c.name, c.typ, err)
}

// describe reads the columns' names and types from the driver's rows.
func describe(rows driver.Rows) []column {
	names := rows.Columns()
	tn, _ := rows.(driver.RowsColumnTypeDatabaseTypeName)
	ps, _ := rows.(driver.RowsColumnTypePrecisionScale)
	cols := make([]column, len(names))
	for i, n := range names {
		cols[i].name = n
		if tn != nil {
			cols[i].typ = strings.ToUpper(tn.ColumnTypeDatabaseTypeName(i))
		}
		if ps == nil {
			continue
		}
		p, s, ok := ps.ColumnTypePrecisionScale(i)
		switch {
		case !ok:
		case cols[i].typ == "TIME":
			// gosnowflake reports a TIME's scale as its precision.
			cols[i].scale = int(p)
		default:
			cols[i].scale = int(s)
		}
	}
	return cols
}

// scaledDecimal writes the unscaled integer u with scale fraction digits,
// as Snowflake shows a NUMBER(p, scale): 1234 with scale 2 is "12.34".
func scaledDecimal(u *big.Int, scale int) source.Decimal {
	digits := new(big.Int).Abs(u).String()
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	s := digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	if u.Sign() < 0 {
		s = "-" + s
	}
	return source.Decimal(s)
}

// fixed converts a NUMBER's unscaled integer: an integer for scale 0
// (int64, or *big.Int beyond it), else an exact decimal.
func fixed(u *big.Int, scale int) any {
	if scale > 0 {
		return scaledDecimal(u, scale)
	}
	if u.IsInt64() {
		return u.Int64()
	}
	return u
}

func fixedInt64(v int64, scale int) any {
	if scale == 0 {
		return v
	}
	return scaledDecimal(big.NewInt(v), scale)
}

const timeLayout = "15:04:05.999999999"

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// timeOfDay converts a TIME's value in units of 10^-scale seconds.
func timeOfDay(v int64, scale int) (source.TimeOfDay, error) {
	if scale < 0 || scale > 9 {
		return "", fmt.Errorf("TIME scale %d is out of range", scale)
	}
	ns := v * pow10[9-scale]
	if ns < 0 || ns >= int64(24*time.Hour) {
		return "", fmt.Errorf("TIME value %d at scale %d is not within a day", v, scale)
	}
	return source.TimeOfDay(time.Time{}.Add(time.Duration(ns)).Format(timeLayout)), nil
}

func dateFromDays(days int64) source.Date {
	return source.Date(time.Unix(days*86400, 0).UTC().Format("2006-01-02"))
}

// typed are the types whose Arrow layout is fixed: text in their place is
// an error, not a string.
var typed = map[string]bool{
	"FIXED": true, "REAL": true, "BOOLEAN": true, "DATE": true, "TIME": true, "BINARY": true, "DECFLOAT": true,
	"TIMESTAMP_NTZ": true, "TIMESTAMP_LTZ": true, "TIMESTAMP_TZ": true,
}

// reader returns one row's value of a column; null handling included.
type reader func(i int) (any, error)

// arrowReader returns the reader of column idx of rec. Strings and bytes are
// copied: the record is released once the chunk has been read.
func (c *column) arrowReader(ch chunk, rec arrow.Record, idx int) (reader, error) {
	arr := rec.Column(idx)
	nullable := func(f func(i int) (any, error)) reader {
		return func(i int) (any, error) {
			if arr.IsNull(i) {
				return nil, nil
			}
			return f(i)
		}
	}
	unsupported := fmt.Errorf("unsupported Snowflake type %s as Arrow %s", c.typ, arr.DataType())
	switch c.typ {
	case "FIXED":
		switch a := arr.(type) {
		case *array.Int64:
			return nullable(func(i int) (any, error) { return fixedInt64(a.Value(i), c.scale), nil }), nil
		case *array.Int32:
			return nullable(func(i int) (any, error) { return fixedInt64(int64(a.Value(i)), c.scale), nil }), nil
		case *array.Int16:
			return nullable(func(i int) (any, error) { return fixedInt64(int64(a.Value(i)), c.scale), nil }), nil
		case *array.Int8:
			return nullable(func(i int) (any, error) { return fixedInt64(int64(a.Value(i)), c.scale), nil }), nil
		case *array.Decimal128:
			return nullable(func(i int) (any, error) { return fixed(a.Value(i).BigInt(), c.scale), nil }), nil
		}
	case "REAL":
		if a, ok := arr.(*array.Float64); ok {
			return nullable(func(i int) (any, error) { return a.Value(i), nil }), nil
		}
	case "BOOLEAN":
		if a, ok := arr.(*array.Boolean); ok {
			return nullable(func(i int) (any, error) { return a.Value(i), nil }), nil
		}
	case "DATE":
		if a, ok := arr.(*array.Date32); ok {
			return nullable(func(i int) (any, error) { return dateFromDays(int64(a.Value(i))), nil }), nil
		}
	case "TIME":
		// gosnowflake casts Snowflake's scaled integer to time64[ns]
		// without rescaling it, so the scale still applies.
		if a, ok := arr.(*array.Time64); ok {
			return nullable(func(i int) (any, error) { return timeOfDay(int64(a.Value(i)), c.scale) }), nil
		}
	case "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ":
		loc := time.UTC
		if c.typ == "TIMESTAMP_LTZ" {
			loc = ch.Location(rec, idx)
		}
		return timestampReader(arr, c.typ, fieldScale(rec.Schema().Field(idx), 9), loc)
	case "BINARY":
		if a, ok := arr.(*array.Binary); ok {
			return nullable(func(i int) (any, error) { return bytes.Clone(a.Value(i)), nil }), nil
		}
	}
	// TEXT, the semi-structured types and others Snowflake sends as text
	// (GEOGRAPHY, GEOMETRY); not the types handled above.
	if a, ok := arr.(*array.String); ok && !typed[c.typ] {
		json := c.typ == "VARIANT" || c.typ == "OBJECT" || c.typ == "ARRAY"
		return nullable(func(i int) (any, error) {
			s := strings.Clone(a.Value(i))
			if json {
				return source.JSON(s), nil
			}
			return s, nil
		}), nil
	}
	return nil, unsupported
}

// fieldScale reads the scale Snowflake puts in an Arrow field's metadata.
func fieldScale(f arrow.Field, def int) int {
	if v, ok := f.Metadata.GetValue("scale"); ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 9 {
			return n
		}
	}
	return def
}

// sessionLocation is the session's time zone, in which TIMESTAMP_LTZ values
// are shown: gosnowflake knows it, and puts the first value in it.
func sessionLocation(ab *sf.ArrowBatch, rec arrow.Record, idx int) *time.Location {
	arr := rec.Column(idx)
	for i := 0; i < arr.Len(); i++ {
		if arr.IsNull(i) {
			continue
		}
		if t := ab.ArrowSnowflakeTimestampToTime(rec, idx, i); t != nil {
			return t.Location()
		}
	}
	return time.UTC
}

// fromScaled splits a count of 10^-scale seconds since the epoch.
func fromScaled(v int64, scale int) time.Time {
	p := pow10[scale]
	return time.Unix(v/p, (v%p)*pow10[9-scale])
}

// timestampReader reads Snowflake's Arrow timestamp layouts: a struct of
// (epoch seconds, fraction nanoseconds[, zone]), or a count of 10^-scale
// seconds alone (NTZ, LTZ) or with a zone (TZ). A zone is the offset in
// minutes plus 1440. NTZ values are in UTC, LTZ in loc, TZ at their offset.
func timestampReader(arr arrow.Array, typ string, scale int, loc *time.Location) (reader, error) {
	if scale < 0 || scale > 9 {
		return nil, fmt.Errorf("timestamp scale %d is out of range", scale)
	}
	place := func(t time.Time, zone int32) time.Time {
		switch typ {
		case "TIMESTAMP_TZ":
			return t.In(sf.Location(int(zone) - 1440))
		case "TIMESTAMP_LTZ":
			return t.In(loc)
		}
		return t.UTC()
	}
	nullable := func(f func(i int) time.Time) reader {
		return func(i int) (any, error) {
			if arr.IsNull(i) {
				return nil, nil
			}
			return f(i), nil
		}
	}
	switch a := arr.(type) {
	case *array.Int64:
		if typ != "TIMESTAMP_TZ" {
			return nullable(func(i int) time.Time { return place(fromScaled(a.Value(i), scale), 0) }), nil
		}
	case *array.Struct:
		epoch, ok0 := a.Field(0).(*array.Int64)
		switch {
		case !ok0:
		case a.NumField() == 2 && typ == "TIMESTAMP_TZ":
			if zone, ok := a.Field(1).(*array.Int32); ok {
				return nullable(func(i int) time.Time { return place(fromScaled(epoch.Value(i), scale), zone.Value(i)) }), nil
			}
		case a.NumField() == 2 || a.NumField() == 3:
			frac, ok1 := a.Field(1).(*array.Int32)
			var zone *array.Int32
			ok2 := true
			if a.NumField() == 3 {
				zone, ok2 = a.Field(2).(*array.Int32)
			}
			if ok1 && ok2 && (zone != nil) == (typ == "TIMESTAMP_TZ") {
				return nullable(func(i int) time.Time {
					var z int32
					if zone != nil {
						z = zone.Value(i)
					}
					return place(time.Unix(epoch.Value(i), int64(frac.Value(i))), z)
				}), nil
			}
		}
	}
	return nil, fmt.Errorf("unsupported Snowflake type %s as Arrow %s", typ, arr.DataType())
}

// convertRecords turns a chunk's Arrow records into rows.
func convertRecords(ctx context.Context, ch chunk, recs []arrow.Record, cols []column, out *batcher) error {
	readers := make([]reader, len(cols))
	for _, rec := range recs {
		if int(rec.NumCols()) != len(cols) {
			return fmt.Errorf("the result has %d columns but a chunk has %d", len(cols), rec.NumCols())
		}
		for c := range cols {
			r, err := cols[c].arrowReader(ch, rec, c)
			if err != nil {
				return cols[c].errorf(err)
			}
			readers[c] = r
		}
		n := int(rec.NumRows())
		for i := 0; i < n; i++ {
			if len(out.rows) == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			row := make([]any, len(cols))
			for c, r := range readers {
				v, err := r(i)
				if err != nil {
					return cols[c].errorf(err)
				}
				row[c] = v
			}
			if err := out.add(row); err != nil {
				return err
			}
		}
	}
	return nil
}

// fromDriver converts a value gosnowflake's row scanning produced for a
// JSON result (read with WithHigherPrecision, so NUMBERs arrive as text,
// big.Int or big.Float rather than float64).
func (c *column) fromDriver(v driver.Value) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.typ {
	case "FIXED", "DECFLOAT":
		return c.fixedFromDriver(v)
	case "REAL":
		switch x := v.(type) {
		case float64:
			return x, nil
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number", x)
			}
			return f, nil
		}
	case "BOOLEAN":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(x) {
			case "1", "true":
				return true, nil
			case "0", "false":
				return false, nil
			}
			return nil, fmt.Errorf("%q is not a boolean", x)
		}
	case "DATE":
		if t, ok := v.(time.Time); ok {
			return source.Date(t.Format("2006-01-02")), nil
		}
	case "TIME":
		if t, ok := v.(time.Time); ok {
			return source.TimeOfDay(t.Format(timeLayout)), nil
		}
	case "TIMESTAMP_NTZ":
		if t, ok := v.(time.Time); ok {
			return t.UTC(), nil
		}
	case "TIMESTAMP_LTZ", "TIMESTAMP_TZ":
		if t, ok := v.(time.Time); ok {
			return t, nil
		}
	case "BINARY":
		if b, ok := v.([]byte); ok {
			return b, nil
		}
	case "VARIANT", "OBJECT", "ARRAY":
		if s, ok := v.(string); ok {
			return source.JSON(s), nil
		}
	default:
		if s, ok := v.(string); ok {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unexpected driver value %T", v)
}

func (c *column) fixedFromDriver(v driver.Value) (any, error) {
	switch x := v.(type) {
	case string:
		d, err := sqlsource.CanonicalDecimal(x)
		if err != nil {
			return nil, err
		}
		if c.scale > 0 || strings.Contains(d, ".") {
			return source.Decimal(d), nil
		}
		b, _ := new(big.Int).SetString(d, 10) // canonical integer text always parses
		return fixed(b, 0), nil
	case int64:
		if c.scale == 0 {
			return x, nil
		}
	case big.Int:
		return fixed(&x, 0), nil
	case *big.Int:
		return fixed(x, 0), nil
	case big.Float:
		return source.Decimal(x.Text('f', c.scale)), nil
	case *big.Float:
		return source.Decimal(x.Text('f', c.scale)), nil
	}
	return nil, fmt.Errorf("unexpected driver value %T", v)
}
