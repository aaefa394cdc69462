package config

import (
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mapEnv(m map[string]string) Option {
	return WithEnv(func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	})
}

var fullEnv = map[string]string{
	"SNOWFLAKE_ACCOUNT": "acme-xy123",
	"SF_CLIENT_SECRET":  "sf-client-secret-1",
	"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/abcdef",
}

func fakeSM(values map[string]string) ResolverFunc {
	return func(_ context.Context, ref string) (string, error) {
		v, ok := values[ref]
		if !ok {
			return "", errors.New("secret not found")
		}
		return v, nil
	}
}

func loadFull(t *testing.T, opts ...Option) *Project {
	t.Helper()
	opts = append([]Option{
		mapEnv(fullEnv),
		WithResolver("aws-sm", fakeSM(map[string]string{"prod/retl/snowflake#password": "sn0wflake-pw"})),
	}, opts...)
	p, err := Load(context.Background(), "testdata/full/configs", opts...)
	require.NoError(t, err)
	return p
}

func ptr[T any](v T) *T { return &v }

func TestLoadFullExample(t *testing.T) {
	p := loadFull(t)
	projectFile := filepath.Join("testdata", "full", "retl.yaml")
	syncFile := filepath.Join("testdata", "full", "configs", "account_health.yaml")

	assert.Equal(t, projectFile, p.File)
	require.Len(t, p.Connections, 2)
	wh := p.Connections["warehouse"]
	require.NotNil(t, wh)
	assert.Equal(t, "warehouse", wh.Name)
	assert.Equal(t, "snowflake", wh.Type)
	assert.Equal(t, Pos{File: projectFile, Line: 2, Col: 3}, wh.Pos)
	assert.Equal(t, []string{"account", "password"}, wh.Section.Keys())
	var whConf struct {
		Account  string `yaml:"account"`
		Password string `yaml:"password"`
	}
	require.NoError(t, wh.Section.Decode(&whConf))
	assert.Equal(t, "acme-xy123", whConf.Account)
	assert.Equal(t, "sn0wflake-pw", whConf.Password)
	assert.Equal(t, "salesforce", p.Connections["crm"].Type)

	assert.Equal(t, Defaults{Parallel: 4, RecordsPerWrite: 10000, NullPolicy: NullClear, OnFailure: OnFailure{MaxFailedRows: ptr(0)}}, p.Defaults)
	assert.Equal(t, Alerts{
		OnSyncFailure:   true,
		FailedRowsAbove: ptr(100),
		Email:           &EmailAlert{Connection: "warehouse", Integration: "RETL_EMAIL", Recipients: []string{"data@example.com"}},
		Webhook:         &WebhookAlert{URL: fullEnv["SLACK_WEBHOOK_URL"]},
	}, p.Alerts)
	assert.Equal(t, Reports{Dir: "reports"}, p.Reports)
	assert.Equal(t, &Writeback{Connection: "warehouse", Schema: "RETL", Results: "all", RetentionDays: 30}, p.Writeback)
	assert.Equal(t, SecretsConfig{AWS: AWSSecrets{Region: "eu-west-1"}}, p.Secrets)

	require.Len(t, p.Syncs, 2)
	s := p.Sync("account_health")
	require.NotNil(t, s)
	assert.Same(t, s, p.Syncs[0], "syncs are in file name order")
	assert.Equal(t, syncFile, s.File)
	assert.Equal(t, Pos{File: syncFile, Line: 1, Col: 1}, s.Pos)
	assert.Equal(t, "snowflake", s.Source.Type)
	assert.Equal(t, "warehouse", s.Source.Connection)
	assert.Equal(t, "select * from analytics.account_health", s.Source.Query)
	assert.Equal(t, []string{"warehouse_size"}, s.Source.Section.Keys())
	assert.Equal(t, Pos{File: syncFile, Line: 2, Col: 1}, s.Source.Pos)

	d := s.Destination
	assert.Equal(t, "salesforce", d.Type)
	assert.Equal(t, "crm", d.Connection)
	assert.Equal(t, []string{"object", "operation", "match_on", "api", "batch_size"}, d.Section.Keys(),
		"everything but type and connection is the sink's")
	var sf struct {
		Object    string `yaml:"object"`
		Operation string `yaml:"operation"`
		MatchOn   string `yaml:"match_on"`
		API       string `yaml:"api"`
		BatchSize int    `yaml:"batch_size"`
	}
	require.NoError(t, d.Section.Decode(&sf))
	assert.Equal(t, "Account", sf.Object)
	assert.Equal(t, "upsert", sf.Operation)
	assert.Equal(t, "External_Id__c", sf.MatchOn)
	assert.Equal(t, "bulk", sf.API)
	assert.Equal(t, 200, sf.BatchSize)

	at := func(line int) Pos { return Pos{File: syncFile, Line: line, Col: 5} }
	assert.Equal(t, []*Mapping{
		{Pos: at(17), From: "ACCOUNT_ID", To: "External_Id__c"},
		{Pos: at(18), From: "CSM_EMAIL", To: "CSM_Email__c", SetIfEmpty: true},
		{Pos: at(19), To: "Tier__c", Value: "At Risk", HasValue: true, When: "HEALTH_SCORE < 50"},
		{Pos: at(20), To: "Score_Band__c", Expr: "HEALTH_SCORE >= 80 ? 'green' : 'red'"},
		{Pos: at(21), From: "SIGNUP", To: "Signup_Date__c", Type: TypeDate, Format: "02/01/2006"},
		{Pos: at(22), From: "NOTES", To: "Notes__c", Null: NullIgnore},
		{Pos: at(23), From: "PARENT_ID", To: "Parent.External_Id__c"},
	}, s.Mapping)
	assert.Equal(t, "ACCOUNT_ID", s.Key)
	assert.Equal(t, "TIER != 'internal'", s.Filter)
	assert.Equal(t, NullClear, s.NullPolicy)
	assert.Equal(t, OnFailure{MaxFailedRows: ptr(100), MaxFailedPercent: ptr(5.0)}, s.OnFailure)
	assert.Equal(t, 5000, s.RecordsPerWrite)
	assert.Equal(t, []string{"accounts"}, s.DependsOn)
	assert.False(t, s.RunIfParentFailed)
	assert.Equal(t, &ChangeDetection{Key: "ACCOUNT_ID"}, s.ChangeDetection)

	// The second sync takes its name from its file and its settings from
	// the project defaults.
	a := p.Sync("accounts")
	require.NotNil(t, a)
	assert.Equal(t, 10000, a.RecordsPerWrite)
	assert.Equal(t, NullClear, a.NullPolicy)
	assert.Equal(t, OnFailure{MaxFailedRows: ptr(0)}, a.OnFailure)
	assert.NotSame(t, p.Defaults.OnFailure.MaxFailedRows, a.OnFailure.MaxFailedRows)
	require.Len(t, a.Mapping, 3)
	assert.True(t, a.Mapping[2].HasValue)
	assert.Nil(t, a.Mapping[2].Value)
	assert.Nil(t, a.ChangeDetection)
	assert.True(t, a.Source.Section.IsZero())
	assert.Nil(t, p.Sync("missing"))
}

