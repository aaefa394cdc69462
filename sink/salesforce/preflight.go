package salesforce

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/retl-go/retl/sink"
)

// Preflight checks the layout against the object's describe before any
// write: every field exists and is writable for the operation, the key is
// present, the upsert key is an external id, and each lookup path names a
// relationship whose target has that field as an external id. All
// problems are reported together.
func (s *sfSink) Preflight(ctx context.Context, layout *sink.Layout) error {
	ctx = withCallCounter(ctx, &s.calls)
	obj := s.dest.Object
	desc, err := s.c.Describe(ctx, obj)
	if err != nil {
		return err
	}
	op := s.dest.Operation
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	switch op {
	case Insert:
		if !desc.Createable {
			add("%s is not createable", obj)
		}
	case Update:
		if !desc.Updateable {
			add("%s is not updateable", obj)
		}
	case Upsert:
		if !desc.Createable || !desc.Updateable {
			add("%s must be createable and updateable for upsert", obj)
		}
	case Delete, HardDelete:
		if !desc.Deletable {
			add("%s is not deletable", obj)
		}
	}
	switch key := s.dest.keyField(); {
	case s.dest.matching():
		s.checkMatchOn(desc, layout, add)
	case key != "" && layout.Index(key) < 0:
		add("operation %s needs the %s field in the mapping", op, key)
	}
	if by := s.dest.Options.GroupBy; by != "" && layout.Index(by) < 0 {
		add("group_by %s is not a field of the mapping", by)
	}
	if op == Upsert {
		f := desc.Field(s.dest.ExternalID)
		switch {
		case f == nil:
			add("match_on %s is not a field of %s", s.dest.ExternalID, obj)
		case !f.ExternalID && !f.IDLookup:
			add("match_on %s.%s is not an External ID field: an upsert finds records by an external id (or Id)", obj, f.Name)
		}
	}
	if op == Delete || op == HardDelete {
		return joinProblems(obj, op, problems)
	}
	for _, name := range layout.Fields {
		if rel, sub, ok := strings.Cut(name, "."); ok {
			s.checkLookup(ctx, desc, rel, sub, add)
			continue
		}
		f := desc.Field(name)
		if f == nil {
			add("%s is not a field of %s", name, obj)
			continue
		}
		switch {
		case op == Update && (strings.EqualFold(f.Name, "Id") || strings.EqualFold(f.Name, s.dest.MatchOn)):
			// Update's key is matched, not written.
		case s.dest.upsertByID() && strings.EqualFold(f.Name, "Id"):
			// The key of an upsert on Id is matched, never written.
		case op == Upsert && strings.EqualFold(f.Name, s.dest.ExternalID):
			// Upsert's key is written only when it creates a record.
			checkWritable(Insert, obj+"."+f.Name, f, add)
		default:
			checkWritable(op, obj+"."+f.Name, f, add)
		}
	}
	problem, err := s.resolveAssignment(ctx)
	if err != nil {
		return err
	}
	if problem != "" {
		add("%s", problem)
	}
	return joinProblems(obj, op, problems)
}

func checkWritable(op Operation, name string, f *fieldDescribe, add func(string, ...any)) {
	needCreate := op == Insert || op == Upsert
	needUpdate := op == Update || op == Upsert
	if needCreate && !f.Createable {
		add("%s is not createable", name)
	}
	if needUpdate && !f.Updateable {
		add("%s is not updateable", name)
	}
}

func (s *sfSink) checkLookup(ctx context.Context, desc *objectDescribe, rel, sub string, add func(string, ...any)) {
	ref := desc.Relationship(rel)
	if ref == nil {
		add("%s.%s: %s is not a relationship of %s", rel, sub, rel, desc.Name)
		return
	}
	checkWritable(s.dest.Operation, desc.Name+"."+ref.Name, ref, add)
	if len(ref.ReferenceTo) == 0 {
		add("%s.%s: the relationship names no target object", rel, sub)
		return
	}
	var found bool
	var errs []error
	for _, target := range ref.ReferenceTo {
		td, err := s.c.Describe(ctx, target)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if f := td.Field(sub); f != nil && (f.ExternalID || f.IDLookup) {
			found = true
			break
		}
	}
	switch {
	case found:
	case len(errs) > 0:
		add("%s.%s: %v", rel, sub, errors.Join(errs...))
	default:
		add("%s.%s: %s is not an External ID field of %s", rel, sub, sub, strings.Join(ref.ReferenceTo, " or "))
	}
}

func joinProblems(obj string, op Operation, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return errorf("preflight of %s on %s: %s", op, obj, strings.Join(problems, "; "))
}
