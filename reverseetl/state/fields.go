package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/retl-go/retl/reverseetl"
)

// FIELD_STATE keeps, per sync and record key, the tokens of the values
// retl last wrote to the fields the sink tracks (keep_human_edits), as one
// JSON object by field name. It is a table of its own so that syncs
// without the option never read or write it, and so that it is added to
// tables an earlier release made without changing their layout. Rows
// reach it with the state rows: in the same statement's transaction on
// SQLite, through FIELD_STATE_LOAD and one MERGE per load on Snowflake.

const (
	fieldStateName     = "FIELD_STATE"
	fieldStateLoadName = "FIELD_STATE_LOAD"
)

var (
	fieldStateCols = []Column{
		{"SYNC", Text}, {"RECORD_KEY", Text}, {"FIELD_TOKENS", Text}, {"WRITTEN_AT", Time}, {"RUN_ID", Text},
	}
	fieldStateLoadCols = append([]Column{{"LOAD_ID", Text}, {"SEQ", Int}}, fieldStateCols...)
)

var _ reverseetl.FieldStateStore = (*Store)(nil)

type fieldStateRow struct {
	Sync      string `json:"SYNC"`
	Key       string `json:"RECORD_KEY"`
	Tokens    string `json:"FIELD_TOKENS"`
	WrittenAt string `json:"WRITTEN_AT"`
	RunID     string `json:"RUN_ID"`
}

// tokensJSON encodes a row's field tokens; "" when it has none.
func tokensJSON(fields map[string]string) string {
	if len(fields) == 0 {
		return ""
	}
	b, _ := json.Marshal(fields) // strings only: it cannot fail
	return string(b)
}

// StoredFields implements reverseetl.FieldStateStore with IN look-ups of
// up to 500 keys.
func (s *Store) StoredFields(ctx context.Context, syncName string, keys []string) (map[string]map[string]string, error) {
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]map[string]string, len(keys))
	if s.absent || s.fieldsAbsent {
		return out, nil
	}
	err := s.keyLists(syncName, keys, func(where string, args []any) error {
		rows, err := s.query(ctx, "SELECT RECORD_KEY, FIELD_TOKENS FROM "+s.tFieldState+" WHERE "+where, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var t sql.NullString
			if err := rows.Scan(&k, &t); err != nil {
				return err
			}
			if t.String == "" {
				continue
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(t.String), &m); err != nil {
				return fmt.Errorf("%s: the tokens of key %q are not a JSON object: %w", s.tFieldState, k, err)
			}
			out[k] = m
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// saveFields writes the field tokens of rows that carry them (SQLite and
// SaveState's own load on Snowflake). A key given twice keeps its last row.
func (s *Store) saveFields(ctx context.Context, runID, syncName, at string, rows []reverseetl.StateRow) error {
	last := map[string]int{}
	for i, r := range rows {
		if len(r.Fields) > 0 {
			last[r.Key] = i
		}
	}
	if len(last) == 0 {
		return nil
	}
	if s.loads() {
		p, err := newSpool()
		if err != nil {
			return err
		}
		for _, r := range rows {
			if len(r.Fields) == 0 {
				continue
			}
			p.writeFields(syncName, r.Key, tokensJSON(r.Fields), at, runID)
			if err := p.end(); err != nil {
				p.remove()
				return fmt.Errorf("load file: %w", err)
			}
		}
		return s.loadFields(ctx, p)
	}
	out := make([]any, 0, len(last))
	for i, r := range rows {
		if j, ok := last[r.Key]; ok && j == i {
			out = append(out, fieldStateRow{Sync: syncName, Key: r.Key, Tokens: tokensJSON(r.Fields), WrittenAt: at, RunID: runID})
		}
	}
	return s.upsert(ctx, s.tFieldState, fieldStateCols, stateKey, nil, out)
}

// gatherFields spools the field tokens of rows that carry them, and loads
// the spool once it is full (Snowflake).
func (s *Store) gatherFields(ctx context.Context, runID, syncName, at string, rows []reverseetl.StateRow) error {
	var with []int
	for i := range rows {
		if len(rows[i].Fields) > 0 {
			with = append(with, i)
		}
	}
	if len(with) == 0 {
		return nil
	}
	full, err := s.spoolRows(s.tFieldState, syncName, len(with), func(i int, p *spool) {
		r := &rows[with[i]]
		p.writeFields(syncName, r.Key, tokensJSON(r.Fields), at, runID)
	})
	if err != nil {
		return err
	}
	return s.loadFields(ctx, full)
}

// writeFields writes a row of FIELD_STATE_LOAD: the spool's id, the row's
// place in it, then fieldStateCols.
func (p *spool) writeFields(syncName, key, tokens, at, runID string) {
	p.own(p.id)
	p.int(p.rows + 1)
	p.str(syncName)
	p.str(key)
	p.str(tokens)
	p.own(at)
	p.str(runID)
}

// loadFields loads a spool of field tokens into FIELD_STATE_LOAD, merges
// them into FIELD_STATE (the last row of a key wins) and deletes them from
// FIELD_STATE_LOAD.
func (s *Store) loadFields(ctx context.Context, p *spool) error {
	if p == nil {
		return nil
	}
	if err := s.load(ctx, p, s.tFieldStateLoad); err != nil {
		return fmt.Errorf("field state: %w", err)
	}
	sel := "SELECT " + columnList(fieldStateCols, "") + " FROM " + s.tFieldStateLoad + " WHERE LOAD_ID = " + s.d.Literal(p.id) +
		" QUALIFY ROW_NUMBER() OVER (PARTITION BY SYNC, RECORD_KEY ORDER BY SEQ DESC) = 1"
	if _, err := s.exec(ctx, s.d.Upsert(s.tFieldState, fieldStateCols, stateKey, nil, sel)); err != nil {
		return fmt.Errorf("merge of the loaded field state: %w", err)
	}
	if _, err := s.exec(ctx, "DELETE FROM "+s.tFieldStateLoad+" WHERE LOAD_ID = "+s.d.Literal(p.id)); err != nil {
		return fmt.Errorf("clearing the loaded field state: %w", err)
	}
	return nil
}
