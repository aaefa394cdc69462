package sqlsource

import "github.com/retl-go/retl/config"

// connectionKeys document ConnectionSettings and sourceKeys SourceSettings:
// the README's tables are generated from them, and a test holds them to
// the structs' yaml keys.
var connectionKeys = config.Keys{
	{Name: "driver", Type: "database/sql driver name", Default: "`sqlite`",
		Meaning: "A driver the program registered; this package brings `sqlite` (pure Go, modernc.org/sqlite)."},
	{Name: "dsn", Type: "string (may hold a secret)", Default: "required",
		Meaning: "The driver's data source name, such as `file:warehouse.db`."},
}

var sourceKeys = config.Keys{
	{Name: "batch_size", Type: "integer > 0", Default: "10000", Meaning: "Rows per batch handed to the mapping."},
}
