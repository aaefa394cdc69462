package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Limits on input, so that a hostile file can exhaust neither memory nor the
// stack.
const (
	// MaxFileSize is the largest configuration file accepted, in bytes.
	MaxFileSize = 1 << 20
	// MaxDepth is the deepest nesting of mappings and lists accepted.
	MaxDepth = 32
	// maxNodes bounds a document's size after its aliases are expanded, which
	// defeats "billion laughs" documents.
	maxNodes = 100_000
	// maxKeys bounds the keys of one block mapping, which the parser takes
	// quadratic time over.
	maxKeys = 1000
)

// parseFile parses one YAML document and prepares it for decoding: aliases
// are replaced by their anchors' values and duplicate keys are reported and
// dropped. body is nil for an empty document; ok is false when the document
// cannot be decoded at all.
func parseFile(file string, data []byte) (body ast.Node, errs Errors, ok bool) {
	fail := func(e *Error) (ast.Node, Errors, bool) { return nil, Errors{e}, false }
	if len(data) > MaxFileSize {
		return fail(&Error{Pos: Pos{File: file}, Msg: "file is larger than 1 MiB"})
	}
	// Editors on Windows may start a file with a byte order mark; it is
	// not part of the first key.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if !utf8.Valid(data) {
		return fail(&Error{Pos: Pos{File: file}, Msg: "file is not valid UTF-8"})
	}
	tokens := lexer.Tokenize(string(data))
	if tk, msg := checkShape(tokens, 2*MaxDepth, maxKeys); tk != nil {
		return fail(&Error{Pos: tokenPos(file, tk), Msg: msg})
	}
	f, err := safeParse(tokens)
	if err != nil {
		return fail(syntaxError(file, err, data))
	}
	if len(f.Docs) > 1 {
		return fail(&Error{Pos: docPos(file, f.Docs[1]), Msg: fmt.Sprintf("a file holds one YAML document; found %d", len(f.Docs))})
	}
	if len(f.Docs) == 0 || f.Docs[0] == nil || f.Docs[0].Body == nil {
		return nil, nil, true
	}
	p := &prep{file: file, anchors: map[string]ast.Node{}}
	body = p.walk(f.Docs[0].Body, "", 1)
	if p.stopped {
		// Past a limit, or with an alias to nothing, the tree is not decoded.
		return nil, p.errs, false
	}
	return body, p.errs, true
}

// parseTokens is the parser; tests replace it to check that a panic in it
// is contained.
var parseTokens = func(tokens token.Tokens) (*ast.File, error) {
	return parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
}

func safeParse(tokens token.Tokens) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			// A parser bug must not take the process down; the input is
			// reported as unparseable instead.
			f, err = nil, errors.New("the YAML parser failed on this file")
		}
	}()
	return parseTokens(tokens)
}

// checkShape looks at the tokens before the parser does, as the parser
// recurses once per level of nesting and once per key of a block mapping
// (taking time that grows with the square of the keys). It returns the
// token where nesting first exceeds depthLimit or a block mapping first gets
// more than maxKeys keys, and the error, or nil. Block nesting is estimated
// from the columns of keys and "-" entries, flow nesting from brackets; the
// estimate never overstates the depth of a valid document.
func checkShape(tokens token.Tokens, depthLimit, maxKeys int) (*token.Token, string) {
	type level struct{ col, keys int }
	flow := 0
	var levels []level
	// enter moves to the level of column c and returns it.
	enter := func(c int) *level {
		for len(levels) > 0 && levels[len(levels)-1].col > c {
			levels = levels[:len(levels)-1]
		}
		if len(levels) == 0 || levels[len(levels)-1].col < c {
			levels = append(levels, level{col: c})
		}
		return &levels[len(levels)-1]
	}
	var prev *token.Token
	for _, tk := range tokens {
		switch tk.Type {
		case token.CommentType:
			continue
		case token.SequenceStartType, token.MappingStartType:
			flow++
		case token.SequenceEndType, token.MappingEndType:
			if flow > 0 {
				flow--
			}
		case token.DocumentHeaderType:
			flow, levels = 0, levels[:0]
		case token.SequenceEntryType:
			if flow == 0 {
				enter(tk.Position.Column)
			}
		case token.MappingValueType:
			if flow == 0 && prev != nil {
				l := enter(prev.Position.Column)
				l.keys++
				if l.keys > maxKeys {
					return prev, fmt.Sprintf("a mapping has more than %d keys", maxKeys)
				}
			}
		}
		if flow+len(levels) > depthLimit {
			return tk, fmt.Sprintf("nesting is deeper than %d levels", MaxDepth)
		}
		prev = tk
	}
	return nil, ""
}

