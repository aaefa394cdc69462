package transform

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
)

const syncFile = "syncs/accounts.yaml"

// entry returns a mapping entry on the given line of the sync file.
func entry(line int, m config.Mapping) *config.Mapping {
	m.Pos = config.Pos{File: syncFile, Line: line, Col: 5}
	return &m
}

func newSync(entries ...*config.Mapping) *config.Sync {
	return &config.Sync{
		File:    syncFile,
		Pos:     config.Pos{File: syncFile, Line: 1, Col: 1},
		Name:    "accounts",
		Mapping: entries,
	}
}

func compile(t *testing.T, s *config.Sync, opts ...Option) *Mapping {
	t.Helper()
	m, err := Compile(s, opts...)
	require.NoError(t, err)
	return m
}

func transformOK(t *testing.T, m *Mapping, cols []string, vals ...any) sink.Record {
	t.Helper()
	rec, err := m.Transform(Row{Columns: cols, Values: vals})
	require.NoError(t, err)
	return rec
}

func TestCompileErrors(t *testing.T) {
	from := func(col, to string) *config.Mapping { return entry(4, config.Mapping{From: col, To: to}) }
	tests := []struct {
		name string
		sync *config.Sync
		err  string
	}{
		{
			name: "sync null policy",
			sync: func() *config.Sync { s := newSync(from("ID", "Id")); s.NullPolicy = "drop"; return s }(),
			err:  `syncs/accounts.yaml:1:1: key "null_policy": unknown null policy "drop" (clear or ignore)`,
		},
		{
			name: "nil entry",
			sync: newSync(from("ID", "Id"), nil),
			err:  `syncs/accounts.yaml:1:1: key "mapping[1]": entry is empty`,
		},
		{
			name: "no target",
			sync: newSync(entry(6, config.Mapping{From: "ID", To: " "})),
			err:  `syncs/accounts.yaml:6:5: key "mapping[0].to": to is required`,
		},
		{
			name: "target twice",
			sync: newSync(from("ID", "Name"), entry(9, config.Mapping{From: "NAME", To: "name"})),
			err:  `syncs/accounts.yaml:9:5: key "mapping[1].to": name is already the target of mapping[0]`,
		},
		{
			name: "no source",
			sync: newSync(entry(7, config.Mapping{To: "Name"})),
			err:  `syncs/accounts.yaml:7:5: key "mapping[0]": set exactly one of from, value and expr`,
		},
		{
			name: "two sources",
			sync: newSync(entry(7, config.Mapping{To: "Name", From: "NAME", Expr: "NAME"})),
			err:  `syncs/accounts.yaml:7:5: key "mapping[0]": set exactly one of from, value and expr`,
		},
		{
			name: "unknown type",
			sync: newSync(entry(7, config.Mapping{To: "Name", From: "NAME", Type: "money"})),
			err:  `syncs/accounts.yaml:7:5: key "mapping[0].type": unknown type "money" (string, number, integer, boolean, date or datetime)`,
		},
		{
			name: "format without a date type",
			sync: newSync(entry(7, config.Mapping{To: "Name", From: "NAME", Type: config.TypeNumber, Format: "0.00"})),
			err:  `syncs/accounts.yaml:7:5: key "mapping[0].format": format needs type date or datetime`,
		},
		{
			name: "field null policy",
			sync: newSync(entry(7, config.Mapping{To: "Name", From: "NAME", Null: "keep"})),
			err:  `syncs/accounts.yaml:7:5: key "mapping[0].null": unknown null policy "keep" (clear or ignore)`,
		},
		{
			name: "constant that does not convert",
			sync: newSync(entry(8, config.Mapping{To: "Employees", Value: "many", HasValue: true, Type: config.TypeInteger})),
			err:  `syncs/accounts.yaml:8:5: key "mapping[0].value": cannot convert "many" to integer`,
		},
		{
			name: "constant of unsupported type",
			sync: newSync(entry(8, config.Mapping{To: "Tags", Value: []any{"a"}, HasValue: true})),
			err:  `syncs/accounts.yaml:8:5: key "mapping[0].value": unsupported value of type []interface {} (toJSON makes it text)`,
		},
		{
			name: "expression syntax",
			sync: newSync(from("ID", "Id"), entry(12, config.Mapping{To: "Score__c", Expr: "AMOUNT *"})),
			err:  `syncs/accounts.yaml:12:5: key "mapping[1].expr": unexpected token EOF (1:8)`,
		},
		{
			name: "expression that cannot type-check",
			sync: newSync(entry(12, config.Mapping{To: "Score__c", Expr: "'a' - 1"})),
			err:  `syncs/accounts.yaml:12:5: key "mapping[0].expr": invalid operation: - (mismatched types string and int) (1:5)`,
		},
		{
			name: "blank expression",
			sync: newSync(entry(12, config.Mapping{To: "Score__c", Expr: "  "})),
			err:  `syncs/accounts.yaml:12:5: key "mapping[0].expr": expression is empty`,
		},
		{
			name: "unknown function",
			sync: newSync(entry(12, config.Mapping{To: "Score__c", Expr: "score(AMOUNT)"})),
			err:  `syncs/accounts.yaml:12:5: key "mapping[0].expr": unknown function score`,
		},
		{
			name: "when that is not a bool",
			sync: newSync(from("ID", "Id"), from("NAME", "Name"), entry(14, config.Mapping{To: "Tier__c", From: "TIER", When: "1 + 2"})),
			err:  `syncs/accounts.yaml:14:5: key "mapping[2].when": expected bool, but got int`,
		},
		{
			name: "when syntax",
			sync: newSync(entry(14, config.Mapping{To: "Tier__c", From: "TIER", When: "TIER =="})),
			err:  `syncs/accounts.yaml:14:5: key "mapping[0].when": unexpected token EOF (1:7)`,
		},
		{
			name: "filter syntax",
			sync: func() *config.Sync { s := newSync(from("ID", "Id")); s.Filter = "ACTIVE and"; return s }(),
			err:  `syncs/accounts.yaml:1:1: key "filter": unexpected token EOF (1:10)`,
		},
		{
			name: "filter that is not a bool",
			sync: func() *config.Sync { s := newSync(from("ID", "Id")); s.Filter = `"yes"`; return s }(),
			err:  `syncs/accounts.yaml:1:1: key "filter": expected bool, but got string`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compile(tt.sync)
			require.EqualError(t, err, tt.err)
			assert.Nil(t, m)
			var ce *CompileError
			assert.ErrorAs(t, err, &ce)
		})
	}
}

