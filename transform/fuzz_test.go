package transform

import (
	"math/big"
	"testing"
	"time"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
)

// fuzzSyncs map columns of every value type through every field type and
// a few expressions, one field a sync so that a field that fails does not
// hide the others from the fuzzer.
func fuzzSyncs() []*config.Sync {
	var entries []config.Mapping
	types := []config.FieldType{config.TypeAuto, config.TypeString, config.TypeNumber, config.TypeInteger,
		config.TypeBoolean, config.TypeDate, config.TypeDateTime}
	for _, col := range fuzzColumns {
		for _, t := range types {
			entries = append(entries, config.Mapping{From: col, Type: t})
		}
	}
	entries = append(entries,
		config.Mapping{From: "S", Type: config.TypeDate, Format: "02/01/2006"},
		config.Mapping{From: "S", Type: config.TypeDateTime, Format: "02/01/2006 15:04 MST"},
		config.Mapping{From: "S", Null: config.NullIgnore, When: "B"},
	)
	for _, e := range []string{"S + 'x'", "I * 2", "F > 1 ? DEC : S", "len(S) > 3 ? I : F", "DEC + F", "fromJSON(J)",
		"date(D)", "upper(S)", "T", "BIG", "I / F", "int(S)", "$env.RAW"} {
		entries = append(entries, config.Mapping{Expr: e}, config.Mapping{Expr: e, Type: config.TypeString, When: "len(S) > 2"})
	}
	var syncs []*config.Sync
	for i, e := range entries {
		e.To = "Out__c"
		e.Pos = config.Pos{File: "syncs/fuzz.yaml", Line: i + 1, Col: 3}
		syncs = append(syncs, &config.Sync{File: "syncs/fuzz.yaml", Name: "fuzz", Key: "S", Filter: "S != 'skip'",
			Mapping: []*config.Mapping{&e}})
	}
	return syncs
}

var fuzzColumns = []string{"S", "DEC", "D", "TOD", "J", "I", "F", "B", "T", "RAW", "BIG"}

func FuzzTransform(f *testing.F) {
	var ms []*Mapping
	for _, s := range fuzzSyncs() {
		m, err := Compile(s)
		if err != nil {
			f.Fatal(err)
		}
		ms = append(ms, m)
	}
	f.Fuzz(func(t *testing.T, s string, i int64, fl float64, b bool, raw []byte) {
		bi := new(big.Int).SetBytes(raw)
		if b {
			bi.Neg(bi)
		}
		zone := time.FixedZone("", int(i%(14*3600)))
		row := []any{s, source.Decimal(s), source.Date(s), source.TimeOfDay(s), source.JSON(s), i, fl, b,
			time.Unix(i, int64(len(raw))).In(zone), raw, bi}
		if i%3 == 0 {
			row[uint64(i)%uint64(len(row))] = nil
		}
		for _, m := range ms {
			rec, err := m.Transform(Row{Columns: fuzzColumns, Values: row})
			if err != nil {
				if n := len(err.Error()); n > 1000 {
					t.Fatalf("error of %d bytes: %.200s", n, err)
				}
				continue
			}
			for j, v := range rec.Values {
				if !wellFormed(v) {
					t.Fatalf("%s: malformed %s value %q", rec.Layout.Fields[j], v.Kind, v.S)
				}
			}
		}
	})
}

// wellFormed reports whether a value is what its kind promises.
func wellFormed(v sink.Value) bool {
	switch v.Kind {
	case sink.Absent, sink.Null:
		return v.S == ""
	case sink.Number:
		d, ok := parseDecimal(v.S, &arena{})
		return ok && d.text == v.S
	case sink.Bool:
		return v.S == "true" || v.S == "false"
	case sink.Date:
		return isDate(v.S)
	case sink.DateTime:
		_, err := time.Parse("2006-01-02T15:04:05.000Z07:00", v.S)
		return err == nil && len(v.S) >= 24
	case sink.Text:
		return true
	}
	return false
}