func TestLoadRegistersSecrets(t *testing.T) {
	p := loadFull(t)
	r := p.Redactor
	require.NotNil(t, r)
	for _, secret := range []string{"sn0wflake-pw", "sf-client-secret-1", fullEnv["SLACK_WEBHOOK_URL"]} {
		assert.Equal(t, "x [REDACTED] y", r.Redact("x "+secret+" y"))
	}
	// The account is not secret by its key: it stays readable in logs.
	assert.Equal(t, "acme-xy123", r.Redact("acme-xy123"))
}

func TestLoadUsesGivenRedactor(t *testing.T) {
	r := &Redactor{}
	p := loadFull(t, WithRedactor(r))
	assert.Same(t, r, p.Redactor)
	assert.Equal(t, "[REDACTED]", r.Redact("sn0wflake-pw"))
}

const minimalSync = `source: {type: snowflake, query: select 1}
destination: {type: salesforce, object: Account, operation: insert}
mapping:
  - {from: NAME, to: Name}
`

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		full := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(body), 0o644))
	}
}

func TestLoadFindsProjectFile(t *testing.T) {
	project := "connections: {wh: {type: snowflake}}\n"
	tests := []struct {
		name        string
		files       map[string]string
		opts        func(root string) []Option
		wantProject string // relative to root; "" for none
		wantSyncs   []string
	}{
		{
			name:        "beside the configs directory",
			files:       map[string]string{"retl.yaml": project, "configs/a.yaml": minimalSync, "configs/b.yml": minimalSync},
			wantProject: "retl.yaml",
			wantSyncs:   []string{"a", "b"},
		},
		{
			name:        "inside the configs directory, where it is not a sync",
			files:       map[string]string{"configs/retl.yaml": project, "configs/a.yaml": minimalSync},
			wantProject: "configs/retl.yaml",
			wantSyncs:   []string{"a"},
		},
		{
			name:      "none",
			files:     map[string]string{"configs/a.yaml": minimalSync},
			wantSyncs: []string{"a"},
		},
		{
			name:  "named",
			files: map[string]string{"retl.yaml": "connections: {}\n", "other.yaml": project, "configs/a.yaml": minimalSync},
			opts: func(root string) []Option {
				return []Option{WithProjectFile(filepath.Join(root, "other.yaml"))}
			},
			wantProject: "other.yaml",
			wantSyncs:   []string{"a"},
		},
		{
			name:  "named inside the configs directory",
			files: map[string]string{"configs/p.yaml": project, "configs/a.yaml": minimalSync},
			opts: func(root string) []Option {
				return []Option{WithProjectFile(filepath.Join(root, "configs", "p.yaml"))}
			},
			wantProject: "configs/p.yaml",
			wantSyncs:   []string{"a"},
		},
		{
			name:      "other files, hidden files and directories are skipped",
			files:     map[string]string{"configs/a.yaml": minimalSync, "configs/notes.md": "x", "configs/.b.yaml": "x", "configs/sub.yaml/c.yaml": "x"},
			wantSyncs: []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tt.files)
			var opts []Option
			if tt.opts != nil {
				opts = tt.opts(root)
			}
			p, err := Load(context.Background(), filepath.Join(root, "configs"), opts...)
			require.NoError(t, err)
			if tt.wantProject == "" {
				assert.Empty(t, p.File)
				assert.Empty(t, p.Connections)
			} else {
				assert.Equal(t, filepath.Join(root, filepath.FromSlash(tt.wantProject)), p.File)
			}
			var names []string
			for _, s := range p.Syncs {
				names = append(names, s.Name)
			}
			assert.Equal(t, tt.wantSyncs, names)
		})
	}
}