// prep walks a parsed document once: it enforces the depth and size limits,
// replaces aliases by the values of their anchors (so that any part of the
// tree can be decoded on its own) and reports keys that are not plain,
// merge keys and duplicate keys.
type prep struct {
	file    string
	anchors map[string]ast.Node
	nodes   int
	errs    Errors
	stopped bool
}

func (p *prep) fail(n ast.Node, key, msg string) {
	p.errs.add(&Error{Pos: nodePos(p.file, n), Key: key, Msg: msg})
}

// stop reports a limit error; the walk ends there as the rest would only
// repeat it.
func (p *prep) stop(n ast.Node, key, msg string) {
	if !p.stopped {
		p.fail(n, key, msg)
		p.stopped = true
	}
}

// enter counts n against the limits; a limit error is reported at "at".
func (p *prep) enter(n, at ast.Node, key string, depth int) bool {
	if p.stopped {
		return false
	}
	p.nodes++
	if p.nodes > maxNodes {
		p.stop(at, key, fmt.Sprintf("document is larger than %d nodes once its aliases are expanded", maxNodes))
		return false
	}
	if depth > MaxDepth {
		switch n.(type) {
		case *ast.MappingNode, *ast.SequenceNode:
			p.stop(at, key, fmt.Sprintf("nesting is deeper than %d levels", MaxDepth))
			return false
		}
	}
	return true
}

func (p *prep) walk(n ast.Node, key string, depth int) ast.Node {
	if n == nil || !p.enter(n, n, key, depth) {
		return n
	}
	switch v := n.(type) {
	case *ast.MappingNode:
		seen := make(map[string]int, len(v.Values))
		kept := v.Values[:0]
		for _, mv := range v.Values {
			if mv.Key.IsMergeKey() {
				p.fail(mv.Key, key, "merge keys (<<) are not supported")
				continue
			}
			k, ok := keyText(mv.Key)
			if !ok {
				p.fail(mv.Key, key, "a key must be a plain string")
				continue
			}
			kp := joinKey(key, k)
			if line, dup := seen[k]; dup {
				p.fail(mv.Key, kp, fmt.Sprintf("duplicate key (first at line %d)", line))
				continue
			}
			seen[k] = nodePos(p.file, mv.Key).Line
			mv.Value = p.walk(mv.Value, kp, depth+1)
			kept = append(kept, mv)
		}
		v.Values = kept
	case *ast.SequenceNode:
		for i, x := range v.Values {
			nx := p.walk(x, indexKey(key, i), depth+1)
			v.Values[i] = nx
			if i < len(v.Entries) && v.Entries[i] != nil {
				v.Entries[i].Value = nx
			}
		}
	case *ast.AnchorNode:
		v.Value = p.walk(v.Value, key, depth)
		if v.Name != nil {
			p.anchors[v.Name.GetToken().Value] = v.Value
		}
	case *ast.TagNode:
		v.Value = p.walk(v.Value, key, depth)
	case *ast.AliasNode:
		name := ""
		if v.Value != nil {
			name = v.Value.GetToken().Value
		}
		target, ok := p.anchors[name]
		if !ok {
			// Decoding without the value would only add confusing errors.
			p.stop(v, key, fmt.Sprintf("alias *%s refers to no anchor before it", name))
			return n
		}
		p.nodes-- // the alias itself is replaced, its target counted
		p.count(target, v, key, depth)
		return target
	}
	return n
}

