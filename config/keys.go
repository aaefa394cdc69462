package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Key documents one key of a section: what the decoder accepts and the
// reference tables say, from one declaration. retl's own sections decode
// by their Keys (unknown keys and "did you mean" come from Names); a
// plugin's section decodes into a struct whose yaml tags a test holds to
// its Keys with CheckKeys, and its README's tables are kept current with
// UpdateTables.
type Key struct {
	// Name is the key, or a dotted path for nested sections.
	Name string
	// Type and Default are as the reference shows them (Markdown).
	Type, Default string
	// Meaning says what the key does (Markdown).
	Meaning string
	// Other marks the row that documents "any other key" of a section
	// passed on to a plugin; it has no Name.
	Other bool
}

// Keys are a section's keys, in the order the reference lists them.
type Keys []Key

// Names are the keys' names, without the "any other key" row.
func (ks Keys) Names() []string {
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		if !k.Other {
			out = append(out, k.Name)
		}
	}
	return out
}

// Under lists, once each in order, the names of the next level below the
// dotted path prefix: Under("alerts") of "alerts.email.url" is "email".
// Under("") lists the top level.
func (ks Keys) Under(prefix string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range ks.Names() {
		rest := n
		if prefix != "" {
			var ok bool
			if rest, ok = strings.CutPrefix(n, prefix+"."); !ok {
				continue
			}
		}
		first, _, _ := strings.Cut(rest, ".")
		if !seen[first] {
			seen[first] = true
			out = append(out, first)
		}
	}
	return out
}

// Table is the Markdown table of the keys.
func (ks Keys) Table() string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Meaning |\n|---|---|---|---|\n")
	for _, k := range ks {
		name := "`" + k.Name + "`"
		if k.Other {
			name = "any other key"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, k.Type, k.Default, k.Meaning)
	}
	return b.String()
}

// ErrNoTableMarkers: a document lacks the markers of a generated table.
var ErrNoTableMarkers = errors.New("no table markers")

// ReplaceTable puts ks.Table() between the lines "<!-- name: ... -->" and
// "<!-- end of name -->" of doc, for the tests that keep references
// current; ErrNoTableMarkers when doc lacks them.
func ReplaceTable(doc []byte, name string, ks Keys) ([]byte, error) {
	re := regexp.MustCompile(`(?s)(<!-- ` + regexp.QuoteMeta(name) + `:[^\n]*-->\n)(.*?)(<!-- end of ` + regexp.QuoteMeta(name) + ` -->)`)
	m := re.FindSubmatchIndex(doc)
	if m == nil {
		return nil, fmt.Errorf("%w for %q", ErrNoTableMarkers, name)
	}
	var b bytes.Buffer
	b.Write(doc[:m[4]])
	b.WriteString(ks.Table())
	b.Write(doc[m[5]:])
	return b.Bytes(), nil
}

// StructKeys lists the yaml keys a struct decodes, inline fields' keys
// included, for a test that holds a plugin's Keys to its struct.
func StructKeys(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case tag == "-" || (!f.IsExported() && !f.Anonymous):
		case strings.Contains(opts, "inline"):
			out = append(out, StructKeys(reflect.New(f.Type).Interface())...)
		case name != "":
			out = append(out, name)
		default:
			out = append(out, strings.ToLower(f.Name))
		}
	}
	return out
}

// ErrStaleTable: a document's generated table is not what its Keys say.
var ErrStaleTable = errors.New("the generated table is stale")

// Table names a generated table of a document and the Keys it shows.
type Table struct {
	Name string
	Keys Keys
}

// UpdateTables checks the generated tables of the Markdown file at path
// against their Keys: ErrStaleTable (naming the tables) when one differs,
// or, with rewrite, writes the file with every table current. A plugin's
// test calls it so that its README cannot drift from its keys.
func UpdateTables(path string, rewrite bool, tables ...Table) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	want := doc
	var stale []string
	for _, t := range tables {
		next, err := ReplaceTable(want, t.Name, t.Keys)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if !bytes.Equal(next, want) {
			stale = append(stale, t.Name)
		}
		want = next
	}
	switch {
	case len(stale) == 0:
		return nil
	case rewrite:
		return os.WriteFile(path, want, 0o644)
	}
	return fmt.Errorf("%s: %w: %s (rewrite it with the test's -update flag)", path, ErrStaleTable, strings.Join(stale, ", "))
}

// CheckKeys says which keys v's struct decodes that ks does not document,
// and which ks documents that it does not decode; nil when they agree.
func CheckKeys(v any, ks Keys) error {
	decoded, documented := StructKeys(v), ks.Names()
	var missing, extra []string
	for _, k := range decoded {
		if !slices.Contains(documented, k) {
			missing = append(missing, k)
		}
	}
	for _, k := range documented {
		if !slices.Contains(decoded, k) {
			extra = append(extra, k)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return nil
	}
	return fmt.Errorf("keys decoded but not documented: %v; documented but not decoded: %v", missing, extra)
}