func TestCompileNilSync(t *testing.T) {
	_, err := Compile(nil)
	require.EqualError(t, err, "transform: no sync to compile")
}

func TestCompileErrorUsesSyncFileWhenEntryHasNone(t *testing.T) {
	s := newSync(&config.Mapping{To: "Name", Pos: config.Pos{Line: 3, Col: 5}})
	_, err := Compile(s)
	require.EqualError(t, err, `syncs/accounts.yaml:3:5: key "mapping[0]": set exactly one of from, value and expr`)
}

func TestLayout(t *testing.T) {
	s := newSync(
		entry(3, config.Mapping{From: "ID", To: "External_Id__c"}),
		entry(4, config.Mapping{From: "NAME", To: "Name"}),
		entry(5, config.Mapping{From: "TIER", To: "Tier__c", SetIfEmpty: true}),
		entry(6, config.Mapping{From: "OWNER", To: "Owner.Email__c"}),
	)
	m := compile(t, s)
	l := m.Layout()
	assert.Equal(t, []string{"External_Id__c", "Name", "Tier__c", "Owner.Email__c"}, l.Fields)
	assert.Equal(t, []bool{false, false, true, false}, l.Guarded)
	assert.True(t, l.HasGuarded())
	assert.Equal(t, 2, l.Index("tier__c"))

	rec := transformOK(t, m, []string{"ID", "NAME", "TIER", "OWNER"}, "A-1", "Acme", "gold", "o@x.com")
	assert.Same(t, l, rec.Layout)
	assert.Nil(t, l.Truncate, "no field is truncated")
	assert.False(t, l.Truncated(1))
}

func TestLayoutTruncate(t *testing.T) {
	s := newSync(
		entry(3, config.Mapping{From: "ID", To: "External_Id__c"}),
		entry(4, config.Mapping{From: "NAME", To: "Name", Truncate: true}),
	)
	l := compile(t, s).Layout()
	assert.Equal(t, []bool{false, true}, l.Truncate)
	assert.False(t, l.Truncated(0))
	assert.True(t, l.Truncated(1))
	assert.False(t, l.Truncated(2), "past the fields")
}

func TestTransformFromEveryType(t *testing.T) {
	cols := []string{"ID", "NAME", "EMPLOYEES", "REVENUE", "CREATED_AT", "CLOSED_AT", "ACTIVE", "FOUNDED", "OPENS", "PROFILE", "LOGO", "SCORE", "BIG"}
	s := newSync()
	for i, c := range cols {
		s.Mapping = append(s.Mapping, entry(3+i, config.Mapping{From: strings.ToLower(c), To: c + "__c"}))
	}
	m := compile(t, s)
	created := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	rec := transformOK(t, m, cols,
		"A-1", "Acme", int64(250), source.Decimal("1250000.50"), created, nil, true,
		source.Date("1999-12-31"), source.TimeOfDay("09:00:00"), source.JSON(`{"plan":"pro"}`), []byte("png"), 0.25,
		bigInt(t, "99999999999999999999"))
	assert.Equal(t, []sink.Value{
		text("A-1"), text("Acme"), num("250"), num("1250000.50"), dt("2024-05-01T10:00:00.000Z"), sink.NullValue(), yes,
		date("1999-12-31"), text("09:00:00.000Z"), text(`{"plan":"pro"}`), text("cG5n"), num("0.25"),
		num("99999999999999999999"),
	}, rec.Values)
}

