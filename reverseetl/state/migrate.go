package state

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/retl-go/retl/sink"
)

// minMigratable is the oldest layout create brings to LayoutVersion.
const minMigratable = 1

// migrate brings tables at layout version from up to LayoutVersion, before
// create records it. Layout 2 adds RUNS.ROWS_ALTERED and
// FIELDS_KEPT_EDITED, and RECORD_RESULTS.ALTERED (what verify found),
// REASON_DETAIL (a skip's words beside its code in REASON) and KEPT_EDITED
// (the fields keep_human_edits did not send), at the end of each table, so
// that a migrated table has the columns in the order of a new one; create
// makes FIELD_STATE. A column another process added meanwhile is fine.
func (s *Store) migrate(ctx context.Context, from int64) error {
	if from < 2 {
		for _, add := range []struct {
			table string
			col   Column
		}{{s.tRuns, Column{"ROWS_ALTERED", Int}}, {s.tRuns, Column{"FIELDS_KEPT_EDITED", Int}},
			{s.tResults, Column{"ALTERED", Text}}, {s.tResults, Column{"REASON_DETAIL", Text}}, {s.tResults, Column{"KEPT_EDITED", Text}}} {
			stmt := "ALTER TABLE " + add.table + " ADD COLUMN " + add.col.Name + " " + s.d.Type(add.col.Kind)
			if _, err := s.exec(ctx, stmt); err != nil {
				if _, qerr := s.exec(ctx, "SELECT "+add.col.Name+" FROM "+add.table+" WHERE 1 = 0"); qerr == nil {
					continue
				}
				return fmt.Errorf("migrating the tables from layout version %d: %w", from, err)
			}
		}
	}
	return nil
}

// alteredJSON is RECORD_RESULTS.ALTERED: the fields verify found stored
// otherwise than sent, as a JSON array of {"field", "from" (sent), "to"
// (stored)}; empty when there are none. The recorder already replaced
// excluded fields' values.
func alteredJSON(altered []sink.FieldChange) string {
	if len(altered) == 0 {
		return ""
	}
	b, err := json.Marshal(altered)
	if err != nil {
		return "" // strings only: it cannot fail
	}
	return string(b)
}