// count adds an already prepared subtree to the node and depth budgets, as
// each alias to it repeats it in the decoded value. Errors are reported at
// the alias.
func (p *prep) count(n, alias ast.Node, key string, depth int) {
	if n == nil || !p.enter(n, alias, key, depth) {
		return
	}
	switch v := n.(type) {
	case *ast.MappingNode:
		for _, mv := range v.Values {
			p.count(mv.Value, alias, key, depth+1)
		}
	case *ast.SequenceNode:
		for _, x := range v.Values {
			p.count(x, alias, key, depth+1)
		}
	case *ast.AnchorNode:
		p.count(v.Value, alias, key, depth)
	case *ast.TagNode:
		p.count(v.Value, alias, key, depth)
	}
}

// keyText returns a mapping key as text, when it is a scalar.
func keyText(k ast.Node) (string, bool) {
	switch v := k.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.MappingKeyNode:
		return keyText(v.Value)
	case *ast.MappingNode, *ast.SequenceNode, *ast.AliasNode, *ast.AnchorNode, *ast.TagNode, *ast.LiteralNode:
		return "", false
	case ast.ScalarNode:
		if tk := v.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	return "", false
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func indexKey(prefix string, i int) string {
	return prefix + "[" + strconv.Itoa(i) + "]"
}

func tokenPos(file string, tk *token.Token) Pos {
	if tk == nil || tk.Position == nil {
		return Pos{File: file}
	}
	return Pos{File: file, Line: tk.Position.Line, Col: tk.Position.Column}
}

// nodePos is where a node starts. A block mapping's own token is the ":" of
// its first key, so the key's position is used instead.
func nodePos(file string, n ast.Node) Pos {
	if n == nil {
		return Pos{File: file}
	}
	if m, ok := n.(*ast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 {
		return nodePos(file, m.Values[0].Key)
	}
	return tokenPos(file, n.GetToken())
}

func docPos(file string, d *ast.DocumentNode) Pos {
	if d.Start != nil {
		return tokenPos(file, d.Start)
	}
	return nodePos(file, d.Body)
}

// syntaxError converts a parser error. Parser messages describe the grammar
// (they hold at most a character or a key of the source), and are kept.
func syntaxError(file string, err error, data []byte) *Error {
	var ye yaml.Error
	if !errors.As(err, &ye) {
		return &Error{Pos: Pos{File: file}, Msg: "invalid YAML: " + err.Error()}
	}
	pos := tokenPos(file, ye.GetToken())
	msg := "invalid YAML: " + ye.GetMessage()
	if strings.Contains(sourceLine(data, pos.Line), "${") {
		msg += " (inside [ ] or { }, quote a value that holds ${...})"
	}
	return &Error{Pos: pos, Msg: msg}
}

func sourceLine(data []byte, line int) string {
	for i := 1; len(data) > 0; i++ {
		cur, rest, _ := bytes.Cut(data, []byte{'\n'})
		if i == line {
			return string(cur)
		}
		data = rest
	}
	return ""
}

// pathIndex maps the tokens of a subtree to key paths, to name the key of a
// decoding error, and lists its scalars, to keep their text out of errors.
type pathIndex struct {
	keys, values map[*token.Token]string
	scalars      []scalarAt
}

type scalarAt struct {
	tk   *token.Token
	key  string
	text string
}

func newPathIndex(n ast.Node, prefix string) *pathIndex {
	ix := &pathIndex{keys: map[*token.Token]string{}, values: map[*token.Token]string{}}
	seen := map[ast.Node]bool{}
	var walk func(n ast.Node, key string)
	walk = func(n ast.Node, key string) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		if tk := n.GetToken(); tk != nil {
			if _, ok := ix.values[tk]; !ok {
				ix.values[tk] = key
			}
		}
		switch v := n.(type) {
		case *ast.MappingNode:
			for _, mv := range v.Values {
				k, _ := keyText(mv.Key)
				kp := joinKey(key, k)
				if tk := mv.Key.GetToken(); tk != nil {
					ix.keys[tk] = kp
				}
				walk(mv.Value, kp)
			}
		case *ast.SequenceNode:
			for i, x := range v.Values {
				walk(x, indexKey(key, i))
			}
		case *ast.AnchorNode:
			walk(v.Value, key)
		case *ast.TagNode:
			walk(v.Value, key)
		case *ast.LiteralNode:
			if v.Value != nil {
				ix.scalars = append(ix.scalars, scalarAt{tk: v.GetToken(), key: key, text: v.Value.Value})
			}
		case *ast.StringNode:
			ix.scalars = append(ix.scalars, scalarAt{tk: v.GetToken(), key: key, text: v.Value})
		case ast.ScalarNode:
			if tk := v.GetToken(); tk != nil {
				ix.scalars = append(ix.scalars, scalarAt{tk: tk, key: key, text: tk.Value})
			}
		}
	}
	walk(n, prefix)
	return ix
}

// hideValues takes the subtree's values out of msg, an error text that may
// quote one (as time.ParseDuration and many UnmarshalText methods do), and
// returns where the value it quoted is, if any. Unquoted values shorter than
// four characters are left, as hiding them would garble the text and they
// are too short to be secret.
func (ix *pathIndex) hideValues(msg string) (string, *scalarAt) {
	var found *scalarAt
	for i := range ix.scalars {
		sc := &ix.scalars[i]
		if sc.text == "" {
			continue
		}
		q := strconv.Quote(sc.text)
		hit := strings.Contains(msg, q) || (len(sc.text) >= 4 && strings.Contains(msg, sc.text))
		if !hit {
			continue
		}
		if found == nil || len(sc.text) > len(found.text) {
			found = sc
		}
	}
	// Longest first, so that a value holding another is hidden whole.
	sorted := slices.Clone(ix.scalars)
	slices.SortFunc(sorted, func(a, b scalarAt) int { return len(b.text) - len(a.text) })
	for _, sc := range sorted {
		if sc.text == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, strconv.Quote(sc.text), "[value]")
		if len(sc.text) >= 4 {
			msg = strings.ReplaceAll(msg, sc.text, "[value]")
		}
	}
	return msg, found
}

