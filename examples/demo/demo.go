// Package demo starts the demo that `retl demo` runs: a SQLite warehouse in
// a file, loaded from warehouse.sql, and a Salesforce emulator seeded with
// the records of seed.yaml ("entered by hand" before the first sync), with
// the custom fields of schema.yaml. The project file retl.yaml points the
// example syncs of examples/configs at both. It needs nothing but Go, so
// it also serves tests and examples that want a whole project to run.
package demo

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"
	_ "modernc.org/sqlite" // the warehouse's driver

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/examples/configs"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// Files holds warehouse.sql, seed.yaml, schema.yaml and retl.yaml.
//
//go:embed warehouse.sql seed.yaml schema.yaml retl.yaml
var Files embed.FS

// The references the demo project file uses for what is only known once
// the demo runs; Env.Lookup fills them.
const (
	EnvDSN = "RETL_DEMO_WAREHOUSE_DSN"
	EnvURL = "RETL_DEMO_SALESFORCE_URL"
)

// ProjectPath is the project file's path in this repository, which
// messages and the embedded project's errors name.
const ProjectPath = "examples/demo/retl.yaml"

// Tables are the warehouse's tables of source rows.
var Tables = []string{"accounts", "account_health", "contacts", "renewals"}

// Options change where the demo reads its files; the zero value uses the
// embedded ones.
type Options struct {
	// Files has warehouse.sql, seed.yaml, schema.yaml and retl.yaml
	// (default Files).
	Files fs.FS
	// Syncs has the sync files, *.yaml at its root (default configs.FS).
	Syncs fs.FS
	// Server are extra options for the emulator.
	Server []sftest.Option
}

// Env is a running demo.
type Env struct {
	srv    *sftest.Server
	files  fs.FS
	syncs  fs.FS
	dir    string
	dbPath string
	// Seeded counts the records seeded, by object.
	Seeded map[string]int
	// Rows counts the warehouse's rows, by table.
	Rows map[string]int
}

// Start loads the warehouse into dir/warehouse.db and starts a seeded
// emulator on a loopback port.
func Start(ctx context.Context, dir string, o Options) (*Env, error) {
	if o.Files == nil {
		o.Files = Files
	}
	if o.Syncs == nil {
		o.Syncs = configs.FS
	}
	schema, err := fs.ReadFile(o.Files, "schema.yaml")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	srv, err := sftest.Start(append([]sftest.Option{sftest.WithSchemaYAML(schema)}, o.Server...)...)
	if err != nil {
		return nil, fmt.Errorf("demo: starting the Salesforce emulator: %w", err)
	}
	e := &Env{srv: srv, files: o.Files, syncs: o.Syncs, dir: dir, dbPath: filepath.Join(dir, "warehouse.db"),
		Seeded: map[string]int{}, Rows: map[string]int{}}
	if err := e.load(ctx); err != nil {
		srv.Close()
		return nil, err
	}
	return e, nil
}

// Close stops the emulator; the warehouse file stays in the directory.
func (e *Env) Close() { e.srv.Close() }

// Server is the emulator, to read or change what Salesforce holds.
func (e *Env) Server() *sftest.Server { return e.srv }

// URL is where the emulator answers, for both login and API calls.
func (e *Env) URL() string { return e.srv.URL() }

// DSN is the warehouse's database/sql data source name for the sqlite driver.
func (e *Env) DSN() string { return "file:" + e.dbPath }

// DBPath is the warehouse file.
func (e *Env) DBPath() string { return e.dbPath }

// Lookup resolves the demo's ${...} references, and the rest from the
// environment.
func (e *Env) Lookup(name string) (string, bool) {
	switch name {
	case EnvDSN:
		return e.DSN(), true
	case EnvURL:
		return e.URL(), true
	}
	return os.LookupEnv(name)
}

