package config

import (
	"slices"

	"github.com/goccy/go-yaml/ast"
)

// NewSection parses yamlText, a YAML mapping, into a Section, for tests and
// for programs that build configuration in code. References (${...}) are not
// resolved. An empty text gives a zero Section.
func NewSection(file, yamlText string) (Section, error) {
	body, errs, _ := parseFile(file, []byte(yamlText))
	if len(errs) > 0 {
		return Section{}, errs
	}
	if body == nil {
		return Section{file: file, pos: Pos{File: file}}, nil
	}
	m, ok := unwrap(body).(*ast.MappingNode)
	if !ok {
		return Section{}, Errors{{Pos: nodePos(file, body), Msg: "expected a mapping, got " + describe(body)}}
	}
	return newSection(file, "", nodePos(file, m), m, m.Values, nil), nil
}

// newSection builds a section of the given entries of m. It is a new mapping
// node over the original key and value nodes, so positions are kept.
func newSection(file, key string, pos Pos, m *ast.MappingNode, values []*ast.MappingValueNode, red *Redactor) Section {
	s := Section{file: file, path: key, pos: pos, red: red}
	if len(values) == 0 {
		return s
	}
	// The original start token keeps the strict decoder reporting unknown
	// keys (it skips nodes without one).
	s.node = ast.Mapping(m.GetToken(), m.IsFlowStyle, values...)
	for _, mv := range values {
		k, _ := keyText(mv.Key)
		s.keys = append(s.keys, k)
	}
	return s
}

// Decode decodes the section into v (a pointer, usually to a struct with
// `yaml` tags) strictly: a key v does not have, or a value of the wrong type,
// is an *Error naming the file, line and key path. A zero Section leaves v
// as it is.
func (s Section) Decode(v any) error {
	if s.node == nil {
		return nil
	}
	if e := decodeNode(s.file, s.node, s.path, v, s.red); e != nil {
		return e
	}
	return nil
}

// IsZero reports whether the section has no keys.
func (s Section) IsZero() bool { return len(s.keys) == 0 }

// Keys returns the section's keys in file order.
func (s Section) Keys() []string { return slices.Clone(s.keys) }

// Pos is where the section's parent starts: the source, destination or
// connection it belongs to.
func (s Section) Pos() Pos { return s.pos }

// Key is the section's path in its file, such as "destination" or
// "connections.crm".
func (s Section) Key() string { return s.path }

// ErrorAt returns an *Error about the section's key: at the key's value
// when the section has it, else where the section starts. Plugins use it
// for values they check after decoding, so that their errors name the
// file, line and key as the decoder's do.
func (s Section) ErrorAt(key, msg string) *Error {
	path := key
	if s.path != "" {
		path = s.path + "." + key
	}
	pos := s.pos
	if m, ok := s.node.(*ast.MappingNode); ok {
		for _, mv := range m.Values {
			if k, _ := keyText(mv.Key); k == key {
				pos = nodePos(s.file, mv.Value)
				break
			}
		}
	}
	return &Error{Pos: pos, Key: path, Msg: msg}
}
