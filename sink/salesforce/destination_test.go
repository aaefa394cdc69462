package salesforce

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
)

// loadErrors parses sync files with this sink's check, as `retl validate`
// does, and returns the error lines.
func loadErrors(t *testing.T, files map[string]string) []string {
	t.Helper()
	in := map[string][]byte{}
	for k, v := range files {
		in[k] = []byte(v)
	}
	_, err := config.Parse(context.Background(), "", nil, in, config.WithCheck(Check))
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestDestinationRules(t *testing.T) {
	sync := func(dest, mapping string) string {
		return "source: {type: snowflake}\ndestination:\n  type: salesforce\n  object: Account\n" + dest + "mapping:\n" + mapping
	}
	const (
		mapExt = "  - {from: ID, to: Ext__c}\n"
		mapID  = "  - {from: SFID, to: id}\n"
	)
	tests := []struct {
		name string
		sync string
		want []string
	}{
		{"upsert", sync("  operation: upsert\n  match_on: Ext__c\n", mapExt), nil},
		{"upsert without external_id", sync("  operation: upsert\n", mapExt),
			[]string{`s.yaml:2:1: key "destination.match_on": missing required key: upsert finds records by match_on, an external id field (or Id)`}},
		{"upsert with the external id unmapped", sync("  operation: upsert\n  match_on: Other__c\n", mapExt),
			[]string{`s.yaml:6:13: key "destination.match_on": field Other__c is not mapped; upsert finds records by its mapped value`}},
		{"upsert matches the external id without regard to case", sync("  operation: upsert\n  match_on: EXT__C\n", mapExt), nil},
		{"update by Id", sync("  operation: update\n", mapID), nil},
		{"update by match_on", sync("  operation: update\n  match_on: Ext__c\n", mapExt), nil},
		{"update without Id or match_on", sync("  operation: update\n", mapExt),
			[]string{`s.yaml:5:14: key "destination.operation": update needs a mapping to Id or destination.match_on`}},
		{"match_on of the wrong type is one error", sync("  operation: update\n  match_on: [Ext__c]\n", mapExt),
			[]string{`s.yaml:6:13: key "destination.match_on": expected a string, got a list`}},
		{"update with match_on unmapped", sync("  operation: update\n  match_on: Email__c\n", mapExt),
			[]string{`s.yaml:6:13: key "destination.match_on": field Email__c is not mapped; records are matched on its mapped value`}},
		{"delete by Id", sync("  operation: delete\n", mapID), nil},
		{"delete without Id or match_on", sync("  operation: delete\n", mapExt),
			[]string{`s.yaml:5:14: key "destination.operation": delete needs a mapping to Id or destination.match_on`}},
		{"hard_delete by match_on", sync("  operation: hard_delete\n  match_on: Ext__c\n", mapExt), nil},
		{"hard_delete without Id or match_on", sync("  operation: hard_delete\n", mapExt),
			[]string{`s.yaml:5:14: key "destination.operation": hard_delete needs a mapping to Id or destination.match_on`}},
		{"insert", sync("  operation: insert\n", mapExt), nil},
		{"insert with external_id", sync("  operation: insert\n  match_on: Ext__c\n", mapExt),
			[]string{`s.yaml:6:13: key "destination.match_on": insert finds no record: remove match_on, or use upsert`}},
		{"misspelled key", sync("  opration: upsert\n", mapExt),
			[]string{`s.yaml:5:3: key "destination.opration": unknown key; did you mean "operation"?`}},
		{"invalid operation", sync("  operation: merge\n", mapExt),
			[]string{`s.yaml:5:14: key "destination.operation": operation "merge": must be one of insert, update, upsert, delete, hard_delete`}},
		{"no object, no operation: both", "source: {type: snowflake}\ndestination:\n  type: salesforce\nmapping:\n" + mapExt,
			[]string{
				`s.yaml:2:1: key "destination.object": missing required key: the Salesforce object, such as Account`,
				`s.yaml:2:1: key "destination.operation": missing required key: insert, update, upsert, delete or hard_delete`,
			}},
		{"on_removed on an update", sync("  operation: update\n  match_on: Ext__c\n", mapExt) +
			"key: ID\nchange_detection: true\non_removed: delete\n",
			[]string{`s.yaml:11:1: key "on_removed": on_removed applies to upsert syncs, not update`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, loadErrors(t, map[string]string{"s.yaml": tt.sync}))
		})
	}
}

// Every error of every file of a broken project in one pass: the config
// package's and this sink's together, in file and line order.
func TestBrokenProjectInOnePass(t *testing.T) {
	dir := filepath.Join("..", "..", "config", "testdata", "broken")
	_, err := config.Load(context.Background(), filepath.Join(dir, "configs"), config.WithEnv(nil), config.WithCheck(Check))
	require.Error(t, err)
	want, rerr := os.ReadFile(filepath.Join(dir, "errors.golden"))
	require.NoError(t, rerr)
	got := strings.ReplaceAll(err.Error()+"\n", filepath.Join("..", "..", "config")+string(filepath.Separator), "")
	assert.Equal(t, string(want), got)
}
