package salesforce

import (
	"strings"

	"github.com/retl-go/retl/sink"
)

var _ sink.KeyFolder = (*sfSink)(nil)

// keyRule is how Salesforce compares the values of the field that finds a
// sync's records.
type keyRule uint8

const (
	// keyNone: the operation finds no record by a key (insert).
	keyNone keyRule = iota
	// keyID: Salesforce Ids, equal in their 15- and 18-character forms;
	// an 18-character Id is unique without regard to case.
	keyID
	// keyFold: text matched without regard to case, as SOQL and upsert
	// match a field that is not case-sensitive.
	keyFold
	// keyExact: a case-sensitive field, matched as written.
	keyExact
)

// matchField is the field whose value finds each record: the external id
// of an upsert, match_on, or Id; "" for insert.
func (d *Destination) matchField() string {
	switch {
	case d.Operation == Insert:
		return ""
	case d.Operation == Upsert:
		return d.ExternalID
	case d.matching():
		return d.MatchOn
	}
	return "Id"
}

// keyRule decides how keys compare from the object's describe, which
// Preflight has fetched; without it, text keys fold, the reading that
// never takes two records for one.
func (s *sfSink) keyRule() keyRule {
	field := s.dest.matchField()
	switch {
	case field == "":
		return keyNone
	case strings.EqualFold(field, "Id"):
		return keyID
	}
	if d := s.c.describeCached(s.dest.Object); d != nil {
		if f := d.Field(field); f != nil {
			switch {
			case f.Type == "id" || f.Type == "reference":
				return keyID
			case f.CaseSensitive:
				return keyExact
			case s.dest.Operation == Upsert && !f.Unique:
				// Upsert matches without case only on a unique field
				// that is not case-sensitive (Apex "Upserting Records",
				// SOAP upsert()); SOQL, which match_on uses, always does.
				return keyExact
			}
		}
	}
	return keyFold
}

// FoldKey returns the form under which Salesforce takes two key values
// for the same record: an Id in its 18-character form, upper case; the
// value of a field that is not case-sensitive, lower case; any other
// value as it is.
func (s *sfSink) FoldKey(key string) string {
	return foldKey(s.keyRule(), key)
}

func foldKey(r keyRule, key string) string {
	switch r {
	case keyID:
		return strings.ToUpper(toID18(key))
	case keyFold:
		return strings.ToLower(key)
	}
	return key
}

func (s *sfSink) normKey(v string) string {
	if s.dest.Operation == Upsert && !s.dest.upsertByID() {
		// External ids match without regard to case unless the field is
		// case-sensitive; lower case pairs either way, as an echo keeps case.
		return strings.ToLower(v)
	}
	return toID18(v)
}
