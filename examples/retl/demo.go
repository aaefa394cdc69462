package main

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/goccy/go-yaml"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/examples/configs"
	"github.com/retl-go/retl/sink/salesforce"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// demoFiles are the demo's warehouse, the records the emulator starts
// with, its custom fields and the project file that points the example
// syncs at both.
//
//go:embed demo/warehouse.sql demo/seed.yaml demo/schema.yaml demo/retl.yaml
var embeddedDemo embed.FS

// demoFiles and demoSyncs are where the demo reads its files and the
// example syncs; tests swap in broken copies.
var (
	demoFiles fs.FS = embeddedDemo
	demoSyncs fs.FS = configs.FS
)

// The references the demo project file uses for what is only known once
// the demo runs.
const (
	envDemoDSN = "RETL_DEMO_WAREHOUSE_DSN"
	envDemoURL = "RETL_DEMO_SALESFORCE_URL"
)

// demoEnv is a running demo: a SQLite warehouse in a file and a seeded
// Salesforce emulator.
type demoEnv struct {
	srv    *sftest.Server
	dir    string
	dbPath string
	seeded map[string]int // records seeded, by object
	rows   map[string]int // warehouse rows, by table
}

// startDemo loads the warehouse into dir/warehouse.db and starts a seeded
// emulator on a loopback port.
func startDemo(ctx context.Context, dir string, opts ...sftest.Option) (*demoEnv, error) {
	schema, err := fs.ReadFile(demoFiles, "demo/schema.yaml")
	if err != nil {
		return nil, err
	}
	srv, err := sftest.Start(append([]sftest.Option{sftest.WithSchemaYAML(schema)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("demo: starting the Salesforce emulator: %w", err)
	}
	e := &demoEnv{srv: srv, dir: dir, dbPath: filepath.Join(dir, "warehouse.db"), seeded: map[string]int{}, rows: map[string]int{}}
	if err := e.load(ctx); err != nil {
		srv.Close()
		return nil, err
	}
	return e, nil
}

func (e *demoEnv) Close() { e.srv.Close() }

// URL is where the emulator answers, for both login and API calls.
func (e *demoEnv) URL() string { return e.srv.URL() }

// DSN is the warehouse's database/sql data source name for the sqlite driver.
func (e *demoEnv) DSN() string { return "file:" + e.dbPath }

// lookup resolves the demo's ${...} references, and the rest from the
// environment.
func (e *demoEnv) lookup(name string) (string, bool) {
	switch name {
	case envDemoDSN:
		return e.DSN(), true
	case envDemoURL:
		return e.URL(), true
	}
	return os.LookupEnv(name)
}

// load creates the warehouse tables, seeds the emulator and records the
// seeded accounts' Ids in the warehouse's copy of them (crm_accounts).
func (e *demoEnv) load(ctx context.Context) error {
	script, err := fs.ReadFile(demoFiles, "demo/warehouse.sql")
	if err != nil {
		return err
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
	for _, t := range []string{"accounts", "account_health", "contacts", "renewals"} {
		var n int
		if err := db.QueryRowContext(ctx, "select count(*) from "+t).Scan(&n); err != nil {
			return fmt.Errorf("demo: warehouse: %w", err)
		}
		e.rows[t] = n
	}

	data, err := fs.ReadFile(demoFiles, "demo/seed.yaml")
	if err != nil {
		return err
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
			e.seeded[obj.name]++
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

// project loads the syncs to demo: the embedded example syncs with the
// embedded demo project file, or the caller's configs directory with the
// caller's project file (else the demo's). Either way ${RETL_DEMO_...}
// references name the demo's warehouse and emulator.
func (e *demoEnv) project(ctx context.Context, configsDir, projectFile string) (*config.Project, error) {
	opts := append(loadOptions(), config.WithEnv(e.lookup))
	demoProject, err := fs.ReadFile(demoFiles, "demo/retl.yaml")
	if err != nil {
		return nil, err
	}
	if configsDir == "" {
		if projectFile != "" {
			return nil, errors.New("demo: --project needs --configs")
		}
		syncs := map[string][]byte{}
		entries, err := fs.ReadDir(demoSyncs, ".")
		if err != nil {
			return nil, fmt.Errorf("demo: the example syncs: %w", err)
		}
		for _, de := range entries {
			b, err := fs.ReadFile(demoSyncs, de.Name())
			if err != nil {
				return nil, fmt.Errorf("demo: the example syncs: %w", err)
			}
			syncs["examples/configs/"+de.Name()] = b
		}
		return config.Parse(ctx, "examples/retl/demo/retl.yaml", demoProject, syncs, opts...)
	}
	if projectFile == "" {
		projectFile = filepath.Join(e.dir, "retl.yaml")
		if err := os.WriteFile(projectFile, demoProject, 0o600); err != nil {
			return nil, err
		}
	}
	return config.Load(ctx, configsDir, append(opts, config.WithProjectFile(projectFile))...)
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("demo", flag.ContinueOnError)
	var c common
	// The demo runs the embedded syncs unless --configs says otherwise
	// (RETL_CONFIGS is for run and validate).
	flags.StringVar(&c.configs, "configs", "", "`directory` of sync files to run instead of the embedded example syncs (default: the embedded examples/configs)")
	flags.StringVar(&c.project, "project", "", "project `file` for --configs (default: the embedded demo project)")
	c.registerLog(flags, "warn")
	keep := flags.Bool("keep", false, "keep the emulator and the warehouse file until interrupted, and print how to reach them")
	report := flags.String("report", "", "write the run's JSON report to this `file`")
	h := help{
		synopsis: "retl demo [flags]",
		about: "Plan and run the example syncs against an embedded SQLite warehouse and a Salesforce\n" +
			"emulator, both in a temporary directory: needs nothing but Go.",
		examples: []string{
			"retl demo",
			"retl demo --keep   # leave the emulator up until Ctrl-C, to plan and run by hand",
		},
	}
	if code, done := parseFlags(flags, args, h, stdout, stderr); done {
		return code
	}

	dir, err := os.MkdirTemp("", "retl-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return exitFailed
	}
	// --keep keeps the directory until the demo is interrupted, not after:
	// the emulator and the warehouse file go together.
	defer os.RemoveAll(dir)
	env, err := startDemo(ctx, dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	defer env.Close()

	p, err := env.project(ctx, c.configs, c.project)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	log, err := c.logger(stderr, p.Redactor)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	if *keep && p.Reports.Dir == "" {
		p.Reports.Dir = filepath.Join(dir, "reports")
	}

	fmt.Fprintf(stdout, "retl demo\n\nWarehouse: SQLite file %s (%s).\n", env.dbPath, tableCounts(env.rows))
	fmt.Fprintf(stdout, "Salesforce: emulator at %s, holding %s entered by hand before the first sync.\n", env.URL(), seedCounts(env.seeded))
	fmt.Fprintf(stdout, "Syncs: %s.\n", syncNames(p))

	fmt.Fprintf(stdout, "\n== retl plan: what a run would do, read from Salesforce; nothing is written ==\n")
	code, _ := execute(ctx, p, log, runFlags{plan: true, changes: 3}, stdout, stderr)
	if code == exitInvalid || ctx.Err() != nil {
		return code
	}

	fmt.Fprintf(stdout, "\n== retl run ==\n")
	code, rep := execute(ctx, p, log, runFlags{report: *report}, stdout, stderr)
	if rep == nil {
		return code
	}

	fmt.Fprintf(stdout, "\n== What Salesforce holds now ==\n")
	showRecords(stdout, env.srv, p)

	// Change detection: the second run sends only what changed since the
	// first (here nothing but the rows Salesforce rejected).
	fmt.Fprintf(stdout, "\n== retl run, again: only rows that changed since Salesforce accepted them are sent ==\n")
	code2, rep2 := execute(ctx, p, log, runFlags{}, stdout, stderr)
	if rep2 == nil {
		return code2
	}
	if err := showRunLog(ctx, stdout, env.DSN()); err != nil {
		fmt.Fprintln(stderr, "demo: reading the run log:", err)
	}

	if !*keep {
		if c.configs == "" {
			fmt.Fprintln(stdout, "\nThe sync files are in examples/configs. With --keep the emulator stays up, to plan and run them yourself.")
		}
		return code
	}
	projectPath := filepath.Join(dir, "retl.yaml")
	if b, err := fs.ReadFile(demoFiles, "demo/retl.yaml"); err == nil {
		_ = os.WriteFile(projectPath, b, 0o600)
	}
	fmt.Fprintf(stdout, "\nThe emulator keeps running at %s until Ctrl-C (user %s, password %s, client id and secret %s).\n",
		env.URL(), sftest.DefaultUsername, sftest.DefaultPassword, sftest.DefaultClientID)
	fmt.Fprintf(stdout, "Its records: %s/__sftest/records/Account\n", env.URL())
	fmt.Fprintf(stdout, "Plan the example syncs again against it:\n  %s=%s %s=%s \\\n    go run ./examples/retl plan --configs examples/configs --project %s\n",
		envDemoURL, env.URL(), envDemoDSN, env.DSN(), projectPath)
	<-ctx.Done()
	return code
}

func tableCounts(rows map[string]int) string {
	var parts []string
	for _, t := range []string{"accounts", "account_health", "contacts", "renewals"} {
		parts = append(parts, fmt.Sprintf("%s %d rows", t, rows[t]))
	}
	return strings.Join(parts, ", ")
}

func seedCounts(seeded map[string]int) string {
	return fmt.Sprintf("%d accounts and %d contacts", seeded["Account"], seeded["Contact"])
}

func syncNames(p *config.Project) string {
	names := make([]string, len(p.Syncs))
	for i, s := range p.Syncs {
		d, _ := salesforce.DestinationOf(s) // the demo's syncs are checked at load
		names[i] = fmt.Sprintf("%s (%s %s)", s.Name, d.Operation, d.Object)
	}
	return strings.Join(names, ", ")
}

// showRecords prints, for each object the syncs write, how many records
// the emulator holds and the first few, with some of the fields the syncs
// map: each sync's first fields and its set_if_empty fields.
func showRecords(w io.Writer, srv *sftest.Server, p *config.Project) {
	const rows, maxCols = 5, 7
	syncs := append([]*config.Sync(nil), p.Syncs...)
	dests := map[*config.Sync]salesforce.Destination{}
	for _, s := range syncs {
		dests[s], _ = salesforce.DestinationOf(s) // checked at load
	}
	// Syncs that create records first: their fields say what a record is.
	sort.SliceStable(syncs, func(i, j int) bool {
		return dests[syncs[i]].Operation != salesforce.Update && dests[syncs[j]].Operation == salesforce.Update
	})
	var objects []string
	first := map[string][]string{} // per object: the columns to show first
	rest := map[string][]string{}
	for _, s := range syncs {
		obj := dests[s].Object
		if _, ok := first[obj]; !ok {
			objects = append(objects, obj)
			first[obj] = []string{}
		}
		n := 0
		for _, m := range s.Mapping {
			if strings.EqualFold(m.To, "Id") || containsFold(first[obj], m.To) {
				continue
			}
			if n < 3 || m.SetIfEmpty {
				first[obj] = append(first[obj], m.To)
				n++
			} else if !containsFold(rest[obj], m.To) {
				rest[obj] = append(rest[obj], m.To)
			}
		}
	}
	for _, obj := range objects {
		recs := live(srv.Records(obj))
		fmt.Fprintf(w, "\n%s: %d records\n", obj, len(recs))
		if len(recs) == 0 {
			continue
		}
		cols := first[obj]
		for _, f := range rest[obj] {
			if !containsFold(cols, f) {
				cols = append(cols, f)
			}
		}
		if len(cols) > maxCols {
			cols = cols[:maxCols]
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  "+strings.Join(cols, "\t"))
		for i, r := range recs {
			if i == rows {
				fmt.Fprintf(tw, "  … %d more\n", len(recs)-rows)
				break
			}
			cells := make([]string, len(cols))
			for j, f := range cols {
				cells[j] = clip(recordValue(srv, r, f), 32)
			}
			fmt.Fprintln(tw, "  "+strings.Join(cells, "\t"))
		}
		_ = tw.Flush()
	}
}

// recordValue is a field's value as text; for a lookup path such as
// Account.External_Id__c, the parent's field.
func recordValue(srv *sftest.Server, r map[string]any, field string) string {
	rel, sub, ok := strings.Cut(field, ".")
	if !ok {
		return text(lookupFold(r, field))
	}
	// Standard relationships are named after their object (Account →
	// AccountId); custom ones end in __r (Parent__r → Parent__c).
	ref, parentObj := rel+"Id", rel
	if base, ok := strings.CutSuffix(rel, "__r"); ok {
		ref, parentObj = base+"__c", ""
	}
	id := text(lookupFold(r, ref))
	if id == "" || parentObj == "" {
		return id
	}
	for _, p := range srv.Records(parentObj) {
		if text(p["Id"]) == id {
			return text(lookupFold(p, sub))
		}
	}
	return id
}

func live(recs []map[string]any) []map[string]any {
	out := recs[:0:0]
	for _, r := range recs {
		if r["IsDeleted"] != true {
			out = append(out, r)
		}
	}
	return out
}

func lookupFold(r map[string]any, name string) any {
	if v, ok := r[name]; ok {
		return v
	}
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.EqualFold(k, name) {
			return r[k]
		}
	}
	return nil
}

func text(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// runLogQuery is what a user would run in the warehouse to see the runs.
const runLogQuery = `select RUN_ID, SYNC, STATUS, ROWS_READ, ROWS_CREATED, ROWS_UPDATED, ROWS_UNCHANGED, ROWS_FAILED
from RETL_RUNS order by STARTED_AT, SYNC`

// showRunLog prints the run table that the writeback keeps in the warehouse.
func showRunLog(ctx context.Context, w io.Writer, dsn string) error {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, runLogQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	fmt.Fprintf(w, "\n== The run log in the warehouse ==\n\n%s;\n\n", runLogQuery)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN_ID\tSYNC\tSTATUS\tREAD\tCREATED\tUPDATED\tUNCHANGED\tFAILED")
	for rows.Next() {
		var run, syncName, status string
		var read, created, updated, unchanged, failed int64
		if err := rows.Scan(&run, &syncName, &status, &read, &created, &updated, &unchanged, &failed); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", run, syncName, status, read, created, updated, unchanged, failed)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tw.Flush()
}

// clip puts s on one line and cuts it to n characters.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
