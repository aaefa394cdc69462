package salesforce

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// seedRules gives srv an active and an inactive Lead rule and a Case rule.
func seedRules(t *testing.T, srv *sftest.Server) (active, inactive, caseRule string) {
	t.Helper()
	var err error
	active, err = srv.Insert("AssignmentRule", map[string]any{"Name": "Round robin", "SobjectType": "Lead", "Active": true})
	require.NoError(t, err)
	inactive, err = srv.Insert("AssignmentRule", map[string]any{"Name": "Old", "SobjectType": "Lead", "Active": false})
	require.NoError(t, err)
	caseRule, err = srv.Insert("AssignmentRule", map[string]any{"Name": "Support", "SobjectType": "Case", "Active": true})
	require.NoError(t, err)
	return active, inactive, caseRule
}

// writesOf returns the Sforce-Auto-Assign header of each REST save and
// the assignmentRuleId of each Bulk job the emulator saw.
func writesOf(srv *sftest.Server) (rest, bulk []string) {
	for _, r := range srv.Requests() {
		if strings.Contains(r.Path, "/composite/sobjects") && r.Method != http.MethodDelete {
			rest = append(rest, r.AutoAssign)
		}
	}
	for _, j := range srv.Jobs() {
		bulk = append(bulk, j.AssignmentRuleID)
	}
	return rest, bulk
}

func leadSync(api, extra string) string {
	return syncFile("Lead", "upsert", "External_Id__c", api, extra,
		"  - {from: K, to: External_Id__c}\n  - {from: LN, to: LastName}\n  - {from: CO, to: Company}\n")
}

var leadRows = table{cols: []string{"K", "LN", "CO"}, rows: [][]any{{"L-1", "Ada", "Acme"}, {"L-2", "Bo", "Beta"}}}

// An assignment rule reaches Salesforce as each API expects it: Bulk jobs
// name the rule's Id (the active rule's for default), REST saves carry
// Sforce-Auto-Assign; without the option no rule runs through either.
func TestAssignmentRuleReachesSalesforce(t *testing.T) {
	for _, api := range apis {
		for _, tc := range []struct{ name, option string }{{"off", ""}, {"default", "default"}, {"id", "inactive"}, {"id15", "inactive15"}} {
			t.Run(api+"/"+tc.name, func(t *testing.T) {
				srv := emulator(t)
				active, inactive, _ := seedRules(t, srv)
				opt, wantBulk, wantREST := "", "", "FALSE"
				switch tc.option {
				case "default":
					opt, wantBulk, wantREST = "default", active, "TRUE"
				case "inactive":
					opt, wantBulk, wantREST = inactive, inactive, inactive
				case "inactive15":
					opt, wantBulk, wantREST = inactive[:15], inactive, inactive[:15]
				}
				extra := ""
				if opt != "" {
					extra = "  assignment_rule: " + opt + "\n"
				}
				rep, _ := semanticsRun(t, srv, leadRows, leadSync(api, extra), false)
				require.Equal(t, reverseetl.Succeeded, rep.Status, rep.Error)
				assert.Equal(t, int64(2), rep.Created)
				rest, bulk := writesOf(srv)
				if api == APIBulk {
					assert.Empty(t, rest, "no REST save")
					assert.Equal(t, []string{wantBulk}, bulk, "the job names the rule")
				} else {
					assert.Empty(t, bulk, "no Bulk job")
					assert.Equal(t, []string{wantREST}, rest, "the save carries the header")
				}
				assert.Len(t, byExt(srv, "Lead"), 2)
			})
		}
	}
}

// A rule that cannot run fails the sync before any record is sent, in the
// plan and in the run: no active rule for default, an Id that is no rule,
// a rule of another object.
func TestAssignmentRuleRefusedBeforeSending(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			_, err := srv.Insert("AssignmentRule", map[string]any{"Name": "Old", "SobjectType": "Lead", "Active": false})
			require.NoError(t, err)
			caseRule, err := srv.Insert("AssignmentRule", map[string]any{"Name": "Support", "SobjectType": "Case", "Active": true})
			require.NoError(t, err)
			notARule, err := srv.Insert("Account", map[string]any{"Name": "x"})
			require.NoError(t, err)
			for opt, want := range map[string]string{
				"default": "assignment_rule default: Lead has no active assignment rule",
				caseRule:  "assignment_rule " + caseRule + " is a rule for Case, not for Lead",
				notARule:  "assignment_rule " + notARule + " is not an assignment rule of this org",
			} {
				for _, plan := range []bool{true, false} {
					rep, _ := semanticsRun(t, srv, leadRows, leadSync(api, "  assignment_rule: "+opt+"\n"), plan)
					assert.Equal(t, reverseetl.Failed, rep.Status)
					assert.Contains(t, rep.Error, want)
				}
			}
			rest, bulk := writesOf(srv)
			assert.Empty(t, rest)
			assert.Empty(t, bulk)
			assert.Empty(t, byExt(srv, "Lead"))
		})
	}
}

