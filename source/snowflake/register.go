package snowflake

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/source"
)

// SourceSettings are the keys of a sync's source section beyond type,
// connection and query.
type SourceSettings struct {
	// BatchSize is how many rows each batch holds (DefaultBatchSize if 0).
	BatchSize int `yaml:"batch_size"`
}

// Register registers the source type "snowflake" with r.
func Register(r *reverseetl.Registry) {
	r.RegisterSource(Type, build)
}

// DefaultQueryTag is the tag of a sync's queries unless the connection sets
// query_tag: it ties a query in Snowflake's history to its sync and run.
func DefaultQueryTag(syncName, runID string) string {
	return "retl:" + syncName + ":" + runID
}

// build makes a source from a sync. It checks the configuration and opens
// nothing; the connection is made on the first Read.
func build(_ context.Context, b reverseetl.BuildContext) (source.Source, error) {
	if b.Sync == nil {
		return nil, fmt.Errorf("snowflake source: no sync to build")
	}
	spec := b.Sync.Source
	if strings.TrimSpace(spec.Query) == "" {
		return nil, &config.Error{Pos: spec.Pos, Key: "source.query", Msg: "a snowflake source needs a query"}
	}
	var ss SourceSettings
	if err := spec.Section.Decode(&ss); err != nil {
		return nil, err
	}
	if ss.BatchSize < 0 {
		return nil, &config.Error{Pos: spec.Pos, Key: "source.batch_size", Msg: "must not be negative"}
	}
	if b.Connection == nil {
		return nil, &config.Error{Pos: spec.Pos, Key: "source.connection", Msg: "a snowflake source needs a connection of type snowflake"}
	}
	settings, err := settingsFrom(b.Connection, !b.Offline)
	if err != nil {
		return nil, err
	}
	if b.Redactor != nil {
		b.Redactor.Add(settings.secrets()...)
	}
	tag := settings.QueryTag
	if tag == "" {
		tag = DefaultQueryTag(b.Sync.Name, b.RunID)
	}
	opts := []Option{
		WithBatchSize(ss.BatchSize), WithQueryTag(tag), WithSyncName(b.Sync.Name),
		WithLogger(b.Logger), WithRedactor(b.Redactor),
	}
	if b.Shared != nil {
		// One pool per connection for all the syncs of a run; the run
		// closes it.
		key := "snowflake:" + b.Connection.Name
		opts = append(opts, withDB(func() (*sql.DB, bool, error) {
			v, err := b.Shared.Get(key, func() (any, error) { return OpenDB(settings) })
			if err != nil {
				return nil, false, err
			}
			db, ok := v.(*sql.DB)
			if !ok {
				return nil, false, fmt.Errorf("shared %s holds %T, not a database", key, v)
			}
			return db, false, nil
		}))
	}
	return New(settings, spec.Query, opts...)
}
