package config

import (
	"math"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// The keys each section decodes, from the Keys the reference is made of.
var (
	syncKeys        = syncSpec.Names()
	sourceKeys      = sourceSpec.Names()
	destinationKeys = destinationSpec.Names()
	mappingKeys     = mappingSpec.Names()
)

// syncMeta is what the checks across files need to know about a sync's
// file beyond the Sync itself.
type syncMeta struct {
	nameNode                   ast.Node
	root                       ast.Node
	batchSet, nullSet, failSet bool
	depends                    []ast.Node
	sourceConn, destConn       ast.Node
	changeNode                 ast.Node
}

// decodeSync decodes one sync file. It returns nil when the file holds no
// mapping at all; otherwise a Sync as complete as the errors allow.
func decodeSync(d *fileDecoder, defaultName string, body ast.Node) (*Sync, *syncMeta) {
	if body == nil {
		d.errs.add(&Error{Pos: Pos{File: d.file}, Msg: "file is empty; a sync needs source, destination and mapping"})
		return nil, nil
	}
	root, fields, ok := d.mapping(body, "")
	if !ok {
		return nil, nil
	}
	if root == nil {
		d.errs.add(&Error{Pos: nodePos(d.file, body), Msg: "expected a mapping with source, destination and mapping, got null"})
		return nil, nil
	}
	s := &Sync{File: d.file, Pos: nodePos(d.file, root)}
	meta := &syncMeta{root: root}
	var dest *destNodes
	seen := map[string]bool{}
	for _, f := range fields {
		seen[f.key] = true
		switch f.key {
		case "name":
			s.Name = d.str(f)
			meta.nameNode = f.value
		case "source":
			s.Source, meta.sourceConn = d.source(f)
		case "destination":
			s.Destination, dest = d.destination(f)
			if dest != nil {
				meta.destConn = dest.conn
			}
		case "mapping":
			s.Mapping = d.mappings(f)
		case "key":
			s.Key = d.nonEmpty(f)
		case "filter":
			s.Filter = d.nonEmpty(f)
		case "null_policy":
			s.NullPolicy = d.nullPolicy(f)
			meta.nullSet = true
		case "on_failure":
			s.OnFailure = d.onFailure(f)
			meta.failSet = true
		case "records_per_write":
			s.RecordsPerWrite = d.positive(f)
			meta.batchSet = true
		case "depends_on":
			s.DependsOn, meta.depends = d.dependsOn(f)
		case "run_if_parent_failed":
			d.decode(f, &s.RunIfParentFailed)
		case "change_detection":
			s.ChangeDetection, meta.changeNode = d.changeDetection(f)
		case "on_removed":
			s.OnRemoved = d.onRemoved(f)
		default:
			// A typo of a required key is not also reported missing.
			if typo := d.unknownKey(f, syncKeys); typo != "" {
				seen[typo] = true
			}
		}
	}
	for _, k := range []string{"source", "destination", "mapping"} {
		if !seen[k] {
			d.errorf(root, k, "missing required key")
		}
	}
	if meta.nameNode == nil {
		s.Name = defaultName
	}
	if !namePattern.MatchString(s.Name) {
		at := meta.nameNode
		how := ""
		if at == nil {
			at, how = root, " (taken from the file name)"
		}
		d.errorf(at, "name", "sync name%s may hold only letters, digits, _, - and ., must not start with - or ., and is at most 128 long", how)
	}
	if s.ChangeDetection != nil {
		if s.Key == "" {
			d.errorf(meta.changeNode, "change_detection", "change_detection tells rows apart by the sync's key: set key to the column that identifies a row")
		}
		s.ChangeDetection.Key = s.Key
	}
	d.onRemovedRules(s)
	return s, meta
}

func (d *fileDecoder) nonEmpty(f field) string {
	var s string
	// A value of the wrong type is one error, not also an empty one.
	if d.decode(f, &s) && s == "" {
		d.errorf(f.value, f.path, "must not be empty")
	}
	return s
}

func (d *fileDecoder) positive(f field) int {
	var n int
	if d.decode(f, &n) && n <= 0 {
		d.errorf(f.value, f.path, "must be greater than 0")
	}
	return n
}

func (d *fileDecoder) nullPolicy(f field) NullPolicy {
	p := NullPolicy(d.str(f))
	switch p {
	case NullClear, NullIgnore:
	default:
		d.errorf(f.value, f.path, "must be clear or ignore")
	}
	return p
}

func (d *fileDecoder) onFailure(f field) OnFailure {
	var o OnFailure
	if !d.decode(f, &o) {
		return o
	}
	if o.MaxFailedRows != nil && *o.MaxFailedRows < 0 {
		d.errorf(child(f.value, "max_failed_rows"), joinKey(f.path, "max_failed_rows"), "must not be negative")
	}
	if p := o.MaxFailedPercent; p != nil && (math.IsNaN(*p) || *p < 0 || *p > 100) {
		d.errorf(child(f.value, "max_failed_percent"), joinKey(f.path, "max_failed_percent"), "must be between 0 and 100")
	}
	return o
}

// changeDetection reads change_detection: true or false. Rows are told
// apart by the sync's key, said once for the reports and the state.
func (d *fileDecoder) changeDetection(f field) (*ChangeDetection, ast.Node) {
	if u := unwrap(f.value); u == nil || u.Type() == ast.NullType {
		return nil, nil
	}
	var on bool
	if !d.decode(f, &on) || !on {
		return nil, nil
	}
	return &ChangeDetection{}, f.value
}

func (d *fileDecoder) dependsOn(f field) ([]string, []ast.Node) {
	seq, ok := unwrap(f.value).(*ast.SequenceNode)
	if !ok {
		if u := unwrap(f.value); u == nil || u.Type() == ast.NullType {
			return nil, nil
		}
		d.errorf(f.value, f.path, "expected a list of sync names, got %s", describe(f.value))
		return nil, nil
	}
	var names []string
	var nodes []ast.Node
	first := map[string]int{}
	for i, x := range seq.Values {
		item := field{path: indexKey(f.path, i), value: x}
		name := d.nonEmpty(item)
		if name == "" {
			continue
		}
		if j, dup := first[name]; dup {
			d.errorf(x, item.path, "sync %q is already listed at depends_on[%d]", name, j)
			continue
		}
		first[name] = i
		names = append(names, name)
		nodes = append(nodes, x)
	}
	return names, nodes
}

// splitKnown walks a section's fields: known keys go to handle, the others
// stay for the plugin's Section. A remaining key one typo away from a known
// key that is absent is reported as that typo rather than passed on; the
// returned set then counts the known key as present, so that it is not
// also reported missing.
func (d *fileDecoder) splitKnown(fields []field, known []string, handle func(field)) (rest []*ast.MappingValueNode, present map[string]bool) {
	present = map[string]bool{}
	for _, f := range fields {
		present[f.key] = true
	}
	var absent []string
	for _, k := range known {
		if !present[k] {
			absent = append(absent, k)
		}
	}
	for _, f := range fields {
		if slices.Contains(known, f.key) {
			handle(f)
			continue
		}
		if s := nearest(f.key, absent); s != "" {
			d.errorf(f.knode, f.path, "unknown key; did you mean %q?", s)
			present[s] = true
			continue
		}
		rest = append(rest, f.node)
	}
	return rest, present
}

func (d *fileDecoder) source(f field) (SourceSpec, ast.Node) {
	var src SourceSpec
	src.Pos = nodePos(d.file, f.knode)
	m, fields, ok := d.mapping(f.value, f.path)
	if !ok {
		return src, nil
	}
	var conn ast.Node
	rest, present := d.splitKnown(fields, sourceKeys, func(x field) {
		switch x.key {
		case "type":
			src.Type = d.nonEmpty(x)
		case "connection":
			src.Connection, conn = d.nonEmpty(x), x.value
		case "query":
			src.Query = d.nonEmpty(x)
		}
	})
	// Without a type the connection's type applies (see checker.types).
	if !present["type"] && !present["connection"] {
		d.errorf(f.knode, joinKey(f.path, "type"), "missing required key (or name a connection, whose type then applies)")
	}
	if m != nil {
		src.Section = newSection(d.file, f.path, src.Pos, m, rest, d.red)
	} else {
		src.Section = Section{file: d.file, path: f.path, pos: src.Pos, red: d.red}
	}
	return src, conn
}

// destNodes are where the destination's keys are.
type destNodes struct {
	conn ast.Node
}

func (d *fileDecoder) destination(f field) (DestinationSpec, *destNodes) {
	var dst DestinationSpec
	dst.Pos = nodePos(d.file, f.knode)
	nodes := &destNodes{}
	m, fields, ok := d.mapping(f.value, f.path)
	if !ok {
		return dst, nil
	}
	rest, present := d.splitKnown(fields, destinationKeys, func(x field) {
		switch x.key {
		case "type":
			dst.Type = d.nonEmpty(x)
		case "connection":
			dst.Connection, nodes.conn = d.nonEmpty(x), x.value
		}
	})
	if !present["type"] && !present["connection"] {
		d.errorf(f.knode, joinKey(f.path, "type"), "missing required key (or name a connection, whose type then applies)")
	}
	if m != nil {
		dst.Section = newSection(d.file, f.path, dst.Pos, m, rest, d.red)
	} else {
		dst.Section = Section{file: d.file, path: f.path, pos: dst.Pos, red: d.red}
	}
	return dst, nodes
}

func (d *fileDecoder) mappings(f field) []*Mapping {
	u := unwrap(f.value)
	if u == nil || u.Type() == ast.NullType {
		d.errorf(f.knode, f.path, "must list at least one field")
		return nil
	}
	seq, ok := u.(*ast.SequenceNode)
	if !ok {
		d.errorf(f.value, f.path, "expected a list, got %s", describe(f.value))
		return nil
	}
	if len(seq.Values) == 0 {
		d.errorf(f.value, f.path, "must list at least one field")
		return nil
	}
	out := make([]*Mapping, 0, len(seq.Values))
	targets := map[string]int{} // lower-cased target → line of its first mapping
	for i, x := range seq.Values {
		if u := unwrap(x); u == nil || u.Type() == ast.NullType {
			pos := nodePos(d.file, x)
			if i < len(seq.Entries) && seq.Entries[i] != nil && seq.Entries[i].Start != nil {
				// An empty entry's null has no place of its own; its "-" has.
				pos = tokenPos(d.file, seq.Entries[i].Start)
			}
			d.errs.add(&Error{Pos: pos, Key: indexKey(f.path, i), Msg: "expected a mapping with to and one of from, value or expr, got null"})
			continue
		}
		m, toNode := d.mappingEntry(x, indexKey(f.path, i))
		if m == nil {
			continue
		}
		out = append(out, m)
		if m.To == "" {
			continue
		}
		// Salesforce matches field names without regard to case.
		k := strings.ToLower(m.To)
		if line, dup := targets[k]; dup {
			d.errorf(toNode, joinKey(indexKey(f.path, i), "to"), "field %s is already mapped at line %d", m.To, line)
			continue
		}
		targets[k] = m.Pos.Line
	}
	return out
}

func (d *fileDecoder) mappingEntry(n ast.Node, path string) (*Mapping, ast.Node) {
	// n is not null: mappings reports null entries.
	m, fields, ok := d.mapping(n, path)
	if !ok {
		return nil, nil
	}
	e := &Mapping{Pos: nodePos(d.file, m)}
	var toNode, formatNode, truncNode ast.Node
	sources := 0
	for _, f := range fields {
		switch f.key {
		case "from":
			e.From = d.nonEmpty(f)
			sources++
		case "to":
			e.To, toNode = d.nonEmpty(f), f.value
		case "value":
			e.Value, e.HasValue = d.constant(f), true
			sources++
		case "expr":
			e.Expr = d.nonEmpty(f)
			sources++
		case "when":
			e.When = d.nonEmpty(f)
		case "set_if_empty":
			d.decode(f, &e.SetIfEmpty)
		case "truncate":
			d.decode(f, &e.Truncate)
			truncNode = f.value
		case "keep_human_edits":
			var keep bool
			if d.decode(f, &keep) {
				e.KeepHumanEdits = &keep
			}
		case "type":
			e.Type = FieldType(d.str(f))
			switch e.Type {
			case TypeString, TypeNumber, TypeInteger, TypeBoolean, TypeDate, TypeDateTime:
			default:
				d.errorf(f.value, f.path, "must be one of string, number, integer, boolean, date, datetime")
			}
		case "format":
			e.Format, formatNode = d.nonEmpty(f), f.value
		case "null":
			e.Null = d.nullPolicy(f)
		default:
			d.unknownKey(f, mappingKeys)
		}
	}
	if toNode == nil {
		d.errorf(m, joinKey(path, "to"), "missing required key")
	}
	switch {
	case sources == 0:
		d.errorf(m, path, "set one of from, value or expr")
	case sources > 1:
		d.errorf(m, path, "set only one of from, value and expr")
	}
	if formatNode != nil && e.Type != TypeDate && e.Type != TypeDateTime {
		d.errorf(formatNode, joinKey(path, "format"), "format applies only to type date or datetime")
	}
	if e.Truncate && e.Type != "" && e.Type != TypeString {
		d.errorf(truncNode, joinKey(path, "truncate"), "truncate applies only to text; this value has type %s", e.Type)
	}
	return e, toNode
}

// constant decodes a mapping's value: a scalar, or null.
func (d *fileDecoder) constant(f field) any {
	switch unwrap(f.value).(type) {
	case *ast.MappingNode, *ast.SequenceNode:
		d.errorf(f.value, f.path, "expected a string, number, boolean or null, got %s", describe(f.value))
		return nil
	}
	var v any
	if !d.decode(f, &v) {
		return nil
	}
	switch x := v.(type) {
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			d.errorf(f.value, f.path, "must be a finite number")
			return nil
		}
	}
	return v
}

// child returns the value of key in mapping n, or nil.
func child(n ast.Node, key string) ast.Node {
	m, ok := unwrap(n).(*ast.MappingNode)
	if !ok {
		return nil
	}
	for _, mv := range m.Values {
		if k, _ := keyText(mv.Key); k == key {
			return mv.Value
		}
	}
	return nil
}