func TestNullPolicies(t *testing.T) {
	tests := []struct {
		sync  config.NullPolicy
		field config.NullPolicy
		want  sink.Kind
	}{
		{"", "", sink.Null},
		{config.NullClear, "", sink.Null},
		{config.NullIgnore, "", sink.Absent},
		{"", config.NullIgnore, sink.Absent},
		{config.NullClear, config.NullIgnore, sink.Absent},
		{config.NullIgnore, config.NullClear, sink.Null},
		{config.NullIgnore, config.NullIgnore, sink.Absent},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("sync %q field %q", tt.sync, tt.field), func(t *testing.T) {
			s := newSync(
				entry(3, config.Mapping{From: "PHONE", To: "Phone", Null: tt.field}),
				entry(4, config.Mapping{Expr: "PHONE", To: "Fax", Null: tt.field}),
				entry(5, config.Mapping{Value: nil, HasValue: true, To: "Website", Null: tt.field}),
			)
			s.NullPolicy = tt.sync
			rec := transformOK(t, compile(t, s), []string{"PHONE"}, nil)
			assert.Equal(t, tt.want, rec.Values[0].Kind, "from")
			assert.Equal(t, tt.want, rec.Values[1].Kind, "expression that is nil")
			assert.Equal(t, sink.Null, rec.Values[2].Kind, "a constant null always clears")
		})
	}
}

func TestConstants(t *testing.T) {
	s := newSync(
		entry(3, config.Mapping{To: "Source__c", Value: "retl", HasValue: true}),
		entry(4, config.Mapping{To: "Rank__c", Value: int64(3), HasValue: true}),
		entry(5, config.Mapping{To: "Big__c", Value: uint64(math.MaxUint64), HasValue: true}),
		entry(6, config.Mapping{To: "Rate__c", Value: 0.5, HasValue: true}),
		entry(7, config.Mapping{To: "Active__c", Value: "yes", HasValue: true, Type: config.TypeBoolean}),
		entry(8, config.Mapping{To: "Since__c", Value: "2020-01-31", HasValue: true, Type: config.TypeDate}),
		entry(9, config.Mapping{To: "Cleared__c", Value: nil, HasValue: true}),
	)
	rec := transformOK(t, compile(t, s), nil)
	assert.Equal(t, []sink.Value{
		text("retl"), num("3"), num("18446744073709551615"), num("0.5"), yes, date("2020-01-31"), sink.NullValue(),
	}, rec.Values)
}

func TestExpressions(t *testing.T) {
	cols := []string{"NAME", "AMOUNT", "EMPLOYEES", "CREATED", "FOUNDED", "PROFILE", "TIER", "WIDE"}
	row := []any{"acme", source.Decimal("12.50"), int64(40), time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		source.Date("1999-12-31"), source.JSON(`{"plan":"pro"}`), nil, bigInt(t, "100000000000000000000")}
	tests := []struct {
		expr string
		typ  config.FieldType
		want sink.Value
	}{
		{expr: "upper(NAME)", want: text("ACME")},
		{expr: "name + '!'", want: text("acme!")},
		{expr: "AMOUNT * 2", want: num("25")},
		{expr: "AMOUNT > 10", want: yes},
		{expr: "EMPLOYEES + 2", want: num("42")},
		{expr: "EMPLOYEES / 8", want: num("5")},
		{expr: "EMPLOYEES > 100 ? 'large' : 'small'", want: text("small")},
		{expr: "CREATED", want: dt("2024-05-01T10:00:00.000Z")},
		{expr: "CREATED", typ: config.TypeDate, want: date("2024-05-01")},
		{expr: "FOUNDED < '2000-01-01'", want: yes},
		{expr: "date(FOUNDED).Year()", want: num("1999")},
		{expr: "FOUNDED", typ: config.TypeDate, want: date("1999-12-31")},
		{expr: "fromJSON(PROFILE).plan", want: text("pro")},
		{expr: "TIER ?? 'bronze'", want: text("bronze")},
		{expr: "TIER == nil", want: yes},
		{expr: "WIDE > 1e19", want: yes},
		{expr: "let x = EMPLOYEES; x * x", want: num("1600")},
		{expr: "$env.NAME", want: text("acme")},
		{expr: "$env['AMOUNT'] > 12", want: yes},
		{expr: "'NAME' in $env", want: yes},
		{expr: "toJSON({'n': EMPLOYEES})", want: text("{\n  \"n\": 40\n}")},
		{expr: "string(EMPLOYEES)", typ: config.TypeInteger, want: num("40")},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			m := compile(t, newSync(entry(3, config.Mapping{Expr: tt.expr, To: "Out__c", Type: tt.typ})))
			rec := transformOK(t, m, cols, row...)
			assert.Equal(t, tt.want, rec.Values[0])
		})
	}
}