func TestLoadDirectoryErrors(t *testing.T) {
	root := t.TempDir()
	_, err := Load(context.Background(), filepath.Join(root, "missing"))
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)

	writeFiles(t, root, map[string]string{"configs/a.yaml": minimalSync})
	_, err = Load(context.Background(), filepath.Join(root, "configs"), WithProjectFile(filepath.Join(root, "nope.yaml")))
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestLoadFS(t *testing.T) {
	ctx := context.Background()
	project := []byte("connections: {wh: {type: snowflake}}\n")
	tests := []struct {
		name        string
		fsys        fstest.MapFS
		dir         string
		opts        []Option
		wantProject string
		wantFiles   []string
	}{
		{
			name:        "beside",
			fsys:        fstest.MapFS{"retl.yaml": {Data: project}, "configs/a.yaml": {Data: []byte(minimalSync)}, "configs/x.txt": {Data: []byte("x")}},
			dir:         "configs",
			wantProject: "retl.yaml",
			wantFiles:   []string{"configs/a.yaml"},
		},
		{
			name:        "named",
			fsys:        fstest.MapFS{"p/project.yaml": {Data: project}, "p/configs/a.yaml": {Data: []byte(minimalSync)}},
			dir:         "p/configs",
			opts:        []Option{WithProjectFile("p/project.yaml")},
			wantProject: "p/project.yaml",
			wantFiles:   []string{"p/configs/a.yaml"},
		},
		{
			name:        "root directory, which has no parent",
			fsys:        fstest.MapFS{"retl.yaml": {Data: project}, "a.yaml": {Data: []byte(minimalSync)}},
			dir:         ".",
			wantProject: "retl.yaml",
			wantFiles:   []string{"a.yaml"},
		},
		{
			name:      "none",
			fsys:      fstest.MapFS{"c/a.yaml": {Data: []byte(minimalSync)}},
			dir:       "c",
			wantFiles: []string{"c/a.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LoadFS(ctx, tt.fsys, tt.dir, tt.opts...)
			require.NoError(t, err)
			assert.Equal(t, tt.wantProject, p.File)
			var files []string
			for _, s := range p.Syncs {
				files = append(files, s.File)
			}
			assert.Equal(t, tt.wantFiles, files)
		})
	}
}

func TestLoadFSErrors(t *testing.T) {
	ctx := context.Background()
	fsys := fstest.MapFS{
		"retl.yaml":         {Data: []byte("connections: {}\n")},
		"configs/retl.yaml": {Data: []byte(minimalSync)},
		"configs/d.yaml":    {Data: []byte("source: [\n")},
		"configs/e.yaml":    {Data: []byte(minimalSync)},
		"configs/f.yaml":    {Data: []byte("depends_on: [d]\n" + minimalSync)},
	}
	_, err := LoadFS(ctx, fsys, "configs")
	var errs Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 2, "the broken file is reported once; depends_on on it is not: %v", err)
	assert.Equal(t, "configs/d.yaml:1:9: invalid YAML: sequence end token ']' not found", errs[0].Error())
	assert.Equal(t, "configs/retl.yaml: retl.yaml is the name of the project file, and the project file is retl.yaml; rename or remove one", errs[1].Error())
}

