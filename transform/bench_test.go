package transform

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/source"
)

// benchMapping is an 8-column account row (strings, int64, Decimal,
// time.Time, NULL, bool) mapped field for field, keyed by external id.
func benchMapping(tb testing.TB) (*Mapping, []string, []any) {
	cols := []string{"ACCOUNT_ID", "NAME", "INDUSTRY", "EMPLOYEES", "ARR", "SIGNED_UP_AT", "CHURNED_AT", "IS_ACTIVE"}
	targets := []string{"External_Id__c", "Name", "Industry", "NumberOfEmployees", "ARR__c", "Signed_Up__c", "Churned__c", "Active__c"}
	s := &config.Sync{File: "syncs/accounts.yaml", Name: "accounts"}
	for i, c := range cols {
		s.Mapping = append(s.Mapping, &config.Mapping{From: c, To: targets[i], Pos: config.Pos{File: s.File, Line: 10 + i}})
	}
	m, err := Compile(s)
	require.NoError(tb, err)
	row := []any{"ACC-000123", "Acme Corporation", "Manufacturing", int64(1250), source.Decimal("1250000.50"),
		time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC), nil, true}
	return m, cols, row
}

func BenchmarkTransform(b *testing.B) {
	m, cols, row := benchMapping(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Transform(Row{Columns: cols, Values: row}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkTransformExpr adds a when condition and a computed field to the
// 8 columns, for the cost of expressions.
func BenchmarkTransformExpr(b *testing.B) {
	m, cols, row := benchMapping(b)
	s := &config.Sync{File: "syncs/accounts.yaml", Name: "accounts"}
	for i, c := range cols {
		s.Mapping = append(s.Mapping, &config.Mapping{From: c, To: m.layout.Fields[i]})
	}
	s.Mapping[2].When = "IS_ACTIVE"
	s.Mapping = append(s.Mapping, &config.Mapping{Expr: "EMPLOYEES > 1000 ? 'large' : 'small'", To: "Size__c"})
	m, err := Compile(s)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Transform(Row{Columns: cols, Values: row}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkTransformParallel(b *testing.B) {
	m, cols, row := benchMapping(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Transform(Row{Columns: cols, Values: row}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTransformExprNull is BenchmarkTransformExpr on a row whose
// expression columns are NULL, for the cost of the NULL rules.
func BenchmarkTransformExprNull(b *testing.B) {
	m, cols, row := benchMapping(b)
	s := &config.Sync{File: "syncs/accounts.yaml", Name: "accounts"}
	for i, c := range cols {
		s.Mapping = append(s.Mapping, &config.Mapping{From: c, To: m.layout.Fields[i]})
	}
	s.Mapping[2].When = "IS_ACTIVE and EMPLOYEES > 10"
	s.Mapping = append(s.Mapping, &config.Mapping{Expr: "EMPLOYEES > 1000 ? 'large' : 'small'", To: "Size__c"})
	m, err := Compile(s)
	require.NoError(b, err)
	row = append([]any(nil), row...)
	row[3], row[7] = nil, nil // EMPLOYEES, IS_ACTIVE
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Transform(Row{Columns: cols, Values: row}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
