package state

import (
	"database/sql"
	"fmt"
	"strings"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/source/snowflake"
	"github.com/retl-go/retl/source/sqlsource"
)

// sqliteBusyMillis is how long a SQLite connection of the store waits for
// a lock, as the source may be reading the same file.
const sqliteBusyMillis = 30_000

// Open returns the store the project file's writeback section configures,
// or nil when there is none. Like sql.Open it connects on first use, so a
// bad connection shows in the first write, not here. The store owns the
// database it opens: Close closes it.
//
// A connection of type snowflake uses the Snowflake dialect; one of type
// sql with the sqlite driver uses the SQLite dialect. For SQLite, the DSN
// gets a busy timeout and WAL journal unless it sets them, so that a source
// can read the same file while the store writes.
func Open(p *config.Project) (*Store, error) { return open(p, false) }

// OpenReadOnly is Open for a plan: the store is ReadOnly, and a SQLite
// connection is opened query_only and without switching the file to WAL,
// so that nothing of the database changes.
func OpenReadOnly(p *config.Project) (*Store, error) { return open(p, true) }

func open(p *config.Project, readOnly bool) (*Store, error) {
	wb := p.Writeback
	if wb == nil {
		return nil, nil
	}
	c := p.Connections[wb.Connection]
	if c == nil {
		return nil, fmt.Errorf("writeback: no connection named %q", wb.Connection)
	}
	var db *sql.DB
	var d Dialect
	switch c.Type {
	case snowflake.Type:
		settings, err := snowflake.SettingsFromConnection(c)
		if err != nil {
			return nil, fmt.Errorf("writeback: %w", err)
		}
		if db, err = snowflake.OpenDB(settings); err != nil {
			return nil, fmt.Errorf("writeback: %w", err)
		}
		d = Snowflake
	case sqlsource.Type:
		cs, err := sqlsource.DecodeConnection(c)
		if err != nil {
			return nil, fmt.Errorf("writeback: %w", err)
		}
		if cs.Driver != "sqlite" {
			return nil, fmt.Errorf("writeback: connection %q: no state dialect for database/sql driver %q (retl has sqlite)", c.Name, cs.Driver)
		}
		// sql.Open fails only for a driver that is not registered, which
		// DecodeConnection has ruled out.
		db, _ = sql.Open(cs.Driver, sqliteDSN(cs.DSN, readOnly))
		// One connection: SQLite writes one at a time anyway, and the
		// store's own statements then never wait on each other's locks.
		db.SetMaxOpenConns(1)
		d = SQLite
	default:
		return nil, fmt.Errorf("writeback: connection %q is of type %q; the warehouse writeback needs snowflake or sql", c.Name, c.Type)
	}
	s, err := New(db, d, Options{Schema: wb.Schema, Results: wb.Results, RetentionDays: wb.RetentionDays,
		ExcludeFields: wb.ExcludeFields, Connection: wb.Connection, Redact: redactor(p.Redactor)})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("writeback: %w", err)
	}
	s.owned = true
	if readOnly {
		s.ReadOnly()
	}
	return s, nil
}

func redactor(r *config.Redactor) func(string) string {
	if r == nil {
		return nil
	}
	return r.Redact
}

// sqliteDSN adds the pragmas the store needs to a modernc.org/sqlite DSN
// unless it sets them: a read-only store refuses changes (query_only) and
// leaves the journal mode as it is, since setting it writes the file.
func sqliteDSN(dsn string, readOnly bool) string {
	add := func(pragma string) {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + "_pragma=" + pragma
	}
	if !strings.Contains(dsn, "busy_timeout") {
		add(fmt.Sprintf("busy_timeout(%d)", sqliteBusyMillis))
	}
	if readOnly {
		add("query_only(1)")
	} else if !strings.Contains(dsn, "journal_mode") {
		add("journal_mode(WAL)")
	}
	return dsn
}
