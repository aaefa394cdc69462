package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a configuration file. Its text never includes the
// file's source, so that a secret value cannot leak through an error.
type Error struct {
	Pos Pos
	// Key is the path of the offending key, such as "destination.operation"
	// or "mapping[2].to" (list indexes count from 0).
	Key string
	Msg string
	// Err is the underlying cause, when there is one (a resolver's error, a
	// cancelled context), for errors.Is and errors.As. Msg already carries
	// its text, redacted.
	Err error
}

// Error formats as `file:line:col: key "a.b": message`.
func (e *Error) Error() string {
	var b strings.Builder
	if p := e.Pos.String(); p != "" {
		b.WriteString(p)
		b.WriteString(": ")
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found while loading, in file and line order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the first *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es *Errors) add(e *Error) { *es = append(*es, e) }

// maxErrorsPerFile keeps a broken or hostile file from flooding the output.
const maxErrorsPerFile = 20

// capped sorts the errors and keeps the first maxErrorsPerFile of each file,
// noting how many more there were.
func (es Errors) capped() Errors {
	es = es.sorted()
	out := make(Errors, 0, len(es))
	for i := 0; i < len(es); {
		j := i
		for j < len(es) && es[j].Pos.File == es[i].Pos.File {
			j++
		}
		if j-i > maxErrorsPerFile {
			out = append(out, es[i:i+maxErrorsPerFile]...)
			out = append(out, &Error{Pos: Pos{File: es[i].Pos.File}, Msg: fmt.Sprintf("and %d more errors", j-i-maxErrorsPerFile)})
		} else {
			out = append(out, es[i:j]...)
		}
		i = j
	}
	return out
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i].Pos, es[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return es
}

// String formats the position as file:line:col, leaving out what is unknown.
func (p Pos) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	return b.String()
}
