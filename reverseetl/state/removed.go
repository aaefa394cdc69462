package state

import (
	"context"
	"database/sql"

	"github.com/retl-go/retl/reverseetl"
)

var (
	_ reverseetl.StateLister     = (*Store)(nil)
	_ reverseetl.RemovedPushdown = (*Store)(nil)
)

// StateRows implements reverseetl.StateLister: every state row of a sync,
// read as a stream.
func (s *Store) StateRows(ctx context.Context, syncName string, fn func(reverseetl.StateRow) error) error {
	if err := s.ensure(ctx); err != nil || s.absent {
		return err
	}
	q := "SELECT RECORD_KEY, ROW_HASH, SALESFORCE_ID FROM " + s.tState + " WHERE SYNC = " + s.d.Placeholder(1)
	return s.scanState(ctx, q, []any{syncName}, fn)
}

func (s *Store) scanState(ctx context.Context, q string, args []any, fn func(reverseetl.StateRow) error) error {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var h, id sql.NullString
		if err := rows.Scan(&k, &h, &id); err != nil {
			return err
		}
		if err := fn(reverseetl.StateRow{Key: k, Hash: h.String, ID: id.String}); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ForgetState implements reverseetl.StateLister: it deletes the state rows
// of keys, and their field tokens (keep_human_edits), up to 500 keys a
// statement.
func (s *Store) ForgetState(ctx context.Context, syncName string, keys []string) error {
	if err := s.ensure(ctx); err != nil {
		return err
	}
	if s.readOnly {
		return ErrReadOnly
	}
	return s.keyLists(syncName, keys, func(where string, args []any) error {
		if _, err := s.exec(ctx, "DELETE FROM "+s.tState+" WHERE "+where, args...); err != nil {
			return err
		}
		_, err := s.exec(ctx, "DELETE FROM "+s.tFieldState+" WHERE "+where, args...)
		return err
	})
}

// RemovedRows implements reverseetl.RemovedPushdown: when the source reads
// the store's own connection, the warehouse lists the state rows of the
// sync whose key the query no longer returns (keys compared as text, as
// WrapQuery keeps them), each marked Held when a key the query returns
// holds the same Salesforce id. The query runs once more for it.
func (s *Store) RemovedRows(ctx context.Context, q reverseetl.ChangeQuery) ([]reverseetl.RemovedRow, bool, error) {
	if s.opts.Connection == "" || q.Connection != s.opts.Connection {
		return nil, false, nil
	}
	if err := s.ensure(ctx); err != nil || s.absent {
		return nil, !s.absent, err
	}
	query := trimStatementEnd(q.Query)
	key := s.d.CastText("q." + s.d.Ident(q.KeyColumn))
	// The query goes in on its own lines, so that a trailing comment
	// cannot swallow what follows. __RETL_K holds the keys it returns,
	// __RETL_P the ids their state holds.
	stmt := "WITH __RETL_Q AS (\n" + query + "\n), __RETL_K AS (SELECT DISTINCT " + key + " AS K FROM __RETL_Q q)" +
		", __RETL_P AS (SELECT DISTINCT p.SALESFORCE_ID AS ID FROM " + s.tState + " p JOIN __RETL_K k ON k.K = p.RECORD_KEY" +
		" WHERE p.SYNC = " + s.d.Placeholder(1) + " AND p.SALESFORCE_ID IS NOT NULL)" +
		" SELECT s.RECORD_KEY, s.ROW_HASH, s.SALESFORCE_ID, h.ID FROM " + s.tState + " s" +
		" LEFT JOIN __RETL_P h ON h.ID = s.SALESFORCE_ID" +
		" WHERE s.SYNC = " + s.d.Placeholder(2) + " AND NOT EXISTS (SELECT 1 FROM __RETL_K k WHERE k.K = s.RECORD_KEY)"
	rows, err := s.query(ctx, stmt, q.Sync, q.Sync)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []reverseetl.RemovedRow
	for rows.Next() {
		var k string
		var h, id, held sql.NullString
		if err := rows.Scan(&k, &h, &id, &held); err != nil {
			return nil, false, err
		}
		out = append(out, reverseetl.RemovedRow{StateRow: reverseetl.StateRow{Key: k, Hash: h.String, ID: id.String}, Held: held.Valid})
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return out, true, nil
}