// A sink written to without Preflight resolves the rule on its first Bulk
// job, and fails the write's records when it cannot.
func TestAssignmentRuleWithoutPreflight(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	layout := sink.NewLayout([]string{"External_Id__c", "LastName", "Company"}, nil)
	opt := fastOptions(APIBulk)
	opt.AssignmentRule = AssignDefault

	s := emuSink(t, c, "Lead", Upsert, "External_Id__c", opt)
	res := write(t, s, recs(layout, []any{"L-1", "Ada", "Acme"}))
	require.NotNil(t, res[0].Err)
	assert.Contains(t, res[0].Err.Message, "Lead has no active assignment rule")
	assert.Empty(t, srv.Jobs(), "no job was created")

	active, _, _ := seedRules(t, srv)
	s = emuSink(t, c, "Lead", Upsert, "External_Id__c", opt)
	res = write(t, s, recs(layout, []any{"L-1", "Ada", "Acme"}))
	require.Nil(t, res[0].Err)
	require.Len(t, srv.Jobs(), 1)
	assert.Equal(t, active, srv.Jobs()[0].AssignmentRuleID)
}

// A failing rule query is an error of the Preflight, not a problem found.
func TestAssignmentRuleQueryFails(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv, func(c *connConfig) { c.MaxRetries = Int(0) })
	opt := fastOptions(APIREST)
	opt.AssignmentRule = AssignDefault
	s := emuSink(t, c, "Lead", Upsert, "External_Id__c", opt)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Describe(ctx, "Lead")
	require.NoError(t, err)
	srv.Fault(sftest.Fault{Path: "/query", Status: http.StatusInternalServerError})
	err = s.Preflight(ctx, sink.NewLayout([]string{"External_Id__c", "LastName", "Company"}, nil))
	require.Error(t, err)
	var ae *APIError
	assert.True(t, errors.As(err, &ae), "the API's error is kept: %v", err)
	assert.Contains(t, err.Error(), "finding assignment rule default")
}

func TestAssignmentRuleOption(t *testing.T) {
	for _, tc := range []struct {
		object string
		op     Operation
		rule   string
		want   string
	}{
		{"Lead", Insert, "default", ""},
		{"case", Update, "01Q000000000001", ""},
		{"Lead", Upsert, toID18("01Q000000000001"), ""},
		{"Lead", Insert, "yes", `assignment_rule "yes": want default or the Id`},
		{"Lead", Insert, "01Q000000000001AAB", `assignment_rule "01Q000000000001AAB": want default or the Id`},
		{"Lead", Delete, "default", "not to delete"},
		{"Account", Insert, "default", "runs assignment rules for Case and Lead, not for Account"},
	} {
		d := Destination{Object: tc.object, Operation: tc.op, ExternalID: "External_Id__c", Options: Options{AssignmentRule: tc.rule}}
		err := d.check()
		if tc.want == "" {
			assert.NoError(t, err, "%+v", tc)
			continue
		}
		var ke *keyError
		require.True(t, errors.As(err, &ke), "%+v: %v", tc, err)
		assert.Equal(t, "assignment_rule", ke.key)
		assert.Contains(t, err.Error(), tc.want)
	}
}

// The option is read from the destination section, and a bad value is
// reported at its line.
func TestAssignmentRuleFromTheFile(t *testing.T) {
	srv := emulator(t)
	r := &engineRun{srv: srv, tables: map[string]table{"s": leadRows}}
	ctx := context.Background()
	p, err := config.Parse(ctx, "retl.yaml", []byte(r.project()), map[string][]byte{"configs/s.yaml": []byte(leadSync(APIREST, "  assignment_rule: sometimes\n"))})
	require.NoError(t, err)
	reg := reverseetl.NewRegistry()
	Register(reg)
	_, err = New(ctx, reverseetl.BuildContext{Sync: p.Syncs[0], Connection: p.Connections["crm"]})
	require.Error(t, err)
	var ce *config.Error
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Contains(t, err.Error(), "configs/s.yaml:10")
	assert.Contains(t, err.Error(), `assignment_rule "sometimes"`)
}