func TestParse(t *testing.T) {
	ctx := context.Background()
	p, err := Parse(ctx, "", nil, map[string][]byte{"b.yaml": []byte(minimalSync), "a.yaml": []byte(minimalSync)})
	require.NoError(t, err)
	assert.Empty(t, p.File)
	require.Len(t, p.Syncs, 2)
	assert.Equal(t, "a", p.Syncs[0].Name)
	assert.Equal(t, NullClear, p.Syncs[0].NullPolicy)
	assert.Zero(t, p.Syncs[0].RecordsPerWrite)

	p, err = Parse(ctx, "retl.yaml", []byte("defaults: {null_policy: ignore, records_per_write: 7}\n"), map[string][]byte{"a.yaml": []byte(minimalSync)})
	require.NoError(t, err)
	assert.Equal(t, "retl.yaml", p.File)
	assert.Equal(t, NullIgnore, p.Syncs[0].NullPolicy)
	assert.Equal(t, 7, p.Syncs[0].RecordsPerWrite)

	// An empty project file is a project without connections.
	p, err = Parse(ctx, "retl.yaml", []byte("# nothing yet\n"), nil)
	require.NoError(t, err)
	assert.Equal(t, "retl.yaml", p.File)
	assert.Empty(t, p.Connections)
}

func TestParseCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Parse(ctx, "", nil, map[string][]byte{"a.yaml": []byte(minimalSync)})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestInvalidResolverScheme(t *testing.T) {
	_, err := Parse(context.Background(), "", nil, nil, WithResolver("AWS SM", fakeSM(nil)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `invalid secret resolver scheme "AWS SM"`)
	_, err = Parse(context.Background(), "", nil, nil, WithResolverFactory("x", nil))
	require.Error(t, err)
}

// brokenFS fails in the ways a real file system can.
type brokenFS struct {
	fstest.MapFS
	openErr map[string]error
	statErr map[string]error
	readErr map[string]error
}

type brokenFile struct {
	fs.File
	statErr, readErr error
}

func (f brokenFile) Stat() (fs.FileInfo, error) {
	if f.statErr != nil {
		return nil, f.statErr
	}
	return f.File.Stat()
}

func (f brokenFile) Read(p []byte) (int, error) {
	if f.readErr != nil {
		return 0, f.readErr
	}
	return f.File.Read(p)
}

func (b brokenFS) Open(name string) (fs.File, error) {
	if err := b.openErr[name]; err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f, err := b.MapFS.Open(name)
	if err != nil {
		return nil, err
	}
	return brokenFile{File: f, statErr: b.statErr[name], readErr: b.readErr[name]}, nil
}

func TestLoadFSReadErrors(t *testing.T) {
	files := fstest.MapFS{
		"configs/a.yaml": {Data: []byte(minimalSync)},
		"configs/b.yaml": {Data: []byte(minimalSync)},
		"configs/c.yaml": {Data: []byte(minimalSync)},
	}
	ctx := context.Background()

	_, err := LoadFS(ctx, brokenFS{MapFS: files, openErr: map[string]error{"retl.yaml": fs.ErrPermission}}, "configs")
	require.ErrorIs(t, err, fs.ErrPermission)
	assert.EqualError(t, err, "config: opening the project file: open retl.yaml: permission denied")

	_, err = LoadFS(ctx, brokenFS{
		MapFS:   files,
		openErr: map[string]error{"configs/a.yaml": fs.ErrPermission},
		statErr: map[string]error{"configs/b.yaml": errors.New("stale handle")},
		readErr: map[string]error{"configs/c.yaml": errors.New("i/o error")},
	}, "configs")
	var errs Errors
	require.ErrorAs(t, err, &errs)
	assert.Equal(t, []string{
		"configs/a.yaml: cannot open the file: permission denied",
		"configs/b.yaml: cannot read the file: stale handle",
		"configs/c.yaml: cannot read the file: i/o error",
	}, strings.Split(err.Error(), "\n"))
}

var update = flag.Bool("update", false, "rewrite golden files and the generated tables of REFERENCE.md")

// TestLoadBrokenProject checks the errors of a project with one mistake per
// file against testdata/broken/errors.golden (go test -update rewrites it).
// The broken project's errors as the config package finds them alone;
// sink/salesforce's TestBrokenProjectInOnePass adds the Salesforce sink's
// (testdata/broken/errors.golden).
func TestLoadBrokenProject(t *testing.T) {
	_, err := Load(context.Background(), filepath.Join("testdata", "broken", "configs"), WithEnv(nil))
	var errs Errors
	require.ErrorAs(t, err, &errs)
	got := err.Error() + "\n"
	golden := filepath.Join("testdata", "broken", "errors-config-only.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
}

func TestLoadEmptyOrMissingConfigsDirectoryNamesIt(t *testing.T) {
	root := t.TempDir()
	missing := filepath.Join(root, "missing")
	_, err := Load(context.Background(), missing)
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Equal(t, "config: reading the configs directory "+missing+": no such file or directory", err.Error())

	// Only files that are not syncs: nothing to run is an error.
	empty := filepath.Join(root, "empty")
	writeFiles(t, root, map[string]string{"empty/README.md": "notes", "empty/.hidden.yaml": minimalSync})
	_, err = Load(context.Background(), empty)
	var errs Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 1)
	assert.Equal(t, empty+": the configs directory holds no sync files (*.yaml, *.yml)", err.Error())

	_, err = LoadFS(context.Background(), fstest.MapFS{"configs/x.txt": {Data: []byte("x")}}, "configs")
	require.ErrorAs(t, err, &errs)
	assert.Equal(t, "configs: the configs directory holds no sync files (*.yaml, *.yml)", err.Error())
}

func TestLoadAcceptsByteOrderMark(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"configs/a.yaml": "\ufeff" + minimalSync, "retl.yaml": "\ufeffdefaults:\n  parallel: 3\n"})
	p, err := Load(context.Background(), filepath.Join(root, "configs"))
	require.NoError(t, err)
	require.Len(t, p.Syncs, 1)
	assert.Equal(t, "a", p.Syncs[0].Name)
	assert.Equal(t, 3, p.Defaults.Parallel)

	// Positions on the first line count from the first visible character.
	writeFiles(t, root, map[string]string{"configs/a.yaml": "\ufeffnmae: x\n" + minimalSync})
	_, err = Load(context.Background(), filepath.Join(root, "configs"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `a.yaml:1:1: key "nmae": unknown key; did you mean "name"?`)
}

