package state

import (
	"fmt"
	"regexp"
	"strings"
)

// Kind is the kind of a column of retl's tables.
type Kind uint8

const (
	Text Kind = iota
	Int
	Bool
	// Time is a UTC timestamp; rows carry it as "2006-01-02 15:04:05.000000".
	Time
)

// timeLayout is how timestamps travel in the JSON rows. It sorts as text,
// which is what SQLite compares.
const timeLayout = "2006-01-02 15:04:05.000000"

// Column is a column of one of retl's tables.
type Column struct {
	Name string
	Kind Kind
}

// Dialect is what differs between the databases the store writes to. The
// store binds one JSON array of rows per statement and lets the database
// unpack it: one bound value whatever the number of rows, which keeps
// statements short and, on Snowflake, is 20 times faster than a multi-row
// INSERT (see README).
type Dialect interface {
	// Name names the dialect in errors.
	Name() string
	// Table returns one of retl's tables in schema, as SQL.
	Table(schema, name string) string
	// CreateSchema returns the statement that creates schema, or "" when
	// the database has no schemas.
	CreateSchema(schema string) string
	// Type returns the SQL type of a kind of column.
	Type(k Kind) string
	// Placeholder returns the n-th (from 1) bind placeholder.
	Placeholder(n int) string
	// FromJSON returns a SELECT of cols from the JSON array of objects
	// bound at placeholder p: a row per element, each column from the key
	// of its name (NULL when the key is absent).
	FromJSON(cols []Column, p string) string
	// Upsert returns a statement that writes the rows sel selects (cols,
	// in order) into table: rows whose key columns match are updated, the
	// others inserted. Columns in keep keep their stored value when the
	// new one is NULL.
	Upsert(table string, cols []Column, key, keep []string, sel string) string
	// Timestamp returns an expression for a timestamp bound at p as text.
	Timestamp(p string) string
	// RowHash returns an expression, for a SELECT whose only table is the
	// source query, that hashes the row's columns and salt; false when the
	// database cannot hash a whole row.
	RowHash(salt string) (string, bool)
	// CastText returns expr cast to text.
	CastText(expr string) string
	// Literal returns s as a string literal.
	Literal(s string) string
	// Ident returns name as an identifier: as it is when it is a plain
	// one, so that the database's case rules apply, else quoted.
	Ident(name string) string
	// TableExists returns a query, and its arguments, that counts the
	// tables named name in schema (as Table names it): 0 or 1. It reads
	// the catalogue and creates nothing.
	TableExists(schema, name string) (string, []any)
}

// plainIdent is an identifier that needs no quotes in either dialect.
var plainIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func quoteIdent(name string) string {
	if plainIdent.MatchString(name) {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func columnList(cols []Column, prefix string) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = prefix + c.Name
	}
	return strings.Join(names, ", ")
}

// Snowflake writes to Snowflake: tables live in a schema (created if need
// be), rows are unpacked with FLATTEN and written with MERGE, and a source
// row hashes as SHA2 of TO_JSON(OBJECT_CONSTRUCT(*)).
var Snowflake Dialect = snowflakeDialect{}

type snowflakeDialect struct{}

func (snowflakeDialect) Name() string                     { return "snowflake" }
func (snowflakeDialect) Table(schema, name string) string { return schema + "." + name }
func (snowflakeDialect) CreateSchema(schema string) string {
	return "CREATE SCHEMA IF NOT EXISTS " + schema
}
func (snowflakeDialect) Placeholder(int) string { return "?" }

func (snowflakeDialect) Type(k Kind) string {
	switch k {
	case Int:
		return "NUMBER(38,0)"
	case Bool:
		return "BOOLEAN"
	case Time:
		return "TIMESTAMP_NTZ"
	}
	return "VARCHAR"
}

func (d snowflakeDialect) FromJSON(cols []Column, p string) string {
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = fmt.Sprintf("f.value:%s::%s AS %s", c.Name, d.Type(c.Kind), c.Name)
	}
	// The LATERAL form works in MERGE's USING on fakesnow too, where
	// TABLE(FLATTEN(...)) does not.
	return "SELECT " + strings.Join(exprs, ", ") + " FROM (SELECT PARSE_JSON(" + p + ") AS J) x, LATERAL FLATTEN(INPUT => x.J) f"
}