func TestWhen(t *testing.T) {
	s := newSync(
		entry(3, config.Mapping{From: "TIER", To: "Tier__c", When: "TIER != nil && ACTIVE"}),
		entry(4, config.Mapping{Value: "VIP", HasValue: true, To: "Segment__c", When: "AMOUNT > 1000"}),
		entry(5, config.Mapping{Expr: "AMOUNT / 2", To: "Half__c", When: "AMOUNT > 1000"}),
	)
	m := compile(t, s)
	cols := []string{"TIER", "ACTIVE", "AMOUNT"}

	rec := transformOK(t, m, cols, "gold", true, int64(5000))
	assert.Equal(t, []sink.Value{text("gold"), text("VIP"), num("2500")}, rec.Values)

	rec = transformOK(t, m, cols, "gold", false, int64(10))
	assert.Equal(t, []sink.Value{{}, {}, {}}, rec.Values, "a false condition leaves the field absent")
	for _, v := range rec.Values {
		assert.Equal(t, sink.Absent, v.Kind)
	}

	rec = transformOK(t, m, cols, nil, true, int64(10))
	assert.Equal(t, sink.Absent, rec.Values[0].Kind)
}

func TestWhenNullIsFalse(t *testing.T) {
	m := compile(t, newSync(entry(3, config.Mapping{From: "TIER", To: "Tier__c", When: "ACTIVE"})))
	rec := transformOK(t, m, []string{"TIER", "ACTIVE"}, "gold", nil)
	assert.Equal(t, sink.Absent, rec.Values[0].Kind)
}

func TestRowErrors(t *testing.T) {
	cols := []string{"NAME", "TIER", "ACTIVE"}
	tests := []struct {
		name  string
		entry config.Mapping
		good  []any
		bad   []any
		err   string
	}{
		{
			name:  "conversion",
			entry: config.Mapping{From: "TIER", To: "Tier__c", Type: config.TypeNumber},
			good:  []any{"Globex", "3", true},
			bad:   []any{"Acme", "abc", true},
			err:   `Tier__c: cannot convert "abc" to number`,
		},
		{
			name:  "expression type mismatch",
			entry: config.Mapping{Expr: "TIER * 2", To: "Score__c"},
			good:  []any{"Globex", int64(3), true},
			bad:   []any{"Acme", "abc", true},
			err:   "Score__c: invalid operation: string * int (1:6)",
		},
		{
			name:  "expression result that is not a value",
			entry: config.Mapping{Expr: "ACTIVE ? {'a': NAME} : NAME", To: "Score__c"},
			good:  []any{"Globex", nil, false},
			bad:   []any{"Acme", nil, true},
			err:   "Score__c: unsupported value of type map[string]interface {} (toJSON makes it text)",
		},
		{
			name:  "when that is not a bool at run time",
			entry: config.Mapping{From: "TIER", To: "Tier__c", When: "ACTIVE"},
			good:  []any{"Globex", "gold", true},
			bad:   []any{"Acme", "gold", "yes"},
			err:   "Tier__c: when: result is string, not bool",
		},
		{
			name:  "when that fails",
			entry: config.Mapping{From: "TIER", To: "Tier__c", When: "ACTIVE > 3"},
			good:  []any{"Globex", "gold", int64(4)},
			bad:   []any{"Acme", "gold", "abc"},
			err:   "Tier__c: when: invalid operation: string > int (1:8)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := compile(t, newSync(entry(3, config.Mapping{From: "NAME", To: "Name"}), entry(4, tt.entry)))

			transformOK(t, m, cols, tt.good...)
			_, err := m.Transform(Row{Columns: cols, Values: tt.bad})
			require.EqualError(t, err, tt.err)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			_, _, skipped := SkipReason(err)
			assert.False(t, skipped)
			rec := transformOK(t, m, cols, tt.good...)
			assert.Equal(t, text("Globex"), rec.Values[0], "the next row is unaffected")
		})
	}
}

