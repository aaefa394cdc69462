package demo

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink/salesforce"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// Summary says in one line each what the warehouse and the emulator hold.
func (e *Env) Summary() (warehouse, salesforce string) {
	parts := make([]string, len(Tables))
	for i, t := range Tables {
		parts[i] = fmt.Sprintf("%s %d rows", t, e.Rows[t])
	}
	return strings.Join(parts, ", "), fmt.Sprintf("%d accounts and %d contacts", e.Seeded["Account"], e.Seeded["Contact"])
}

// SyncNames lists the project's syncs with what each writes.
func SyncNames(p *config.Project) string {
	names := make([]string, len(p.Syncs))
	for i, s := range p.Syncs {
		d, _ := salesforce.DestinationOf(s) // the demo's syncs are checked at load
		names[i] = fmt.Sprintf("%s (%s %s)", s.Name, d.Operation, d.Object)
	}
	return strings.Join(names, ", ")
}

// clip puts s on one line and shortens it to n characters, marking the cut.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// WriteRecords prints, for each object the syncs write, how many records
// the emulator holds and the first few, with some of the fields the syncs
// map: each sync's first fields and its set_if_empty fields.
func (e *Env) WriteRecords(w io.Writer, p *config.Project) {
	srv := e.srv
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

// WriteRunLog prints the run table that the writeback keeps in the
// warehouse.
func (e *Env) WriteRunLog(ctx context.Context, w io.Writer) error {
	db, err := sql.Open("sqlite", e.DSN())
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
