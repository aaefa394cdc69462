package config

import (
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// OnRemoved is what a sync does to the records it wrote in earlier runs
// whose keys its query no longer returns: delete them, or set fields on
// them. It needs change_detection, whose state knows which records the
// sync wrote, and applies to upserts.
//
//	on_removed: delete
//	on_removed: {set: {Active__c: false}}
type OnRemoved struct {
	Pos Pos
	// Delete deletes the records; otherwise Set is applied to them.
	Delete bool
	// Set lists the fields to set, in file order.
	Set []FieldValue

	node ast.Node
}

// FieldValue is a field and the constant it is set to: a string, int64,
// float64, bool, or nil for null.
type FieldValue struct {
	Field string
	Value any
}

// onRemoved decodes on_removed: the word delete, or a mapping with set.
func (d *fileDecoder) onRemoved(f field) *OnRemoved {
	u := unwrap(f.value)
	if u == nil || u.Type() == ast.NullType {
		return nil
	}
	o := &OnRemoved{Pos: nodePos(d.file, f.knode), node: f.knode}
	if _, ok := u.(*ast.MappingNode); !ok {
		if s, ok := u.(*ast.StringNode); ok && s.Value == "delete" {
			o.Delete = true
		} else {
			d.errorf(f.value, f.path, "must be delete, or a mapping with set")
		}
		return o
	}
	_, fields, _ := d.mapping(f.value, f.path)
	var set *field
	typo := false
	for i := range fields {
		if fields[i].key == "set" {
			set = &fields[i]
			continue
		}
		// A typo of set is not also reported missing.
		typo = d.unknownKey(fields[i], []string{"set"}) != "" || typo
	}
	if set == nil {
		if !typo {
			d.errorf(f.value, joinKey(f.path, "set"), "missing required key")
		}
		return o
	}
	m, values, ok := d.mapping(set.value, set.path)
	if !ok {
		return o
	}
	if m == nil || len(values) == 0 {
		d.errorf(set.value, set.path, "must set at least one field")
		return o
	}
	for _, v := range values {
		if v.key == "" || strings.EqualFold(v.key, "Id") {
			d.errorf(v.knode, v.path, "must name a field other than Id")
			continue
		}
		o.Set = append(o.Set, FieldValue{Field: v.key, Value: d.constant(v)})
	}
	return o
}

// onRemovedRules checks that on_removed can know which records the sync
// wrote: it needs change_detection, and an upsert.
func (d *fileDecoder) onRemovedRules(s *Sync) {
	o := s.OnRemoved
	if o == nil {
		return
	}
	if s.ChangeDetection == nil {
		d.errorf(o.node, "on_removed", "on_removed needs change_detection: its state knows which records this sync wrote")
	}
}
