package sqlsource

// The pure-Go SQLite driver (registered as "sqlite") lets the embedded demo
// and tests run without cgo or a database server.
import _ "modernc.org/sqlite"
