package config

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

// Key documents one key of a section: what the decoder accepts and the
// reference tables say, from one declaration. retl's own sections decode
// by their Keys (unknown keys and "did you mean" come from Names); a
// plugin's section decodes into a struct whose yaml tags a test holds to
// its Keys with StructKeys, and its README's tables come from Table.
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
var ErrNoTableMarkers = fmt.Errorf("no table markers")

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
