package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// fileDecoder decodes the parts of one file by hand, so that it can report
// every error in the file rather than the first, and keep the keys it does
// not know for a plugin.
type fileDecoder struct {
	file string
	errs *Errors
	red  *Redactor
	// offline: values may hold unresolved references (WithOffline).
	offline bool
}

// unresolved reports whether a value is left unresolved by WithOffline, so
// that checks of its value are skipped.
func (d *fileDecoder) unresolved(v string) bool {
	return d.offline && strings.Contains(v, "${")
}

func (d *fileDecoder) errorf(n ast.Node, key, format string, args ...any) {
	d.errs.add(&Error{Pos: nodePos(d.file, n), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// field is one key of a mapping.
type field struct {
	key   string
	path  string
	knode ast.Node
	node  *ast.MappingValueNode
	value ast.Node
}

// mapping returns the entries of n, which must be a mapping; null counts as
// an empty one.
func (d *fileDecoder) mapping(n ast.Node, path string) (*ast.MappingNode, []field, bool) {
	u := unwrap(n)
	if u == nil || u.Type() == ast.NullType {
		return nil, nil, true
	}
	m, ok := u.(*ast.MappingNode)
	if !ok {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return nil, nil, false
	}
	fs := make([]field, 0, len(m.Values))
	for _, mv := range m.Values {
		k, _ := keyText(mv.Key)
		fs = append(fs, field{key: k, path: joinKey(path, k), knode: mv.Key, node: mv, value: mv.Value})
	}
	return m, fs, true
}

// unknownKey reports a key the file format does not have, suggesting the
// nearest known one, which it returns.
func (d *fileDecoder) unknownKey(f field, known []string) string {
	msg := "unknown key"
	s := nearest(f.key, known)
	if s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	d.errorf(f.knode, f.path, "%s", msg)
	return s
}

// decode decodes a value with the strict decoder into v.
func (d *fileDecoder) decode(f field, v any) bool {
	if e := decodeNode(d.file, f.value, f.path, v, d.red); e != nil {
		d.errs.add(e)
		return false
	}
	return true
}

// str decodes a string value; null gives "".
func (d *fileDecoder) str(f field) string {
	var s string
	d.decode(f, &s)
	return s
}

// required reports a missing or empty value.
func (d *fileDecoder) required(at ast.Node, path, value string, present bool) bool {
	if !present {
		d.errorf(at, path, "missing required key")
		return false
	}
	if value == "" {
		d.errorf(at, path, "must not be empty")
		return false
	}
	return true
}

// namePattern is what sync and connection names may hold: they become parts
// of report file names and warehouse rows.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// nearest returns the known key within a small edit distance of key, if one.
func nearest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(key, k); d < bestD && d <= maxTypo(k) {
			best, bestD = k, d
		}
	}
	return best
}

// maxTypo is how far a key may be from a known one to count as its typo.
func maxTypo(k string) int {
	if len(k) < 6 {
		return 1
	}
	return 2
}

// editDistance counts the insertions, deletions, substitutions and swaps of
// adjacent characters that turn a into b.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
