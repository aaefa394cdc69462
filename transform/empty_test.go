package transform

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
)

// TestEmptyStringIsNull: "" from a column, a constant or an expression is
// the field's NULL under its policy, for type auto and type string, so that
// Bulk and REST write the same thing.
func TestEmptyStringIsNull(t *testing.T) {
	policies := []struct {
		sync, field config.NullPolicy
		want        sink.Kind
	}{
		{"", "", sink.Null},
		{config.NullClear, "", sink.Null},
		{config.NullIgnore, "", sink.Absent},
		{config.NullClear, config.NullIgnore, sink.Absent},
		{config.NullIgnore, config.NullClear, sink.Null},
	}
	sources := []struct {
		name  string
		entry config.Mapping
	}{
		{"column", config.Mapping{From: "NOTES"}},
		{"constant", config.Mapping{Value: "", HasValue: true}},
		{"expr", config.Mapping{Expr: "trim(PADDED)"}},
		{"expr literal", config.Mapping{Expr: "SCORE > 1 ? 'x' : ''"}},
	}
	for _, p := range policies {
		for _, src := range sources {
			for _, typ := range []config.FieldType{config.TypeAuto, config.TypeString} {
				t.Run(fmt.Sprintf("%s sync %q field %q type %q", src.name, p.sync, p.field, typ), func(t *testing.T) {
					e := src.entry
					e.To, e.Null, e.Type = "Notes__c", p.field, typ
					s := newSync(entry(3, e))
					s.NullPolicy = p.sync
					rec := transformOK(t, compile(t, s), []string{"NOTES", "PADDED", "SCORE"}, "", "   ", int64(0))
					assert.Equal(t, sink.Value{Kind: p.want}, rec.Values[0])
				})
			}
		}
	}
}

// TestBlankTextIsKept: text of spaces is a value; Salesforce does not trim
// field values, and both APIs send it alike.
func TestBlankTextIsKept(t *testing.T) {
	s := newSync(
		entry(3, config.Mapping{From: "PADDED", To: "A__c"}),
		entry(4, config.Mapping{Value: " ", HasValue: true, To: "B__c"}),
		entry(5, config.Mapping{Expr: "PADDED + 'x'", To: "C__c", Type: config.TypeString}),
	)
	rec := transformOK(t, compile(t, s), []string{"PADDED"}, "   ")
	assert.Equal(t, []sink.Value{text("   "), text(" "), text("   x")}, rec.Values)
}

// TestEmptyStringOtherTypes: the rule is for text; "" for a number, a date
// or a boolean stays a conversion error, as it was.
func TestEmptyStringOtherTypes(t *testing.T) {
	for _, typ := range []config.FieldType{config.TypeNumber, config.TypeInteger, config.TypeDate, config.TypeDateTime, config.TypeBoolean} {
		t.Run(string(typ), func(t *testing.T) {
			m := compile(t, newSync(entry(3, config.Mapping{From: "V", To: "V__c", Type: typ})))
			_, err := m.Transform(Row{Columns: []string{"V"}, Values: []any{""}})
			assert.EqualError(t, err, fmt.Sprintf("V__c: cannot convert \"\" to %s", typ))
		})
	}
}

// TestEmptyKeyField: a key field that is "" is a NULL (and the Engine,
// which keys records by it, finds no key).
func TestEmptyKeyField(t *testing.T) {
	s := newSync(entry(3, config.Mapping{From: "ID", To: "External_Id__c"}))
	rec := transformOK(t, compile(t, s), []string{"ID"}, "")
	assert.Equal(t, "", rec.Key)
	assert.Equal(t, sink.Null, rec.Values[0].Kind)
}