func TestFieldErrorUnwraps(t *testing.T) {
	inner := errors.New("boom")
	err := error(&FieldError{Field: "Name", Err: inner})
	assert.ErrorIs(t, err, inner)
	assert.EqualError(t, err, "Name: boom")
}

func TestFilter(t *testing.T) {
	cols := []string{"ID", "ACTIVE", "AMOUNT"}
	tests := []struct {
		filter string
		row    []any
		skip   bool
	}{
		{filter: "ACTIVE && AMOUNT > 0", row: []any{"1", true, source.Decimal("0.01")}},
		{filter: "ACTIVE && AMOUNT > 0", row: []any{"2", false, source.Decimal("5")}, skip: true},
		{filter: "ACTIVE && AMOUNT > 0", row: []any{"3", true, source.Decimal("0")}, skip: true},
		{filter: "ACTIVE == true", row: []any{"4", nil, nil}, skip: true},
		{filter: "ACTIVE", row: []any{"5", nil, nil}, skip: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.filter, tt.row), func(t *testing.T) {
			s := newSync(entry(3, config.Mapping{From: "ID", To: "Id"}))
			s.Filter = tt.filter
			rec, err := compile(t, s).Transform(Row{Columns: cols, Values: tt.row})
			if !tt.skip {
				require.NoError(t, err)
				assert.Equal(t, tt.row[0], rec.Values[0].S)
				return
			}
			code, _, ok := SkipReason(err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, sink.SkipFiltered, code)
			assert.EqualError(t, err, fmt.Sprintf("filter %q is not true: skipped: filtered", tt.filter))
		})
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct {
		filter string
		err    string
	}{
		{filter: "NAME", err: "filter: result is string, not bool"},
		{filter: "NAME > 1", err: "filter: invalid operation: string > int (1:6)"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			s := newSync(entry(3, config.Mapping{From: "NAME", To: "Name"}))
			s.Filter = tt.filter
			_, err := compile(t, s).Transform(Row{Columns: []string{"NAME"}, Values: []any{"Acme"}})
			require.EqualError(t, err, tt.err)
			_, _, skipped := SkipReason(err)
			assert.False(t, skipped)
		})
	}
}

// TestKey: a sync's key column gives each record its key, mapped or not.
// Without one the Engine keys records by the field the destination finds
// them by (sink.Description.KeyField).
func TestKey(t *testing.T) {
	cols := []string{"ACCOUNT_ID", "EMAIL", "SF_ID", "AMOUNT"}
	row := []any{int64(77), "a@x.com", "001A", source.Decimal("9.90")}
	tests := []struct {
		name    string
		key     string
		entries []*config.Mapping
		row     []any
		want    string
	}{
		{
			name:    "sync key column, even when not mapped",
			key:     "account_id",
			entries: []*config.Mapping{entry(3, config.Mapping{From: "EMAIL", To: "Email__c"})},
			want:    "77",
		},
		{
			name:    "sync key column of a decimal",
			key:     "AMOUNT",
			entries: []*config.Mapping{entry(3, config.Mapping{From: "EMAIL", To: "Email__c"})},
			want:    "9.90",
		},
		{
			name:    "sync key column that is null",
			key:     "AMOUNT",
			entries: []*config.Mapping{entry(3, config.Mapping{From: "EMAIL", To: "Email__c"})},
			row:     []any{int64(77), "a@x.com", "001A", nil},
			want:    "",
		},
		{
			name:    "sync key column with no text form",
			key:     "AMOUNT",
			entries: []*config.Mapping{entry(3, config.Mapping{From: "EMAIL", To: "Email__c"})},
			row:     []any{int64(77), "a@x.com", "001A", math.NaN()},
			want:    "",
		},
		{
			name:    "no key column",
			entries: []*config.Mapping{entry(3, config.Mapping{From: "EMAIL", To: "Email__c"})},
			want:    "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSync(tt.entries...)
			s.Key = tt.key
			r := row
			if tt.row != nil {
				r = tt.row
			}
			rec := transformOK(t, compile(t, s), cols, r...)
			assert.Equal(t, tt.want, rec.Key)
		})
	}
}

func TestColumnsMatchRegardlessOfCase(t *testing.T) {
	s := newSync(
		entry(3, config.Mapping{From: "account_name", To: "Name"}),
		entry(4, config.Mapping{Expr: "Amount * 2", To: "Double__c"}),
	)
	rec := transformOK(t, compile(t, s), []string{"ACCOUNT_NAME", "AMOUNT"}, "Acme", int64(4))
	assert.Equal(t, []sink.Value{text("Acme"), num("8")}, rec.Values)
}

