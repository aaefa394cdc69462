package sftest

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

const dateLayout = "2006-01-02"

var datetimeInputs = []string{
	"2006-01-02T15:04:05.000Z07:00",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05.000Z0700",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05.000",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999Z07:00",
}

func parseDate(s string) (string, bool) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return "", false
	}
	return t.Format(dateLayout), true
}

func parseDateTime(s string) (string, bool) {
	for _, l := range datetimeInputs {
		if t, err := time.Parse(l, s); err == nil {
			return formatDateTime(t), true
		}
	}
	return "", false
}

// Salesforce stores dates from 1700-01-01T00:00:00Z to 4000-12-31T00:00:00Z
// ("Minimum and Maximum Dates", SOQL and SOSL Reference; "Data Import
// Dates", Data Loader Guide). Stored values are fixed-width text, so the
// bounds compare as strings.
const (
	minDate     = "1700-01-01"
	maxDate     = "4000-12-31"
	minDateTime = "1700-01-01T00:00:00.000+0000"
	maxDateTime = "4000-12-31T00:00:00.000+0000"
)

func inDateRange(f *fieldDef, v string) bool {
	if f.Type == TypeDate {
		return v >= minDate && v <= maxDate
	}
	return v >= minDateTime && v <= maxDateTime
}

func formatDateTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000+0000")
}

func typeMismatch(f *fieldDef, v string) *apiError {
	return newErr("INVALID_TYPE_ON_FIELD_IN_RECORD", f.Label+": value not of required type: "+v, f.Name)
}

// coerceText converts a CSV cell (Bulk API) to a stored value. The empty
// string never reaches here: callers treat it as "no value".
func coerceText(f *fieldDef, s string) (any, *apiError) {
	switch f.Type {
	case TypeBoolean:
		switch strings.ToLower(s) {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return nil, typeMismatch(f, s)
	case TypeInt, TypeDouble, TypeCurrency, TypePercent:
		n, ok := parseNumber(s)
		if !ok || (f.Type == TypeInt && n != math.Trunc(n)) {
			return nil, typeMismatch(f, s)
		}
		return n, nil
	case TypeDate:
		d, ok := parseDate(s)
		if !ok {
			return nil, typeMismatch(f, s)
		}
		return d, nil
	case TypeDateTime:
		d, ok := parseDateTime(s)
		if !ok {
			if day, ok := parseDate(s); ok {
				return day + "T00:00:00.000+0000", nil
			}
			return nil, typeMismatch(f, s)
		}
		return d, nil
	}
	return s, nil
}

func parseNumber(s string) (float64, bool) {
	if s == "" || strings.ContainsAny(s, "xXpP_") {
		return 0, false
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false
	}
	return n, true
}

// jsonParseError mirrors the message the REST API's JSON reader gives for a
// value of the wrong type.
func jsonParseError(kind string, v any) *apiError {
	tok, text := "VALUE_STRING", ""
	switch x := v.(type) {
	case string:
		text = x
	case json.Number:
		tok, text = "VALUE_NUMBER_INT", x.String()
		if strings.ContainsAny(text, ".eE") {
			tok = "VALUE_NUMBER_FLOAT"
		}
	case bool:
		tok, text = "VALUE_FALSE", "false"
		if x {
			tok, text = "VALUE_TRUE", "true"
		}
	case map[string]any:
		tok = "START_OBJECT"
	case []any:
		tok = "START_ARRAY"
	default:
		text = fmt.Sprint(x)
	}
	msg := "Cannot deserialize instance of " + kind + " from " + tok
	if text != "" {
		msg += " value " + text
	}
	return newErr("JSON_PARSER_ERROR", msg+" or request may be missing a required field")
}

// coerceJSON converts a decoded JSON value (numbers as json.Number) or a Go
// value to a stored value.
func coerceJSON(f *fieldDef, v any) (any, *apiError) {
	v = normalizeGo(v)
	if v == nil {
		return nil, nil
	}
	switch f.Type {
	case TypeBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(x) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, jsonParseError("boolean", v)
	case TypeInt, TypeDouble, TypeCurrency, TypePercent:
		kind := "double"
		if f.Type == TypeInt {
			kind = "int"
		}
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case string:
			s = strings.TrimSpace(x)
		default:
			return nil, jsonParseError(kind, v)
		}
		n, ok := parseNumber(s)
		if !ok || (f.Type == TypeInt && n != math.Trunc(n)) {
			return nil, jsonParseError(kind, v)
		}
		return n, nil
	case TypeDate, TypeDateTime:
		kind := "date"
		if f.Type == TypeDateTime {
			kind = "datetime"
		}
		s, ok := v.(string)
		if !ok {
			return nil, jsonParseError(kind, v)
		}
		if s == "" {
			return nil, nil
		}
		out, err := coerceText(f, s)
		if err != nil {
			return nil, jsonParseError(kind, v)
		}
		return out, nil
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil, nil
		}
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return nil, jsonParseError("String", v)
}

