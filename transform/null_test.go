package transform

import (
	"fmt"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
)

// nullCols is a row where every column but T (true), F (false), S ("abc")
// and N1 (1) is NULL.
var nullCols = []string{"SCORE", "NAME", "ACTIVE", "TAGS", "PROFILE", "DAY", "T", "F", "S", "N1"}

func nullRow() []any { return []any{nil, nil, nil, nil, nil, nil, true, false, "abc", int64(1)} }

// evalNull runs code as an expr on nullRow and returns what the expression
// gave: nil when the field came out NULL.
func evalNull(t *testing.T, code string) any {
	t.Helper()
	m := compile(t, newSync(entry(3, config.Mapping{Expr: code, To: "Out__c"})))
	rec := transformOK(t, m, nullCols, nullRow()...)
	v := rec.Values[0]
	switch v.Kind {
	case sink.Null:
		return nil
	case sink.Bool:
		return v.S == "true"
	}
	return v.S
}

func TestNullInExpressions(t *testing.T) {
	tests := []struct {
		code string
		want any
	}{
		// Ordering comparisons, arithmetic and concatenation give NULL.
		{"SCORE < 50", nil},
		{"SCORE <= 50", nil},
		{"SCORE > 50", nil},
		{"50 >= SCORE", nil},
		{"SCORE + 1", nil},
		{"SCORE - 1", nil},
		{"SCORE * 2", nil},
		{"SCORE / 2", nil},
		{"SCORE % 2", nil},
		{"SCORE ** 2", nil},
		{"-SCORE", nil},
		{"NAME + '!'", nil},
		{"'Dr. ' + NAME", nil},
		{"NAME contains 'a'", nil},
		{"NAME startsWith 'a'", nil},
		{"NAME endsWith 'a'", nil},
		{"NAME matches '^a'", nil},
		{"S contains NAME", nil},
		// == and != treat NULL as a value; in compares with ==.
		{"SCORE == nil", true},
		{"SCORE != nil", false},
		{"NAME == 'x'", false},
		{"NAME != 'x'", true},
		{"NAME in ['a', 'b']", false},
		{"NAME not in ['a', 'b']", true},
		{"'a' in TAGS", nil},
		// ?? replaces NULL.
		{"SCORE ?? 0", "0"},
		{"(SCORE + 1) ?? -1", "-1"},
		// Three-valued logic.
		{"not ACTIVE", nil},
		{"!ACTIVE", nil},
		{"not (SCORE < 50)", nil},
		{"ACTIVE and T", nil},
		{"ACTIVE and F", false},
		{"F and ACTIVE", false},
		{"T and ACTIVE", nil},
		{"ACTIVE && ACTIVE", nil},
		{"ACTIVE or T", true},
		{"T or ACTIVE", true},
		{"ACTIVE or F", nil},
		{"F || ACTIVE", nil},
		{"SCORE < 50 or N1 == 1", true},
		{"SCORE < 50 and N1 == 1", nil},
		// A NULL condition takes the else branch.
		{"SCORE >= 80 ? 'green' : 'red'", "red"},
		{"ACTIVE ? 'yes' : 'no'", "no"},
		{"if SCORE > 1 { 'big' } else { 'small' }", "small"},
		{"SCORE == nil ? 'unknown' : 'known'", "unknown"},
		// Built-in functions give NULL for NULL, except type.
		{"upper(NAME)", nil},
		{"lower(NAME)", nil},
		{"trim(NAME)", nil},
		{"len(NAME)", nil},
		{"len(NAME) == 0", false},
		{"string(SCORE)", nil},
		{"toJSON(PROFILE)", nil},
		{"fromJSON(PROFILE)", nil},
		{"abs(SCORE)", nil},
		{"replace(S, 'a', NAME)", nil},
		{"max(SCORE, 3)", nil},
		{"all(TAGS, # != '')", nil},
		{"type(NAME)", "nil"},
		{"upper(NAME) ?? 'NONE'", "NONE"},
		// Members, indexes, slices and methods of NULL are NULL.
		{"fromJSON(PROFILE).plan", nil},
		{"TAGS[0]", nil},
		{"NAME[1:2]", nil},
		{"date(DAY).Year()", nil},
		{"NAME?.x", nil},
		// Values that are not NULL keep expr-lang's behaviour.
		{"N1 + 1", "2"},
		{"S + '!'", "abc!"},
		{"N1 < 2", true},
		{"not F", true},
		{"T and T", true},
		{"let x = SCORE; x * 2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			assert.Equal(t, tt.want, evalNull(t, tt.code))
		})
	}
}

func TestNullConditions(t *testing.T) {
	s := newSync(
		entry(3, config.Mapping{From: "S", To: "Name"}),
		entry(4, config.Mapping{Value: "At Risk", HasValue: true, To: "Tier__c", When: "SCORE < 50"}),
		entry(5, config.Mapping{Value: "Healthy", HasValue: true, To: "Band__c", When: "not (SCORE < 50)"}),
		entry(6, config.Mapping{Value: "x", HasValue: true, To: "Flag__c", When: "ACTIVE or SCORE > 1"}),
	)
	m := compile(t, s)
	rec := transformOK(t, m, nullCols, nullRow()...)
	assert.Equal(t, []sink.Value{text("abc"), {}, {}, {}}, rec.Values, "a NULL condition is false, and so is its negation")

	row := nullRow()
	row[0] = int64(20)
	rec = transformOK(t, m, nullCols, row...)
	assert.Equal(t, []sink.Value{text("abc"), text("At Risk"), {}, text("x")}, rec.Values)

	for _, filter := range []string{"SCORE < 50", "SCORE >= 50", "not (SCORE >= 50)", "NAME contains 'a'", "ACTIVE and T"} {
		t.Run("filter "+filter, func(t *testing.T) {
			s := newSync(entry(3, config.Mapping{From: "S", To: "Name"}))
			s.Filter = filter
			_, err := compile(t, s).Transform(Row{Columns: nullCols, Values: nullRow()})
			code, _, ok := SkipReason(err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, sink.SkipFiltered, code)
		})
	}
}