func TestColumnsExactCaseWins(t *testing.T) {
	// A quoted identifier can keep its case beside an unquoted one.
	m := compile(t, newSync(entry(3, config.Mapping{From: "name", To: "Name"})))
	rec := transformOK(t, m, []string{"NAME", "name"}, "upper", "lower")
	assert.Equal(t, text("lower"), rec.Values[0])
}

func TestColumnErrors(t *testing.T) {
	withKey := func(s *config.Sync, key string) *config.Sync { s.Key = key; return s }
	withFilter := func(s *config.Sync, f string) *config.Sync { s.Filter = f; return s }
	tests := []struct {
		name string
		sync *config.Sync
		cols []string
		err  string
	}{
		{
			name: "from",
			sync: newSync(entry(3, config.Mapping{From: "ID", To: "Id"}), entry(4, config.Mapping{From: "TIER", To: "Tier__c"})),
			cols: []string{"ID", "NAME"},
			err:  `syncs/accounts.yaml:4:5: key "mapping[1].from": column "TIER" not in the query's result (columns: ID, NAME)`,
		},
		{
			name: "expression",
			sync: newSync(entry(5, config.Mapping{Expr: "upper(TIER)", To: "Tier__c"})),
			cols: []string{"ID"},
			err:  `syncs/accounts.yaml:5:5: key "mapping[0].expr": column "TIER" not in the query's result (columns: ID)`,
		},
		{
			name: "when",
			sync: newSync(entry(5, config.Mapping{From: "ID", To: "Id", When: "ACTIVE"})),
			cols: []string{"ID"},
			err:  `syncs/accounts.yaml:5:5: key "mapping[0].when": column "ACTIVE" not in the query's result (columns: ID)`,
		},
		{
			name: "filter",
			sync: withFilter(newSync(entry(5, config.Mapping{From: "ID", To: "Id"})), "DELETED == false"),
			cols: []string{"ID"},
			err:  `syncs/accounts.yaml:1:1: key "filter": column "DELETED" not in the query's result (columns: ID)`,
		},
		{
			name: "key",
			sync: withKey(newSync(entry(5, config.Mapping{From: "ID", To: "Id"})), "ROW_ID"),
			cols: []string{"ID"},
			err:  `syncs/accounts.yaml:1:1: key "key": column "ROW_ID" not in the query's result (columns: ID)`,
		},
		{
			name: "name twice",
			sync: newSync(entry(5, config.Mapping{From: "ID", To: "Id"})),
			cols: []string{"ID", "ID"},
			err:  `syncs/accounts.yaml:5:5: key "mapping[0].from": column "ID" appears 2 times in the query's result`,
		},
		{
			name: "name twice in other cases",
			sync: newSync(entry(5, config.Mapping{From: "id", To: "Id"})),
			cols: []string{"ID", "Id"},
			err:  `syncs/accounts.yaml:5:5: key "mapping[0].from": column "id" matches 2 columns of the query's result that differ only in case`,
		},
		{
			name: "many columns are listed short",
			sync: newSync(entry(5, config.Mapping{From: "X", To: "Id"})),
			cols: strings.Split(strings.Repeat("SOME_LONG_COLUMN_NAME,", 30), ",")[:30],
			err: `syncs/accounts.yaml:5:5: key "mapping[0].from": column "X" not in the query's result (columns: ` +
				strings.Repeat("SOME_LONG_COLUMN_NAME, ", 8) + "SOME_LONG_COLUMN…)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := compile(t, tt.sync)
			vals := make([]any, len(tt.cols))
			for range 2 { // the same error for every row with these columns
				_, err := m.Transform(Row{Columns: tt.cols, Values: vals})
				require.EqualError(t, err, tt.err)
				var ce *CompileError
				require.ErrorAs(t, err, &ce)
			}
		})
	}
}

func TestRowShapeMismatch(t *testing.T) {
	m := compile(t, newSync(entry(3, config.Mapping{From: "ID", To: "Id"})))
	_, err := m.Transform(Row{Columns: []string{"ID", "NAME"}, Values: []any{"1"}})
	require.EqualError(t, err, "row has 1 values for 2 columns")
}

func TestColumnsRebindWhenTheyChange(t *testing.T) {
	s := newSync(
		entry(3, config.Mapping{From: "ID", To: "Id"}),
		entry(4, config.Mapping{Expr: "NAME + '!'", To: "Name"}),
	)
	m := compile(t, s)

	rec := transformOK(t, m, []string{"ID", "NAME"}, "1", "a")
	assert.Equal(t, []sink.Value{text("1"), text("a!")}, rec.Values)
	first := m.cur.Load()

	// A new slice with the same names (the next batch) keeps the binding.
	rec = transformOK(t, m, []string{"ID", "NAME"}, "2", "b")
	assert.Equal(t, []sink.Value{text("2"), text("b!")}, rec.Values)
	assert.Same(t, first, m.cur.Load())

	// Other names, in another order, bind again.
	rec = transformOK(t, m, []string{"NAME", "EXTRA", "ID"}, "c", 1.5, "3")
	assert.Equal(t, []sink.Value{text("3"), text("c!")}, rec.Values)
	assert.NotSame(t, first, m.cur.Load())

	_, err := m.Transform(Row{Columns: []string{"ID"}, Values: []any{"4"}})
	require.Error(t, err)
	rec = transformOK(t, m, []string{"NAME", "ID"}, "d", "5")
	assert.Equal(t, []sink.Value{text("5"), text("d!")}, rec.Values, "a good result after a bad one")
}

