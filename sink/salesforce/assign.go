package salesforce

import (
	"context"
	"net/http"
	"strings"
)

// AssignDefault is the assignment_rule value that runs the object's active
// assignment rule.
const AssignDefault = "default"

// autoAssignHeader is the REST header that says which assignment rules a
// save runs: TRUE (the active rule), FALSE (none) or a rule's Id. Without
// it REST runs the active rule ("Assignment Rule Header").
const autoAssignHeader = "Sforce-Auto-Assign"

// assignObjects are the objects an assignment rule can be given for: the
// Bulk API 2.0 takes one "for a Case or a Lead" (Create a Job), and an
// AssignmentRule's SobjectType is Case or Lead.
var assignObjects = []string{"Case", "Lead"}

// checkAssignment checks the assignment_rule option against the
// destination: a rule runs on a save of a Case or a Lead, so a delete or
// another object cannot have one.
func (d *Destination) checkAssignment() error {
	r := d.Options.AssignmentRule
	if r == "" {
		return nil
	}
	if r != AssignDefault && idProblem(r) != "" {
		return keyErrorf("assignment_rule", "assignment_rule %q: want default or the Id of an assignment rule (15 or 18 letters and digits)", r)
	}
	switch d.Operation {
	case Insert, Update, Upsert:
	default:
		return keyErrorf("assignment_rule", "assignment_rule applies to inserts, updates and upserts, not to %s", d.Operation)
	}
	for _, o := range assignObjects {
		if strings.EqualFold(o, d.Object) {
			return nil
		}
	}
	return keyErrorf("assignment_rule", "assignment_rule: Salesforce runs assignment rules for %s, not for %s", strings.Join(assignObjects, " and "), d.Object)
}

// resolveAssignment finds the Id of the rule a Bulk job names, once per
// sink, from Preflight: the Bulk API takes a rule's Id only, so "default"
// becomes the Id of the object's active rule. A given Id is checked to be
// a rule of the object, so a wrong one fails before any record is sent.
// It returns the problem to report, or "".
func (s *sfSink) resolveAssignment(ctx context.Context) (string, error) {
	r := s.dest.Options.AssignmentRule
	if r == "" {
		return "", nil
	}
	s.mu.Lock()
	done := s.assignID != ""
	s.mu.Unlock()
	if done {
		return "", nil
	}
	var soql string
	if r == AssignDefault {
		soql = "SELECT Id, SobjectType, Active FROM AssignmentRule WHERE SobjectType = " + quoteSOQL(s.dest.Object) + " AND Active = true"
	} else {
		soql = "SELECT Id, SobjectType, Active FROM AssignmentRule WHERE Id = " + quoteSOQL(r)
	}
	var found []currentRow
	for row, err := range s.c.Query(ctx, soql) {
		if err != nil {
			return "", errorf("finding assignment rule %s: %w", r, err)
		}
		found = append(found, row)
	}
	switch {
	case len(found) == 0 && r == AssignDefault:
		return "assignment_rule default: " + s.dest.Object + " has no active assignment rule", nil
	case len(found) == 0:
		return "assignment_rule " + r + " is not an assignment rule of this org", nil
	case !strings.EqualFold(found[0].String("SobjectType"), s.dest.Object):
		return "assignment_rule " + r + " is a rule for " + found[0].String("SobjectType") + ", not for " + s.dest.Object, nil
	}
	s.mu.Lock()
	s.assignID = found[0].String("Id")
	s.mu.Unlock()
	return "", nil
}

// bulkAssignment is the assignmentRuleId of the sink's Bulk jobs, or "".
// Preflight has normally resolved it; a sink written to without one
// resolves it here, so a job never runs without the rule it was given.
func (s *sfSink) bulkAssignment(ctx context.Context) (string, error) {
	problem, err := s.resolveAssignment(ctx)
	if err != nil {
		return "", err
	}
	if problem != "" {
		return "", newError(problem)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.assignID, nil
}

// restAssignment is the Sforce-Auto-Assign value of the sink's REST saves:
// FALSE unless a rule is asked for, so that REST runs no rule that Bulk
// would not run.
func (s *sfSink) restAssignment() string {
	switch r := s.dest.Options.AssignmentRule; r {
	case "":
		return "FALSE"
	case AssignDefault:
		return "TRUE"
	default:
		return r
	}
}

// setAutoAssign puts the assignment rule header on a REST save.
func (s *sfSink) setAutoAssign(r *request) {
	if r.method == http.MethodDelete {
		return
	}
	if r.header == nil {
		r.header = http.Header{}
	}
	r.header.Set(autoAssignHeader, s.restAssignment())
}