// decodeNode decodes node into v strictly (unknown keys are errors). An
// error names the key and never quotes the source.
func decodeNode(file string, node ast.Node, key string, v any, red *Redactor) (e *Error) {
	defer func() {
		if r := recover(); r != nil {
			// A decoder bug must not take the process down.
			e = &Error{Pos: nodePos(file, node), Key: key, Msg: "invalid value"}
		}
	}()
	err := yaml.NodeToValue(node, v, yaml.Strict())
	if err == nil {
		return nil
	}
	e = decodeError(file, err, node, key, red)
	var unknown *yaml.UnknownFieldError
	if errors.As(err, &unknown) {
		if s := nearest(lastKey(e.Key), knownKeys(reflect.TypeOf(v), relKey(key, e.Key))); s != "" {
			e.Msg += fmt.Sprintf("; did you mean %q?", s)
		}
	}
	return e
}

// relKey is path relative to base ("destination.auth.x" under
// "destination" is "auth.x").
func relKey(base, path string) string {
	if base == "" {
		return path
	}
	return strings.TrimPrefix(strings.TrimPrefix(path, base), ".")
}

// lastKey is the last key of a path, without a list index.
func lastKey(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		path = path[i+1:]
	}
	if i := strings.IndexByte(path, '['); i >= 0 {
		path = path[:i]
	}
	return path
}

// knownKeys returns the yaml keys of the struct that holds the last key of
// path, following path's keys from t; nil when they cannot be followed.
func knownKeys(t reflect.Type, path string) []string {
	segs := strings.Split(path, ".")
	for _, seg := range segs[:len(segs)-1] {
		if i := strings.IndexByte(seg, '['); i >= 0 {
			seg = seg[:i]
		}
		t = structOf(t)
		if t == nil {
			return nil
		}
		next, ok := fieldByKey(t, seg)
		if !ok {
			return nil
		}
		t = next
	}
	t = structOf(t)
	if t == nil {
		return nil
	}
	var keys []string
	collectKeys(t, &keys)
	return keys
}

// structOf strips pointers, slices and maps down to a struct type.
func structOf(t reflect.Type) reflect.Type {
	for t != nil {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			return t
		default:
			return nil
		}
	}
	return nil
}