func TestLoadWithPartialKeepsTheSyncsWithoutErrors(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"configs/a.yaml": minimalSync,
		"configs/b.yaml": "nmae: b\n" + minimalSync,
		"configs/c.yaml": minimalSync,
	})
	p, err := Load(context.Background(), filepath.Join(root, "configs"), WithPartial())
	var errs Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 1)
	require.NotNil(t, p)
	names := []string{}
	for _, s := range p.Syncs {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"a", "c"}, names)

	// Without the option, no project.
	p, err = Load(context.Background(), filepath.Join(root, "configs"))
	require.Error(t, err)
	assert.Nil(t, p)

	// A broken project file: its connections are unknown, so no sync is kept.
	writeFiles(t, root, map[string]string{"retl.yaml": "defaults: {paralel: 2}\n"})
	p, err = Load(context.Background(), filepath.Join(root, "configs"), WithPartial())
	require.ErrorAs(t, err, &errs)
	require.NotNil(t, p)
	assert.Empty(t, p.Syncs)
}

// A WithCheck function's errors come with the files' own, in one pass:
// its *Error and Errors as they are, another error at the sync's file.
func TestWithCheckErrorsComeInTheSamePass(t *testing.T) {
	bad := strings.Replace(validSync, "mapping:", "mappings:", 1)
	files := map[string][]byte{"a.yaml": []byte(validSync), "b.yaml": []byte(validSync), "c.yaml": []byte(validSync), "d.yaml": []byte(bad)}
	check := func(s *Sync) error {
		switch s.Name {
		case "a":
			return &Error{Pos: Pos{File: s.File, Line: 7, Col: 3}, Key: "destination.x", Msg: "one"}
		case "b":
			return Errors{{Pos: Pos{File: s.File, Line: 1, Col: 1}, Msg: "two"}, {Pos: Pos{File: s.File, Line: 2, Col: 1}, Msg: "three"}}
		case "c":
			return errors.New("four")
		}
		return nil
	}
	_, err := Parse(context.Background(), "", nil, files, WithCheck(check))
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		`a.yaml:7:3: key "destination.x": one`,
		`b.yaml:1:1: two`,
		`b.yaml:2:1: three`,
		`c.yaml:1:1: four`,
		`d.yaml:9:1: key "mappings": unknown key; did you mean "mapping"?`,
	}, "\n"), err.Error())
	var errs Errors
	require.ErrorAs(t, err, &errs)
	assert.EqualError(t, errs[3].Err, "four", "the cause is kept")
}