func TestNullExprResultFollowsPolicy(t *testing.T) {
	for _, policy := range []config.NullPolicy{config.NullClear, config.NullIgnore} {
		t.Run(string(policy), func(t *testing.T) {
			s := newSync(entry(3, config.Mapping{Expr: "SCORE * 10", To: "Score__c"}))
			s.NullPolicy = policy
			rec := transformOK(t, compile(t, s), nullCols, nullRow()...)
			want := map[config.NullPolicy]sink.Kind{config.NullClear: sink.Null, config.NullIgnore: sink.Absent}[policy]
			assert.Equal(t, want, rec.Values[0].Kind)
		})
	}
}

func TestNullLogicErrors(t *testing.T) {
	tests := []struct {
		code string
		err  string
	}{
		{"S and ACTIVE", "Out__c: and: operand is string, not bool (1:3)"},
		{"ACTIVE and S", "Out__c: and: operand is string, not bool (1:8)"},
		{"S or ACTIVE", "Out__c: or: operand is string, not bool (1:3)"},
		{"ACTIVE or S", "Out__c: or: operand is string, not bool (1:8)"},
		{"not S", "Out__c: not: operand is string, not bool (1:1)"},
		{"S ? 1 : 2", "Out__c: condition: operand is string, not bool (1:1)"},
		// The operation's own errors keep expr-lang's message and position.
		{"S > 1", "Out__c: invalid operation: string > int (1:3)"},
		{"S * N1", "Out__c: invalid operation: string * int64 (1:3)"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			m := compile(t, newSync(entry(3, config.Mapping{Expr: tt.code, To: "Out__c"})))
			_, err := m.Transform(Row{Columns: nullCols, Values: nullRow()})
			require.EqualError(t, err, tt.err)
			var fe *FieldError
			assert.ErrorAs(t, err, &fe)
		})
	}
}

// TestNullUserFunctions: a function a program adds is called with NULL as
// it is, so that it can decide.
func TestNullUserFunctions(t *testing.T) {
	orDash := expr.Function("orDash", func(params ...any) (any, error) {
		if params[0] == nil {
			return "-", nil
		}
		return params[0], nil
	})
	m := compile(t, newSync(entry(3, config.Mapping{Expr: "orDash(NAME)", To: "Out__c"})), WithExprOptions(orDash))
	rec := transformOK(t, m, nullCols, nullRow()...)
	assert.Equal(t, text("-"), rec.Values[0])
}

// TestNullOperandsThatAreNotNull: the guards leave every non-NULL value to
// expr-lang, including types only known at run time.
func TestNullOperandsThatAreNotNull(t *testing.T) {
	cols := []string{"SCORE", "NAME", "AMOUNT", "ACTIVE", "TAGS"}
	row := []any{int64(42), "acme", source.Decimal("12.50"), true, []any{"a", "b"}}
	tests := []struct {
		code string
		want sink.Value
	}{
		{"SCORE < 50", yes},
		{"SCORE * 2 + AMOUNT", num("96.5")},
		{"NAME + '!'", text("acme!")},
		{"upper(NAME)", text("ACME")},
		{"len(NAME) == 4", yes},
		{"ACTIVE and SCORE > 40", yes},
		{"not ACTIVE or SCORE > 50", no},
		{"SCORE >= 40 ? 'green' : 'red'", text("green")},
		{"TAGS[1]", text("b")},
		{"'a' in TAGS", yes},
		{"NAME[1:3]", text("cm")},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			m := compile(t, newSync(entry(3, config.Mapping{Expr: tt.code, To: "Out__c"})))
			rec := transformOK(t, m, cols, row...)
			assert.Equal(t, tt.want, rec.Values[0])
		})
	}
}

// TestNullGuardsDoNotAllocate: an expression over columns that are not
// NULL costs no allocation per row with the guards in place.
func TestNullGuardsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	s := newSync(
		entry(3, config.Mapping{Expr: "SCORE >= 80 ? 'green' : 'red'", To: "Band__c", When: "ACTIVE and SCORE > 1"}),
		entry(4, config.Mapping{Expr: "not (SCORE < 50) or ACTIVE", To: "Ok__c"}),
	)
	m := compile(t, s)
	cols := []string{"SCORE", "ACTIVE"}
	for _, row := range [][]any{{int64(90), true}, {nil, nil}} {
		t.Run(fmt.Sprint(row), func(t *testing.T) {
			allocs := testing.AllocsPerRun(1000, func() {
				if _, err := m.Transform(Row{Columns: cols, Values: row}); err != nil {
					t.Fatal(err)
				}
			})
			assert.Zero(t, allocs)
		})
	}
}