// yamlName is a struct field's key and whether it is inlined.
func yamlName(f reflect.StructField) (name string, inline bool) {
	tag := f.Tag.Get("yaml")
	name, opts, _ := strings.Cut(tag, ",")
	if name == "-" {
		return "", false
	}
	if strings.Contains(opts, "inline") {
		return "", true
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, false
}

func fieldByKey(t reflect.Type, key string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, inline := yamlName(f)
		if inline {
			if st := structOf(f.Type); st != nil {
				if ft, ok := fieldByKey(st, key); ok {
					return ft, true
				}
			}
			continue
		}
		if name == key {
			return f.Type, true
		}
	}
	return nil, false
}

func collectKeys(t reflect.Type, keys *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, inline := yamlName(f)
		if inline {
			if st := structOf(f.Type); st != nil {
				collectKeys(st, keys)
			}
			continue
		}
		if name != "" {
			*keys = append(*keys, name)
		}
	}
}

func decodeError(file string, err error, node ast.Node, key string, red *Redactor) *Error {
	e := &Error{Pos: nodePos(file, node), Key: key}
	ix := newPathIndex(node, key)
	var ye yaml.Error
	if !errors.As(err, &ye) {
		// An error of an unmarshaler (the plugin's own, or the standard
		// library's for durations, addresses...) has no position, and its
		// text may quote the value: the value is hidden, and located.
		msg, at := ix.hideValues(red.Redact(err.Error()))
		e.Msg, e.Err = "invalid value: "+msg, err
		if at != nil {
			e.Pos, e.Key = tokenPos(file, at.tk), at.key
		}
		return e
	}
	tk := ye.GetToken()
	if tk != nil {
		e.Pos = tokenPos(file, tk)
	}
	lookup := func(first, second map[*token.Token]string) {
		if k, ok := first[tk]; ok {
			e.Key = k
		} else if k, ok := second[tk]; ok {
			e.Key = k
		}
	}
	// Messages are built here from types only: the library's own messages
	// can quote values (a number that overflows, a text that is no bool).
	var (
		unknown  *yaml.UnknownFieldError
		typ      *yaml.TypeError
		overflow *yaml.OverflowError
		nodeType *yaml.UnexpectedNodeTypeError
	)
	switch {
	case errors.As(err, &unknown):
		lookup(ix.keys, ix.values)
		e.Msg = "unknown key"
	case errors.As(err, &typ):
		lookup(ix.values, ix.keys)
		e.Msg = fmt.Sprintf("expected %s, got %s", wantName(typ.DstType), gotName(typ.SrcType))
	case errors.As(err, &overflow):
		lookup(ix.values, ix.keys)
		e.Msg = fmt.Sprintf("number is out of range for %s", wantName(overflow.DstType))
	case errors.As(err, &nodeType):
		lookup(ix.values, ix.keys)
		e.Msg = fmt.Sprintf("expected %s, got %s", nodeTypeName(nodeType.Expected), nodeTypeName(nodeType.Actual))
	default:
		lookup(ix.values, ix.keys)
		e.Msg = "invalid value"
	}
	return e
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

func wantName(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a value"
	}
	switch t {
	case durationType:
		return "a duration (such as 30s)"
	case timeType:
		return "a timestamp"
	}
	return kindName(t.Kind(), "true or false")
}

func gotName(t reflect.Type) string {
	if t == nil {
		return "null"
	}
	return kindName(t.Kind(), "a boolean")
}

func kindName(k reflect.Kind, boolName string) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return boolName
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return "a value"
}

func nodeTypeName(t ast.NodeType) string {
	switch t {
	case ast.MappingType:
		return "a mapping"
	case ast.SequenceType:
		return "a list"
	case ast.StringType, ast.LiteralType:
		return "a string"
	case ast.IntegerType:
		return "an integer"
	case ast.FloatType, ast.InfinityType, ast.NanType:
		return "a number"
	case ast.BoolType:
		return "a boolean"
	case ast.NullType:
		return "null"
	}
	return t.YAMLName()
}

// unwrap returns the node under anchors and tags, for walking containers.
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

// describe names a node's kind for "expected ..., got ..." messages.
func describe(n ast.Node) string {
	n = unwrap(n)
	if n == nil {
		return "null"
	}
	return nodeTypeName(n.Type())
}
