package demo

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/examples/configs"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// failingFS fails every directory listing.
type failingFS struct{ fstest.MapFS }

func (failingFS) ReadDir(string) ([]fs.DirEntry, error) { return nil, fs.ErrPermission }

func TestStatements(t *testing.T) {
	got := statements("-- comment\ncreate table a (x int);\n\ninsert into a\nvalues (1);\n  -- another\nselect 1")
	assert.Equal(t, []string{"create table a (x int)", "insert into a\nvalues (1)", "select 1"}, got)
}

func TestRecordValue(t *testing.T) {
	srv := sftest.NewServer()
	defer srv.Close()
	acct, err := srv.Insert("Account", map[string]any{"Name": "Acme", "External_Id__c": "A-1"})
	require.NoError(t, err)
	contact := map[string]any{"LastName": "Ames", "AccountId": acct, "Parent__c": "a01000000000001AAA"}
	assert.Equal(t, "Ames", recordValue(srv, contact, "lastname"))
	assert.Equal(t, "A-1", recordValue(srv, contact, "Account.External_Id__c"))
	assert.Equal(t, "a01000000000001AAA", recordValue(srv, contact, "Parent__r.External_Id__c"), "a custom relationship shows its Id")
	assert.Equal(t, "", recordValue(srv, contact, "Owner.External_Id__c"))
	contact["AccountId"] = "001000000000009AAA"
	assert.Equal(t, "001000000000009AAA", recordValue(srv, contact, "Account.External_Id__c"), "a parent not found shows its Id")
	assert.Equal(t, "", text(nil))
}

func TestDemoProjectErrors(t *testing.T) {
	env, err := Start(context.Background(), t.TempDir(), Options{})
	require.NoError(t, err)
	defer env.Close()
	ctx := context.Background()

	env.syncs = failingFS{}
	_, err = env.Project(ctx, "", "")
	assert.EqualError(t, err, "demo: the example syncs: permission denied")
	// A directory among the files cannot be read as one.
	env.syncs = fstest.MapFS{"sub/x.yaml": &fstest.MapFile{}}
	_, err = env.Project(ctx, "", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "demo: the example syncs: ")
	env.syncs = configs.FS

	// The demo's project file goes beside the warehouse; a directory that
	// is gone cannot take it.
	gone := *env
	gone.dir = filepath.Join(t.TempDir(), "gone")
	_, err = gone.Project(ctx, filepath.Join("..", "configs"), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "retl.yaml")

	v, ok := env.Lookup("RETL_DEMO_NOT_SET")
	assert.False(t, ok)
	assert.Empty(t, v)
	t.Setenv("RETL_DEMO_OTHER", "x")
	v, ok = env.Lookup("RETL_DEMO_OTHER")
	assert.True(t, ok)
	assert.Equal(t, "x", v)
}

func TestStartDemoNeedsAWritableDirectory(t *testing.T) {
	_, err := Start(context.Background(), filepath.Join(t.TempDir(), "missing"), Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "demo: warehouse: ")
}

func TestShowRecords(t *testing.T) {
	srv := sftest.NewServer()
	defer srv.Close()
	_, err := srv.Insert("Account", map[string]any{"Name": "Acme", "External_Id__c": "A-1"})
	require.NoError(t, err)
	p, err := config.Parse(context.Background(), "", nil, map[string][]byte{
		"a.yaml": []byte("source: {type: sql, query: q}\ndestination: {type: salesforce, object: Account, operation: update}\nmapping: [{from: ID, to: Id}, {from: N, to: Name}]\n"),
		"b.yaml": []byte("source: {type: sql, query: q}\ndestination: {type: salesforce, object: Account, operation: upsert, match_on: External_Id__c}\n" +
			"mapping: [{from: E, to: External_Id__c}, {from: N, to: Name}, {from: I, to: Industry}, {from: W, to: Website}, {from: P, to: Phone}]\n"),
		"c.yaml": []byte("source: {type: sql, query: q}\ndestination: {type: salesforce, object: Lead, operation: insert}\nmapping: [{from: N, to: LastName}]\n"),
	})
	require.NoError(t, err)
	var b strings.Builder
	(&Env{srv: srv}).WriteRecords(&b, p)
	assert.Equal(t, "\nAccount: 1 records\n  External_Id__c  Name  Industry  Website  Phone\n  A-1             Acme                     \n\nLead: 0 records\n", b.String())
}
