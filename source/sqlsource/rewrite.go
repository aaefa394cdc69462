package sqlsource

import "github.com/retl-go/retl/source"

var _ source.QueryRewriter = (*Source)(nil)

// Query returns the query the source runs.
func (s *Source) Query() string { return s.query }

// SetQuery replaces the query; the bound arguments stay as they are. Call
// it before the first Read.
func (s *Source) SetQuery(query string) { s.query = query }
