package sqlsource

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/source"
)

// Type is the source and connection type this package registers.
const Type = "sql"

// ConnectionSettings are the keys of a connection of type sql.
type ConnectionSettings struct {
	// Driver is a database/sql driver name; "sqlite" (pure Go) by default.
	Driver string `yaml:"driver"`
	// DSN is the driver's data source name.
	DSN string `yaml:"dsn"`
}

// SourceSettings are the keys of a sync's source section beyond type,
// connection and query.
type SourceSettings struct {
	// BatchSize is how many rows each batch holds (DefaultBatchSize if 0).
	BatchSize int `yaml:"batch_size"`
}

// Register registers the source type "sql" with r.
func Register(r *reverseetl.Registry) {
	r.RegisterSource(Type, build)
}

// build makes a source from a sync; it only checks the configuration and
// opens the database on the first Read.
func build(_ context.Context, b reverseetl.BuildContext) (source.Source, error) {
	if b.Sync == nil {
		return nil, fmt.Errorf("sql source: no sync to build")
	}
	spec := b.Sync.Source
	if strings.TrimSpace(spec.Query) == "" {
		return nil, &config.Error{Pos: spec.Pos, Key: "source.query", Msg: "a sql source needs a query"}
	}
	var ss SourceSettings
	if err := spec.Section.Decode(&ss); err != nil {
		return nil, err
	}
	if ss.BatchSize < 0 {
		return nil, &config.Error{Pos: spec.Pos, Key: "source.batch_size", Msg: "must not be negative"}
	}
	c := b.Connection
	if c == nil {
		return nil, &config.Error{Pos: spec.Pos, Key: "source.connection", Msg: "a sql source needs a connection of type sql"}
	}
	if c.Type != Type {
		return nil, &config.Error{Pos: c.Pos, Key: "connections." + c.Name + ".type",
			Msg: fmt.Sprintf("a sql source needs a connection of type sql, not %q", c.Type)}
	}
	cs, err := DecodeConnection(c)
	if err != nil {
		return nil, err
	}
	open := func() (*sql.DB, error) { return sql.Open(cs.Driver, cs.DSN) }
	owned := true
	if b.Shared != nil {
		// One pool per connection for all the syncs of a run; the run
		// closes it.
		key := "sql:" + c.Name
		open = func() (*sql.DB, error) {
			v, err := b.Shared.Get(key, func() (any, error) { return sql.Open(cs.Driver, cs.DSN) })
			if err != nil {
				return nil, err
			}
			db, ok := v.(*sql.DB)
			if !ok {
				return nil, fmt.Errorf("sql source: shared %s holds %T, not a database", key, v)
			}
			return db, nil
		}
		owned = false
	}
	return newSource(open, owned, spec.Query, []Option{WithBatchSize(ss.BatchSize)}), nil
}

// DecodeConnection decodes and checks a connection of type sql.
func DecodeConnection(c *config.Connection) (ConnectionSettings, error) {
	var cs ConnectionSettings
	if err := c.Section.Decode(&cs); err != nil {
		return cs, err
	}
	key := "connections." + c.Name
	if cs.Driver == "" {
		cs.Driver = "sqlite"
	}
	if !slices.Contains(sql.Drivers(), cs.Driver) {
		return cs, &config.Error{Pos: c.Pos, Key: key + ".driver",
			Msg: fmt.Sprintf("no database/sql driver %q is compiled in (have: %s)", cs.Driver, strings.Join(sql.Drivers(), ", "))}
	}
	if strings.TrimSpace(cs.DSN) == "" {
		return cs, &config.Error{Pos: c.Pos, Key: key + ".dsn", Msg: "missing required key"}
	}
	return cs, nil
}