func (snowflakeDialect) Upsert(table string, cols []Column, key, keep []string, sel string) string {
	var on, set []string
	for _, k := range key {
		on = append(on, "t."+k+" = s."+k)
	}
	for _, c := range cols {
		switch {
		case contains(key, c.Name):
		case contains(keep, c.Name):
			set = append(set, c.Name+" = COALESCE(s."+c.Name+", t."+c.Name+")")
		default:
			set = append(set, c.Name+" = s."+c.Name)
		}
	}
	return "MERGE INTO " + table + " t USING (" + sel + ") s ON " + strings.Join(on, " AND ") +
		" WHEN MATCHED THEN UPDATE SET " + strings.Join(set, ", ") +
		" WHEN NOT MATCHED THEN INSERT (" + columnList(cols, "") + ") VALUES (" + columnList(cols, "s.") + ")"
}

func (snowflakeDialect) Timestamp(p string) string { return "CAST(" + p + " AS TIMESTAMP_NTZ)" }

func (d snowflakeDialect) RowHash(salt string) (string, bool) {
	return "SHA2(" + d.Literal(salt) + " || TO_JSON(OBJECT_CONSTRUCT(*)), 256)", true
}

func (snowflakeDialect) CastText(expr string) string { return "CAST(" + expr + " AS VARCHAR)" }

// Literal escapes backslashes too: Snowflake reads escapes in '...'.
func (snowflakeDialect) Literal(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
}

func (snowflakeDialect) Ident(name string) string { return quoteIdent(name) }

// TableExists reads INFORMATION_SCHEMA of the schema's database (the
// current one unless the schema names it). Names are plain identifiers
// (New checks), which Snowflake stores in upper case.
func (snowflakeDialect) TableExists(schema, name string) (string, []any) {
	catalogue := "INFORMATION_SCHEMA.TABLES"
	if db, sch, ok := strings.Cut(schema, "."); ok {
		catalogue, schema = db+"."+catalogue, sch
	}
	return "SELECT COUNT(*) FROM " + catalogue + " WHERE UPPER(TABLE_SCHEMA) = ? AND UPPER(TABLE_NAME) = ?",
		[]any{strings.ToUpper(schema), strings.ToUpper(name)}
}

// SQLite writes to SQLite, which has no schemas: the schema name prefixes
// the table names (RETL_STATE). Rows are unpacked with json_each and
// written with INSERT ... ON CONFLICT. It cannot hash a whole row, so
// change detection compares in retl.
var SQLite Dialect = sqliteDialect{}

type sqliteDialect struct{}

func (sqliteDialect) Name() string                     { return "sqlite" }
func (sqliteDialect) Table(schema, name string) string { return schema + "_" + name }
func (sqliteDialect) CreateSchema(string) string       { return "" }
func (sqliteDialect) Placeholder(int) string           { return "?" }

func (sqliteDialect) Type(k Kind) string {
	switch k {
	case Int, Bool:
		return "INTEGER"
	}
	return "TEXT"
}

func (sqliteDialect) FromJSON(cols []Column, p string) string {
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = fmt.Sprintf("json_extract(j.value, '$.%s') AS %s", c.Name, c.Name)
	}
	return "SELECT " + strings.Join(exprs, ", ") + " FROM json_each(" + p + ") j"
}

func (sqliteDialect) Upsert(table string, cols []Column, key, keep []string, sel string) string {
	var set []string
	for _, c := range cols {
		switch {
		case contains(key, c.Name):
		case contains(keep, c.Name):
			set = append(set, c.Name+" = COALESCE(excluded."+c.Name+", "+table+"."+c.Name+")")
		default:
			set = append(set, c.Name+" = excluded."+c.Name)
		}
	}
	// "WHERE true" tells SQLite's parser that ON CONFLICT is not a join's.
	return "INSERT INTO " + table + " (" + columnList(cols, "") + ") " + sel + " WHERE true ON CONFLICT (" +
		strings.Join(key, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
}

func (sqliteDialect) Timestamp(p string) string     { return p }
func (sqliteDialect) RowHash(string) (string, bool) { return "", false }
func (sqliteDialect) CastText(expr string) string   { return "CAST(" + expr + " AS TEXT)" }
func (sqliteDialect) Literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
func (sqliteDialect) Ident(name string) string { return quoteIdent(name) }

func (d sqliteDialect) TableExists(schema, name string) (string, []any) {
	return "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND UPPER(name) = UPPER(?)", []any{d.Table(schema, name)}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
