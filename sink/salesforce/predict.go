package salesforce

import (
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/retl-go/retl/sink"
)

// predictor fails, before anything is sent, the records Salesforce would
// reject for what the object's describe alone tells: text longer than its
// field, a malformed email address, a value outside a restricted
// picklist, a number beyond its field's precision, and required fields
// left empty. The plan and the run use it alike (through Screen), with
// Salesforce's own codes and messages; its errors are marked Predicted.
type predictor struct {
	cols []planColumn
	// checks are the columns whose values have limits to check.
	checks []predictCheck
	// insert: every record creates one, so required fields must be set.
	insert bool
	// required are the fields an insert must set, in describe order, with
	// their column in the layout (-1 when unmapped).
	required []requiredField
	// updates: a null clears its field, which a required field refuses.
	updates bool
	// restricted are the columns of restricted picklists, which a record
	// type may narrow (rtpicklist.go).
	restricted []int
}

type requiredField struct {
	name string
	col  int
}

type predictCheck struct {
	index int
	f     *fieldDescribe
	text  bool
	// lower holds a restricted picklist's values in lower case.
	lower map[string]bool
	// limit bounds a number's magnitude: 10^(precision-scale); nil for
	// none. digits is precision-scale.
	limit  *big.Rat
	digits int
}

// predictTypes are the text types planCheckValue judges.
var predictTypes = map[string]bool{
	"string": true, "textarea": true, "email": true, "phone": true, "url": true,
	"picklist": true, "multipicklist": true, "combobox": true, "encryptedstring": true,
}

// newPredictor returns the predictor of a layout, or nil when the
// operation sends no values to judge (delete, hard_delete).
func (s *sfSink) newPredictor(desc *objectDescribe, l *sink.Layout) *predictor {
	op := s.dest.Operation
	if op == Delete || op == HardDelete {
		return nil
	}
	p := &predictor{cols: make([]planColumn, len(l.Fields)),
		insert: op == Insert, updates: op == Update || op == Upsert}
	key := s.dest.matchField()
	for i, name := range l.Fields {
		c := planColumn{name: name}
		if strings.Contains(name, ".") {
			// A lookup by external id: its parent is checked by the plan,
			// which reads it; here it only counts as set.
			if rel, _, _ := strings.Cut(name, "."); desc.lookup(rel) != nil {
				c.field, c.parent = desc.lookup(rel), "lookup"
			}
			p.cols[i] = c
			continue
		}
		f := desc.Field(name)
		if op == Update && strings.EqualFold(name, key) {
			// Update's key finds the record and is never written.
			p.cols[i] = c
			continue
		}
		c.field = f
		p.cols[i] = c
		if f == nil {
			continue
		}
		pc := predictCheck{index: i, f: f, text: predictTypes[f.Type]}
		if f.Type == "picklist" && f.RestrictedPicklist {
			p.restricted = append(p.restricted, i)
			pc.lower = make(map[string]bool, len(f.PicklistValues))
			for _, v := range f.PicklistValues {
				pc.lower[strings.ToLower(v.Value)] = true
			}
		}
		switch f.Type {
		case "double", "currency", "percent":
			if f.Precision > 0 && f.Precision >= f.Scale {
				pc.digits = f.Precision - f.Scale
				pc.limit = new(big.Rat).SetFrac(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(f.Precision-f.Scale)), nil), big.NewInt(1))
			}
		}
		if pc.text || pc.limit != nil {
			p.checks = append(p.checks, pc)
		}
	}
	if p.insert {
		for _, f := range desc.Fields {
			if f.Nillable || !f.Createable || f.DefaultedOnCreate || f.Type == "boolean" {
				continue
			}
			rf := requiredField{name: f.Name, col: -1}
			for j, c := range p.cols {
				if c.field != nil && strings.EqualFold(c.field.Name, f.Name) {
					rf.col = j
				}
			}
			p.required = append(p.required, rf)
		}
	}
	return p
}

// missingRequired lists the required fields a new record leaves empty,
// as planMissingRequired does, without reading the whole describe again.
func (p *predictor) missingRequired(r *sink.Record) []string {
	var out []string
	for _, f := range p.required {
		if f.col < 0 || f.col >= len(r.Values) || r.Values[f.col].IsEmpty() {
			out = append(out, f.name)
		}
	}
	return out
}

// predict returns Salesforce's error for a record it would reject, or nil.
func (p *predictor) predict(r *sink.Record) *sink.RecordError {
	for _, c := range p.checks {
		if c.index >= len(r.Values) {
			continue
		}
		v := r.Values[c.index]
		if v.IsEmpty() {
			continue
		}
		var code, msg string
		switch {
		case c.text:
			// Most values are short, unrestricted text: judged without a call.
			if len(v.S) <= c.f.Length && c.f.Type != "email" && (c.lower == nil || c.lower[strings.ToLower(v.S)]) {
				continue
			}
			code, msg = planCheckValue(c.f, v)
		case c.limit != nil:
			if intDigits(v.S) < c.digits {
				continue // even rounded up it stays below the limit
			}
			code, msg = numberOutOfRange(c.f, c.limit, v)
		}
		if code != "" {
			// The message holds the value, which may be megabytes.
			return &sink.RecordError{Code: code, Message: clipMessage(msg), Fields: []string{c.f.Name}, Predicted: true}
		}
	}
	if p.insert {
		if fields := p.missingRequired(r); len(fields) > 0 {
			return &sink.RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [" + strings.Join(fields, ", ") + "]",
				Fields: fields, Predicted: true}
		}
	}
	if p.updates {
		if fields := planClearsRequired(r, p.cols); len(fields) > 0 {
			return &sink.RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [" + strings.Join(fields, ", ") + "]",
				Fields: fields, Predicted: true}
		}
	}
	return nil
}

// intDigits counts the digits before the point of a plain decimal, leading
// zeros left out; anything else (an exponent, no digits) counts as many,
// so that it is judged in full.
func intDigits(s string) int {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	for i < len(s) && s[i] == '0' {
		i++
	}
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i != len(s) {
		return math.MaxInt
	}
	return n
}

// numberOutOfRange says whether a number, rounded to its field's scale,
// has more digits before the point than the field's precision leaves.
func numberOutOfRange(f *fieldDescribe, limit *big.Rat, v sink.Value) (code, msg string) {
	x, ok := new(big.Rat).SetString(strings.TrimSpace(v.S))
	if !ok {
		return "", "" // not a number: Salesforce's type error, not judged here
	}
	x = planRound(x, f.Scale)
	if new(big.Rat).Abs(x).Cmp(limit) < 0 {
		return "", ""
	}
	label := f.Label
	if label == "" {
		label = f.Name
	}
	fl, _ := x.Float64()
	if math.IsInf(fl, 0) {
		return "NUMBER_OUTSIDE_VALID_RANGE", label + ": value outside of valid range on numeric field: " + v.S
	}
	return "NUMBER_OUTSIDE_VALID_RANGE", fmt.Sprintf("%s: value outside of valid range on numeric field: %s", label, formatNumber(fl))
}

// formatNumber writes a number as Salesforce's message does: without an
// exponent or trailing zeros.
func formatNumber(f float64) string {
	return new(big.Float).SetFloat64(f).Text('f', -1)
}

// predicting reports whether predict_rejects is on: unless set to false.
func (o *Options) predicting() bool { return o.PredictRejects == nil || *o.PredictRejects }