// load creates the warehouse tables, seeds the emulator and records the
// seeded accounts' Ids in the warehouse's copy of them (crm_accounts).
func (e *Env) load(ctx context.Context) error {
	script, err := fs.ReadFile(e.files, "warehouse.sql")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	// sql.Open fails only for a driver that is not compiled in; sqlite is.
	db, _ := sql.Open("sqlite", e.DSN())
	defer db.Close()
	// One transaction: SQLite syncs the file once instead of per insert.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("demo: warehouse: %w", err)
	}
	defer tx.Rollback()
	for _, stmt := range statements(string(script)) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("demo: warehouse: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("demo: warehouse: %w", err)
	}
	for _, t := range Tables {
		var n int
		if err := db.QueryRowContext(ctx, "select count(*) from "+t).Scan(&n); err != nil {
			return fmt.Errorf("demo: warehouse: %w", err)
		}
		e.Rows[t] = n
	}

	data, err := fs.ReadFile(e.files, "seed.yaml")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	var seed struct {
		Account []map[string]any `yaml:"Account"`
		Contact []map[string]any `yaml:"Contact"`
	}
	if err := yaml.UnmarshalWithOptions(data, &seed, yaml.Strict()); err != nil {
		return fmt.Errorf("demo: seed: %w", err)
	}
	for _, obj := range []struct {
		name string
		recs []map[string]any
	}{{"Account", seed.Account}, {"Contact", seed.Contact}} {
		for _, r := range obj.recs {
			for k, v := range r {
				if n, ok := v.(uint64); ok {
					// YAML numbers decode as uint64, which the emulator
					// does not take.
					r[k] = int64(n)
				}
			}
			id, err := e.srv.Insert(obj.name, r)
			if err != nil {
				return fmt.Errorf("demo: seed: %w", err)
			}
			e.Seeded[obj.name]++
			if obj.name == "Account" {
				if _, err := db.ExecContext(ctx, "insert into crm_accounts (id, external_id) values (?, ?)", id, r["External_Id__c"]); err != nil {
					return fmt.Errorf("demo: warehouse: %w", err)
				}
			}
		}
	}
	return nil
}

// statements splits a script into its statements: at each semicolon that
// ends a line, leaving out comment lines.
func statements(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Project loads the syncs to demo: the embedded example syncs with the
// embedded demo project file, or the caller's configs directory with the
// caller's project file (else the demo's, written beside the warehouse).
// Either way ${RETL_DEMO_...} references name the demo's warehouse and
// emulator. opts are the caller's load options (its registry's checks,
// secret resolvers).
func (e *Env) Project(ctx context.Context, configsDir, projectFile string, opts ...config.Option) (*config.Project, error) {
	opts = append(opts, config.WithEnv(e.Lookup))
	if configsDir == "" {
		if projectFile != "" {
			return nil, errors.New("demo: --project needs --configs")
		}
		demoProject, err := fs.ReadFile(e.files, "retl.yaml")
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		syncs := map[string][]byte{}
		entries, err := fs.ReadDir(e.syncs, ".")
		if err != nil {
			return nil, fmt.Errorf("demo: the example syncs: %w", err)
		}
		for _, de := range entries {
			b, err := fs.ReadFile(e.syncs, de.Name())
			if err != nil {
				return nil, fmt.Errorf("demo: the example syncs: %w", err)
			}
			syncs["examples/configs/"+de.Name()] = b
		}
		return config.Parse(ctx, ProjectPath, demoProject, syncs, opts...)
	}
	if projectFile == "" {
		var err error
		if projectFile, err = e.WriteProjectFile(); err != nil {
			return nil, err
		}
	}
	return config.Load(ctx, configsDir, append(opts, config.WithProjectFile(projectFile))...)
}

// WriteProjectFile writes the demo's project file beside the warehouse, for
// planning and running by hand against the running demo, and returns its
// path.
func (e *Env) WriteProjectFile() (string, error) {
	b, err := fs.ReadFile(e.files, "retl.yaml")
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	path := filepath.Join(e.dir, "retl.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return path, nil
}
