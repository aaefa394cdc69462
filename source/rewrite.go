package source

// QueryRewriter is optionally implemented by a source that runs one SQL
// query. The Engine uses it to run a query derived from the sync's own, such
// as one that leaves the rows change detection finds unchanged in the
// warehouse.
type QueryRewriter interface {
	// Query returns the query the source runs.
	Query() string
	// SetQuery replaces the query. It is called before the first Read.
	SetQuery(query string)
}
