package sftest

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// SaveRule is what the org does to one field of every record it saves,
// after the request's values are applied and before the record is checked
// and stored, as a before-save record-triggered Flow or a before trigger
// does on a real org ("Triggers and Order of Execution", Apex Developer
// Guide). Exactly one of Upper, Round and From is set. Rules run in the
// order they are declared, on inserts and updates, through every API.
type SaveRule struct {
	// Field is the field the rule sets.
	Field string
	// Upper upper-cases the field's text.
	Upper bool
	// Round rounds the field's number half away from zero to this many
	// decimal places.
	Round *int
	// From sets the field to the value of another field of the record,
	// converted to the field's type.
	From string
}

// saveRule is a checked SaveRule of an object; fields are looked up by
// name when a save runs, so a field declared again keeps its rule.
type saveRule struct {
	SaveRule
	kind ruleKind
}

type ruleKind uint8

const (
	ruleUpper ruleKind = iota + 1
	ruleRound
	ruleFrom
)

// addRule checks a rule against the object's fields and appends it.
func (o *objectDef) addRule(r SaveRule) error {
	n := 0
	var kind ruleKind
	if r.Upper {
		n, kind = n+1, ruleUpper
	}
	if r.Round != nil {
		n, kind = n+1, ruleRound
	}
	if r.From != "" {
		n, kind = n+1, ruleFrom
	}
	if n != 1 {
		return fmt.Errorf("onSave rule for %s: set exactly one of upper, round and from", r.Field)
	}
	f := o.field(r.Field)
	if f == nil || f.sys != sysNone || f.calculated {
		return fmt.Errorf("onSave rule: %s is not a data field of %s", r.Field, o.name)
	}
	switch kind {
	case ruleUpper:
		if !f.isText() {
			return fmt.Errorf("onSave rule for %s: upper needs a text field, not %s", f.Name, f.Type)
		}
	case ruleRound:
		if !f.isNumber() {
			return fmt.Errorf("onSave rule for %s: round needs a number field, not %s", f.Name, f.Type)
		}
		if *r.Round < 0 {
			return fmt.Errorf("onSave rule for %s: round must not be negative", f.Name)
		}
	case ruleFrom:
		src := o.field(r.From)
		if src == nil || src.sys != sysNone || src.calculated {
			return fmt.Errorf("onSave rule for %s: from %s is not a data field of %s", f.Name, r.From, o.name)
		}
		if src == f {
			return errors.New("onSave rule for " + f.Name + ": from names the field itself")
		}
	}
	o.rules = append(o.rules, &saveRule{SaveRule: r, kind: kind})
	return nil
}

// applyRules runs the object's save rules on a record's new values. A
// value a rule makes is checked as a value sent would be: a rule that
// makes text too long, or a number beyond the field's precision, fails
// the save as it would on Salesforce.
func (o *objectDef) applyRules(vals []any) *apiError {
	for _, r := range o.rules {
		f := o.field(r.Field)
		if f == nil || f.ord < 0 || f.ord >= len(vals) {
			continue // the field was replaced by one of another kind
		}
		v := vals[f.ord]
		switch r.kind {
		case ruleUpper:
			if s, ok := v.(string); ok {
				v = strings.ToUpper(s)
			}
		case ruleRound:
			if x, ok := v.(float64); ok {
				v = roundDecimal(x, *r.Round)
			}
		case ruleFrom:
			src := o.field(r.From)
			if src == nil || src.ord < 0 || src.ord >= len(vals) {
				continue
			}
			v = nil
			if sv := vals[src.ord]; sv != nil {
				var err *apiError
				if v, err = coerceText(f, formatText(src, sv)); err != nil {
					return err
				}
			}
		}
		if v == nil && f.Type == TypeBoolean {
			v = false
		}
		if v != nil {
			var err *apiError
			if v, err = checkValue(f, v); err != nil {
				return err
			}
		}
		vals[f.ord] = v
	}
	return nil
}

// schemaRule is one entry of an object's onSave list in a schema file.
type schemaRule struct {
	Field string `yaml:"field"`
	Upper bool   `yaml:"upper"`
	Round *int   `yaml:"round"`
	From  string `yaml:"from"`
}

func (r schemaRule) toRule() SaveRule {
	return SaveRule(r)
}

// roundDecimal rounds x half away from zero to scale decimal places as
// the decimal it was written as: 1.005 to 2 places is 1.01, where binary
// rounding of the float 1.00499999... would give 1.00.
func roundDecimal(x float64, scale int) float64 {
	p := math.Pow(10, float64(scale))
	if y := x * p; y == math.Trunc(y) || math.IsInf(y, 0) {
		return x // already at the scale: the common case, without allocating
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(x, 'f', -1, 64))
	if !ok {
		return math.Round(x*p) / p
	}
	// FloatString rounds its last digit half away from zero.
	out, err := strconv.ParseFloat(r.FloatString(scale), 64)
	if err != nil {
		return math.Round(x*p) / p
	}
	return out
}
