package salesforce

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/retl-go/retl/sink"
)

// CodeUnknownRecordType fails a record whose RecordTypeId names a record
// type, by its DeveloperName, that the object does not have or has
// inactive.
const CodeUnknownRecordType = "RETL_UNKNOWN_RECORD_TYPE"

// recordTypeField is the field that holds a record's record type.
const recordTypeField = "RecordTypeId"

// recordTypePrefix begins every RecordType Id. A DeveloperName begins with
// a letter, so a value that begins with it is never a name.
const recordTypePrefix = "012"

// recordType is one record type of an object.
type recordType struct {
	id, name string
	active   bool
}

// recordTypeCache keeps each object's record types by lower-case
// DeveloperName, read once per client: the client is shared by the syncs
// of a run, so an object's record types are read once per run.
type recordTypeCache struct {
	mu       sync.Mutex
	byObject map[string]map[string]recordType
}

// recordTypes returns the record types of object by lower-case
// DeveloperName.
func (c *apiClient) recordTypes(ctx context.Context, object string) (map[string]recordType, error) {
	rc := &c.rtypes
	rc.mu.Lock()
	defer rc.mu.Unlock()
	key := strings.ToLower(object)
	if m, ok := rc.byObject[key]; ok {
		return m, nil
	}
	m := map[string]recordType{}
	soql := "SELECT Id, DeveloperName, IsActive FROM RecordType WHERE SobjectType = " + quoteSOQL(object)
	for row, err := range c.Query(ctx, soql) {
		if err != nil {
			return nil, errorf("reading the record types of %s: %w", object, err)
		}
		name := row.String("DeveloperName")
		v, _ := row.Get("IsActive")
		m[strings.ToLower(name)] = recordType{id: row.String("Id"), name: name, active: v == true}
	}
	if rc.byObject == nil {
		rc.byObject = map[string]map[string]recordType{}
	}
	rc.byObject[key] = m
	return m, nil
}

// isRecordTypeID reports a value that is meant as a RecordType Id: 15 or
// 18 letters and digits beginning with its prefix. The screen's Id check
// then judges it as an Id.
func isRecordTypeID(v string) bool {
	if !strings.HasPrefix(v, recordTypePrefix) || len(v) != 15 && len(v) != 18 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isAlnum(v[i]) {
			return false
		}
	}
	return true
}

// nameRecordType replaces, in a record's RecordTypeId, a record type's
// DeveloperName by its Id; Ids pass through. It returns the record's
// error when the name is no active record type of the object.
func (s *sfSink) nameRecordType(ctx context.Context, i int, r *sink.Record) (*sink.RecordError, error) {
	if i >= len(r.Values) || r.Values[i].IsEmpty() || r.Values[i].S == "" || isRecordTypeID(r.Values[i].S) {
		return nil, nil
	}
	types, err := s.c.recordTypes(ctx, s.dest.Object)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(r.Values[i].S)
	rt, ok := types[strings.ToLower(name)]
	switch {
	case !ok:
		return &sink.RecordError{Code: CodeUnknownRecordType, Fields: []string{r.Layout.Fields[i]},
			Message: fmt.Sprintf("%s: %q is neither a record type Id nor the DeveloperName of a record type of %s (%s)",
				r.Layout.Fields[i], name, s.dest.Object, knownRecordTypes(types))}, nil
	case !rt.active:
		return &sink.RecordError{Code: CodeUnknownRecordType, Fields: []string{r.Layout.Fields[i]},
			Message: fmt.Sprintf("%s: record type %s of %s is inactive, and Salesforce saves no record with it", r.Layout.Fields[i], rt.name, s.dest.Object)}, nil
	}
	r.Values[i] = sink.TextValue(rt.id)
	return nil, nil
}

// knownRecordTypes lists an object's active record types for a message.
func knownRecordTypes(types map[string]recordType) string {
	var names []string
	for _, rt := range types {
		if rt.active {
			names = append(names, rt.name)
		}
	}
	if len(names) == 0 {
		return "it has no active record type"
	}
	slices.Sort(names)
	const most = 10
	if len(names) > most {
		return "its active record types include " + strings.Join(names[:most], ", ")
	}
	return "its active record types: " + strings.Join(names, ", ")
}