// normalizeGo maps Go values handed to Server.Insert onto the JSON shapes.
func normalizeGo(v any) any {
	switch x := v.(type) {
	case int:
		return json.Number(strconv.Itoa(x))
	case int32:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case float32:
		return json.Number(strconv.FormatFloat(float64(x), 'f', -1, 32))
	case float64:
		return json.Number(strconv.FormatFloat(x, 'f', -1, 64))
	case time.Time:
		return formatDateTime(x)
	}
	return v
}

func isEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || strings.ContainsAny(s, " ,;<>()[]\\\"") {
		return false
	}
	dom := s[at+1:]
	return strings.Contains(dom, ".") && !strings.HasPrefix(dom, ".") && !strings.HasSuffix(dom, ".")
}

// checkValue applies the field's constraints to a coerced, non-nil value and
// returns the value to store (numbers rounded to the field's scale).
func checkValue(f *fieldDef, v any) (any, *apiError) {
	switch x := v.(type) {
	case string:
		if f.isText() && f.Length > 0 && len(x) > f.Length && textLen(x) > f.Length {
			return nil, newErr("STRING_TOO_LONG", fmt.Sprintf("%s: data value too large: %s (max length=%d)", f.Label, x, f.Length), f.Name)
		}
		if f.Type == TypeEmail && !isEmail(x) {
			return nil, newErr("INVALID_EMAIL_ADDRESS", f.Label+": invalid email address: "+x, f.Name)
		}
		if (f.Type == TypeDate || f.Type == TypeDateTime) && !inDateRange(f, x) {
			return nil, newErr("FIELD_INTEGRITY_EXCEPTION", f.Label+": date value out of range: "+x, f.Name)
		}
		if f.Type == TypePicklist && f.valueSet != nil {
			if canon, ok := f.valueSet[strings.ToLower(x)]; ok {
				return canon, nil
			}
			if f.Restricted {
				return nil, newErr("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f.Label+": bad value for restricted picklist field: "+x, f.Name)
			}
		}
	case float64:
		x = roundDecimal(x, f.Scale)
		if limit := math.Pow(10, float64(f.Precision-f.Scale)); math.Abs(x) >= limit {
			return nil, newErr("NUMBER_OUTSIDE_VALID_RANGE", f.Label+": value outside of valid range on numeric field: "+strconv.FormatFloat(x, 'f', -1, 64), f.Name)
		}
		return x, nil
	}
	return v, nil
}

// foldsCase says whether values of f match without regard to case: only a
// unique field that is not case-sensitive does ("Upserting Records", Apex
// Developer Guide: matching is case-insensitive only if the field has the
// Unique and the case-insensitive duplicate attributes).
func foldsCase(f *fieldDef) bool { return f.Unique && !f.CaseSensitive }

// indexKey is the key under which a unique or external id value is indexed.
func indexKey(f *fieldDef, v any) string {
	switch x := v.(type) {
	case string:
		if !foldsCase(f) {
			return x
		}
		return strings.ToLower(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// formatCSV renders a stored value as text.
func formatText(f *fieldDef, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		if f != nil && f.Type == TypeInt && fitsInt64(x) {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// textLen counts characters as Salesforce limits them: UTF-16 code units,
// so a character outside the Basic Multilingual Plane counts twice (help
// article 005166849).
func textLen(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}