func TestEnvShowsOnlyTheCurrentColumns(t *testing.T) {
	m := compile(t, newSync(entry(3, config.Mapping{Expr: "'EXTRA' in $env", To: "Has_Extra__c"})))
	rec := transformOK(t, m, []string{"ID", "EXTRA"}, "1", "x")
	assert.Equal(t, yes, rec.Values[0])
	rec = transformOK(t, m, []string{"ID"}, "2")
	assert.Equal(t, no, rec.Values[0])
}

func TestRecordsStayIntact(t *testing.T) {
	// Values are cut from shared slabs and chunks; later rows must not
	// change earlier records, nor may appending to one record's values.
	m := compile(t, newSync(
		entry(3, config.Mapping{From: "N", To: "N__c"}),
		entry(4, config.Mapping{From: "T", To: "T__c"}),
	))
	cols := []string{"N", "T"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []sink.Record
	for i := range 3000 {
		recs = append(recs, transformOK(t, m, cols, int64(i), base.Add(time.Duration(i)*time.Hour)))
	}
	_ = append(recs[0].Values, text("extra"))
	for i, r := range recs {
		require.Equal(t, fmt.Sprint(i), r.Values[0].S)
		require.Equal(t, base.Add(time.Duration(i)*time.Hour).Format("2006-01-02T15:04:05.000Z07:00"), r.Values[1].S)
		require.Equal(t, len(r.Values), cap(r.Values))
	}
}

func TestConcurrentTransforms(t *testing.T) {
	s := newSync(
		entry(3, config.Mapping{From: "ID", To: "External_Id__c"}),
		entry(4, config.Mapping{From: "AMOUNT", To: "Amount__c"}),
		entry(5, config.Mapping{Expr: "AMOUNT * 2", To: "Double__c", When: "AMOUNT % 2 == 0"}),
	)
	s.Key = "ID"
	m := compile(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			cols := []string{"ID", "AMOUNT"}
			if g%2 == 1 {
				cols = []string{"AMOUNT", "ID"} // goroutines with other columns rebind
			}
			for i := range 2000 {
				n := int64(g*10000 + i)
				vals := []any{fmt.Sprint(n), n}
				if g%2 == 1 {
					vals[0], vals[1] = vals[1], vals[0]
				}
				rec, err := m.Transform(Row{Columns: cols, Values: vals})
				if err != nil {
					errs <- err
					return
				}
				want := []sink.Value{text(fmt.Sprint(n)), num(fmt.Sprint(n)), {}}
				if n%2 == 0 {
					want[2] = num(fmt.Sprint(2 * n))
				}
				if !assert.Equal(t, want, rec.Values) || !assert.Equal(t, fmt.Sprint(n), rec.Key) {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestWithLocation(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	s := newSync(entry(3, config.Mapping{From: "AT", To: "At__c", Type: config.TypeDateTime, Format: "2006-01-02 15:04"}))
	rec := transformOK(t, compile(t, s, WithLocation(ny)), []string{"AT"}, "2024-01-15 09:30")
	assert.Equal(t, dt("2024-01-15T09:30:00.000-05:00"), rec.Values[0])

	rec = transformOK(t, compile(t, s, WithLocation(nil)), []string{"AT"}, "2024-01-15 09:30")
	assert.Equal(t, dt("2024-01-15T09:30:00.000Z"), rec.Values[0], "nil keeps UTC")
}

func TestWithExprOptions(t *testing.T) {
	double := expr.Function("double", func(params ...any) (any, error) {
		n, ok := params[0].(int64)
		if !ok {
			return nil, fmt.Errorf("double wants an int64, got %T", params[0])
		}
		return 2 * n, nil
	})
	s := newSync(entry(3, config.Mapping{Expr: "double(N)", To: "N__c"}))
	m := compile(t, s, WithExprOptions(double))
	rec := transformOK(t, m, []string{"N"}, int64(21))
	assert.Equal(t, num("42"), rec.Values[0])

	_, err := m.Transform(Row{Columns: []string{"N"}, Values: []any{"x"}})
	require.EqualError(t, err, "N__c: double wants an int64, got string (1:1)")

	_, err = Compile(newSync(entry(3, config.Mapping{Expr: "upper(N)", To: "N__c"})), WithExprOptions(expr.DisableBuiltin("upper")))
	require.EqualError(t, err, `syncs/accounts.yaml:3:5: key "mapping[0].expr": unknown function upper`)
}

func TestExprValue(t *testing.T) {
	assert.Equal(t, 12.5, exprValue(source.Decimal("12.50")))
	assert.Equal(t, "1,5", exprValue(source.Decimal("1,5")), "text that is no number stays text")
	assert.Equal(t, 1e20, exprValue(bigInt(t, "100000000000000000000")))
	assert.Nil(t, exprValue((*big.Int)(nil)))
	assert.Equal(t, "2024-01-01", exprValue(source.Date("2024-01-01")))
	assert.Equal(t, "10:00:00", exprValue(source.TimeOfDay("10:00:00")))
	assert.Equal(t, "{}", exprValue(source.JSON("{}")))
	assert.Equal(t, int64(3), exprValue(int64(3)))
}

func TestTransformAllocations(t *testing.T) {
	m, cols, row := benchMapping(t)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := m.Transform(Row{Columns: cols, Values: row}); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0)
}

// A value the source could not read fails the row only where the mapping
// uses it: copied to a field, or read by an expression. The failed record
// names the key, and holds the source's text in the copied field.
func TestSourceValueErrorFailsRowWhereUsed(t *testing.T) {
	bad := &source.ValueError{Column: "BORN", Type: "DATE", Raw: "2024-13-45", Err: errors.New(`"2024-13-45" is not a date`)}
	cols := []string{"ID", "BORN", "SCORE"}

	s := newSync(entry(3, config.Mapping{From: "ID", To: "External_Id__c"}), entry(4, config.Mapping{From: "BORN", To: "Birthdate"}))
	s.Key = "ID"
	m := compile(t, s)
	rec, err := m.Transform(Row{Columns: cols, Values: []any{"K-1", bad, int64(1)}})
	var ve *source.ValueError
	require.ErrorAs(t, err, &ve)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "Birthdate", fe.Field)
	assert.Equal(t, `Birthdate: column BORN (DATE): "2024-13-45" is not a date`, err.Error())
	assert.Equal(t, "K-1", rec.Key)
	require.Len(t, rec.Values, 2)
	assert.Equal(t, "2024-13-45", rec.Values[1].S)

	// Read by a condition.
	s = newSync(entry(3, config.Mapping{From: "ID", To: "External_Id__c"}), entry(4, config.Mapping{Value: "x", HasValue: true, To: "Flag__c", When: "BORN != nil"}))
	s.Key = "ID"
	m = compile(t, s)
	rec, err = m.Transform(Row{Columns: cols, Values: []any{"K-2", bad, int64(1)}})
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "K-2", rec.Key)

	// Not used: the row maps.
	s = newSync(entry(3, config.Mapping{From: "ID", To: "External_Id__c"}), entry(4, config.Mapping{From: "SCORE", To: "Score__c"}))
	m = compile(t, s)
	rec = transformOK(t, m, cols, "K-3", bad, int64(7))
	assert.Equal(t, "K-3", rec.Values[0].S)

	// The key column itself unreadable: the key is the source's text.
	s = newSync(entry(3, config.Mapping{From: "BORN", To: "External_Id__c"}))
	s.Key = "BORN"
	m = compile(t, s)
	rec, err = m.Transform(Row{Columns: cols, Values: []any{"K-4", bad, int64(1)}})
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "2024-13-45", rec.Key)
}

func TestLayoutKeepEdits(t *testing.T) {
	on, off := true, false
	s := newSync(
		entry(3, config.Mapping{From: "ID", To: "External_Id__c"}),
		entry(4, config.Mapping{From: "NAME", To: "Name", KeepHumanEdits: &on}),
		entry(5, config.Mapping{From: "TIER", To: "Tier__c", KeepHumanEdits: &off}),
	)
	l := compile(t, s).Layout()
	assert.Equal(t, []sink.Choice{sink.Inherit, sink.On, sink.Off}, l.KeepEdits)
	for _, all := range []bool{false, true} {
		assert.Equal(t, all, l.KeepsEdit(0, all), "inherits")
		assert.True(t, l.KeepsEdit(1, all))
		assert.False(t, l.KeepsEdit(2, all))
		assert.Equal(t, all, l.KeepsEdit(3, all), "past the fields")
	}
	assert.Nil(t, compile(t, newSync(entry(3, config.Mapping{From: "ID", To: "External_Id__c"}))).Layout().KeepEdits)
}
