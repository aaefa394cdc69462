package transform

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
)

// Option configures Compile.
type Option func(*options)

type options struct {
	loc      *time.Location
	exprOpts []expr.Option
}

// WithLocation sets the zone in which text date-times parsed with a
// field's format are read when the format has no zone. The default is UTC.
func WithLocation(loc *time.Location) Option {
	return func(o *options) {
		if loc != nil {
			o.loc = loc
		}
	}
}

// WithExprOptions adds expr options, such as expr.Function, to every
// expression of the sync. Options that set the environment are overridden:
// expressions always see the row's columns. A function added this way is
// called with NULL arguments as nil, so that it decides what NULL means to
// it; built-in functions return NULL for them.
func WithExprOptions(opts ...expr.Option) Option {
	return func(o *options) { o.exprOpts = append(o.exprOpts, opts...) }
}

// CompileError is a mapping that cannot work: an expression that does not
// compile, an entry that breaks a rule, or (from Transform) a column the
// mapping names that the query's result lacks. Key is the YAML key, such
// as "mapping[2].when".
type CompileError struct {
	Pos config.Pos
	Key string
	Msg string
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("%s:%d:%d: key %q: %s", e.Pos.File, e.Pos.Line, e.Pos.Col, e.Key, e.Msg)
}

// FieldError fails one row because of one target field: its value could
// not be converted, or its expression failed on that row.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Mapping is the transformer a sync's mapping builds: one target field per
// mapping entry, in the entries' order.
//
// Transform is safe for concurrent use. Each call borrows per-goroutine
// scratch state (formatting buffers, the expression VM) from a pool; the
// Engine transforms a sync's rows in one goroutine, where that costs no
// contention. Formatted values of many records share byte chunks that are
// never rewritten, so a retained record keeps up to a few kilobytes alive.
//
// Expressions (expr, when and the sync's filter) see the row's columns by
// name, matched to the query's columns regardless of case. Decimals and
// integers wider than int64 appear in expressions as float64, so that
// comparisons and arithmetic with number literals work; digits beyond
// float64's precision are lost there, while a field copied with from keeps
// the exact text. Dates, times of day and JSON appear as strings (date()
// and fromJSON() parse them), timestamps as time.Time, NULL as nil. $env
// holds every column under the name the query gives it.
//
// NULL behaves as in SQL (docs/expressions.md): comparisons, arithmetic
// and built-in functions given NULL give NULL, and, or and not follow
// three-valued logic, == and != compare NULL as a value. An expression
// result of nil is a NULL under the field's null policy; a when or filter
// condition that is nil counts as false.
type Mapping struct {
	layout *sink.Layout
	fields []field
	filter *program
	// filtered is the error of a row the filter rejects; it is the same
	// for every row, so it is built once.
	filtered error
	progs    []*program

	// keyCol is the sync's key column, if it names one. Otherwise the
	// Engine takes the key from the field the destination finds records
	// by (sink.Description).
	keyCol string
	keyPos config.Pos

	// cur is the binding of the columns seen last, shared by goroutines.
	cur  atomic.Pointer[binding]
	pool sync.Pool
}

type srcKind uint8

const (
	srcFrom srcKind = iota
	srcConst
	srcExpr
)

// field is one compiled mapping entry.
type field struct {
	name  string
	key   string
	pos   config.Pos
	src   srcKind
	col   string     // srcFrom
	konst sink.Value // srcConst
	expr  *program   // srcExpr
	when  *program
	conv  conv
	// onNull is the kind a NULL becomes: Null under clear, Absent under ignore.
	onNull sink.Kind
}

// Compile builds the mapping transformer of a sync. Expressions are
// compiled here, once; a mapping that breaks a rule is a *CompileError
// that names the entry's file, line and key.
func Compile(s *config.Sync, opts ...Option) (*Mapping, error) {
	if s == nil {
		return nil, errors.New("transform: no sync to compile")
	}
	o := options{loc: time.UTC}
	for _, opt := range opts {
		opt(&o)
	}
	syncPos := s.Pos
	if syncPos.File == "" {
		syncPos.File = s.File
	}
	syncNull, ok := nullKind(s.NullPolicy, sink.Null)
	if !ok {
		return nil, &CompileError{Pos: syncPos, Key: "null_policy", Msg: badPolicy(s.NullPolicy)}
	}

	m := &Mapping{}
	names := make([]string, 0, len(s.Mapping))
	guarded := make([]bool, 0, len(s.Mapping))
	var truncate []bool
	var keepEdits []sink.Choice
	targets := make(map[string]int, len(s.Mapping))
	for i, e := range s.Mapping {
		key := fmt.Sprintf("mapping[%d]", i)
		if e == nil {
			return nil, &CompileError{Pos: syncPos, Key: key, Msg: "entry is empty"}
		}
		f, err := compileField(e, key, syncPos.File, syncNull, &o)
		if err != nil {
			return nil, err
		}
		lower := strings.ToLower(f.name)
		if j, dup := targets[lower]; dup {
			return nil, &CompileError{Pos: f.pos, Key: key + ".to", Msg: fmt.Sprintf("%s is already the target of mapping[%d]", f.name, j)}
		}
		targets[lower] = i
		m.fields = append(m.fields, f)
		names = append(names, f.name)
		guarded = append(guarded, e.SetIfEmpty)
		if e.Truncate {
			if truncate == nil {
				truncate = make([]bool, len(s.Mapping))
			}
			truncate[i] = true
		}
		if e.KeepHumanEdits != nil {
			if keepEdits == nil {
				keepEdits = make([]sink.Choice, len(s.Mapping))
			}
			keepEdits[i] = sink.Off
			if *e.KeepHumanEdits {
				keepEdits[i] = sink.On
			}
		}
		for _, p := range []*program{f.expr, f.when} {
			if p != nil {
				m.progs = append(m.progs, p)
			}
		}
	}
	m.layout = sink.NewLayout(names, guarded)
	m.layout.Truncate = truncate
	m.layout.KeepEdits = keepEdits

	if s.Filter != "" {
		p, err := compileExpr(s.Filter, true, syncPos, "filter", o.exprOpts)
		if err != nil {
			return nil, err
		}
		m.filter = p
		m.progs = append(m.progs, p)
		m.filtered = fmt.Errorf("filter %s is not true: %w", quoteShort(s.Filter), &Skip{Code: sink.SkipFiltered})
	}

	if s.Key != "" {
		m.keyCol, m.keyPos = s.Key, syncPos
	}
	m.pool.New = func() any { return &state{env: make(map[string]any)} }
	return m, nil
}

func compileField(e *config.Mapping, key, file string, syncNull sink.Kind, o *options) (field, error) {
	pos := e.Pos
	if pos.File == "" {
		pos.File = file
	}
	fail := func(k, msg string) (field, error) {
		return field{}, &CompileError{Pos: pos, Key: key + k, Msg: msg}
	}
	f := field{name: strings.TrimSpace(e.To), key: key, pos: pos, conv: conv{typ: e.Type, format: e.Format, loc: o.loc}}
	if f.name == "" {
		return fail(".to", "to is required")
	}
	n := 0
	for _, set := range []bool{e.From != "", e.HasValue, e.Expr != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fail("", "set exactly one of from, value and expr")
	}
	if !validType(e.Type) {
		return fail(".type", fmt.Sprintf("unknown type %q (string, number, integer, boolean, date or datetime)", e.Type))
	}
	if e.Format != "" && e.Type != config.TypeDate && e.Type != config.TypeDateTime {
		return fail(".format", "format needs type date or datetime")
	}
	var ok bool
	if f.onNull, ok = nullKind(e.Null, syncNull); !ok {
		return fail(".null", badPolicy(e.Null))
	}

	switch {
	case e.From != "":
		f.src, f.col = srcFrom, e.From
	case e.HasValue:
		f.src = srcConst
		f.konst = sink.NullValue()
		if e.Value != nil {
			var a arena
			v, err := f.conv.normalize(e.Value, &a)
			if err != nil {
				return fail(".value", err.Error())
			}
			f.konst = f.emptyIsNull(v)
		}
	default:
		p, err := compileExpr(e.Expr, false, pos, key+".expr", o.exprOpts)
		if err != nil {
			return field{}, err
		}
		f.src, f.expr = srcExpr, p
	}
	if e.When != "" {
		p, err := compileExpr(e.When, true, pos, key+".when", o.exprOpts)
		if err != nil {
			return field{}, err
		}
		f.when = p
	}
	return f, nil
}

// emptyIsNull makes empty text the field's NULL. Bulk API 2.0 ignores an
// empty CSV cell on update while REST clears a field sent "", so "" would
// change different data depending on the API a batch's size picks; as a
// NULL it clears (clear) or is not sent (ignore) in both. Text of spaces
// is kept: both APIs send it as it is ("Field values aren't trimmed",
// Valid CSV Record Rows).
func (f *field) emptyIsNull(v sink.Value) sink.Value {
	if v.Kind == sink.Text && v.S == "" {
		return sink.Value{Kind: f.onNull}
	}
	return v
}

// nullKind maps a null policy to the kind a NULL becomes; "" inherits def.
func nullKind(p config.NullPolicy, def sink.Kind) (sink.Kind, bool) {
	switch p {
	case "":
		return def, true
	case config.NullClear:
		return sink.Null, true
	case config.NullIgnore:
		return sink.Absent, true
	}
	return def, false
}

func badPolicy(p config.NullPolicy) string {
	return fmt.Sprintf("unknown null policy %q (clear or ignore)", p)
}

// Layout is the shape of every record; it is shared and must not be changed.
func (m *Mapping) Layout() *sink.Layout { return m.layout }

// Transform maps one row. A *FieldError fails the row because of one field
// (or the filter fails on it): the record returned with it then holds the
// row's key and the fields mapped before the failing one, for reports;
// a *CompileError says the row's columns do not fit the mapping, which is
// so for every row with those columns; a row the filter rejects returns an
// error wrapping *Skip. Record.Seq is left to the caller, and Record.Key
// is "" when the sync names no key and maps neither the external id, Id
// nor match_on field.
//
// Columns are resolved once per distinct Columns slice, so a caller must
// not change the names in a slice it has passed.
func (m *Mapping) Transform(row Row) (sink.Record, error) {
	if len(row.Values) != len(row.Columns) {
		return sink.Record{}, fmt.Errorf("row has %d values for %d columns", len(row.Values), len(row.Columns))
	}
	st := m.pool.Get().(*state)
	rec, err := st.transform(m, row)
	m.pool.Put(st)
	return rec, err
}

// CheckColumns returns the *CompileError every row with these columns
// would fail with, naming the column and the file:line of the entry (or
// when, filter or key) that needs it; nil when the columns fit.
func (m *Mapping) CheckColumns(columns []string) error {
	if b := m.bind(columns); b.err != nil {
		return b.err
	}
	return nil
}

// binding is a mapping resolved against one list of columns.
type binding struct {
	cols []string
	from []int // per field; -1 for fields not copied from a column
	vars []boundVar
	key  int
	err  error
}

type boundVar struct {
	name string
	col  int
}

// bind returns the binding for cols, reusing the last one when the names
// are the same (a new slice per batch with the same columns is common).
func (m *Mapping) bind(cols []string) *binding {
	if b := m.cur.Load(); b != nil && slices.Equal(b.cols, cols) {
		return b
	}
	b := m.newBinding(cols)
	m.cur.Store(b)
	return b
}

func (m *Mapping) newBinding(cols []string) *binding {
	b := &binding{cols: slices.Clone(cols), from: make([]int, len(m.fields)), key: -1}
	fail := func(pos config.Pos, key, msg string) *binding {
		b.err = &CompileError{Pos: pos, Key: key, Msg: msg}
		return b
	}
	for i := range m.fields {
		f := &m.fields[i]
		b.from[i] = -1
		if f.src == srcFrom {
			c, msg := resolve(cols, f.col)
			if c < 0 {
				return fail(f.pos, f.key+".from", msg)
			}
			b.from[i] = c
		}
	}
	bound := map[string]bool{}
	for _, p := range m.progs {
		if p.env {
			for c, name := range cols {
				if !bound[name] {
					bound[name] = true
					b.vars = append(b.vars, boundVar{name: name, col: c})
				}
			}
		}
	}
	for _, p := range m.progs {
		for _, name := range p.names {
			if bound[name] {
				continue
			}
			c, msg := resolve(cols, name)
			if c < 0 {
				return fail(p.pos, p.key, msg)
			}
			bound[name] = true
			b.vars = append(b.vars, boundVar{name: name, col: c})
		}
	}
	if m.keyCol != "" {
		c, msg := resolve(cols, m.keyCol)
		if c < 0 {
			return fail(m.keyPos, "key", msg)
		}
		b.key = c
	}
	return b
}

// resolve finds a column by name: the exact name first, else the one name
// that differs only in case. The message says why when there is none.
func resolve(cols []string, name string) (int, string) {
	exact, folded := -1, -1
	nExact, nFolded := 0, 0
	for i, c := range cols {
		switch {
		case c == name:
			if nExact == 0 {
				exact = i
			}
			nExact++
		case strings.EqualFold(c, name):
			if nFolded == 0 {
				folded = i
			}
			nFolded++
		}
	}
	switch {
	case nExact == 1:
		return exact, ""
	case nExact > 1:
		return -1, fmt.Sprintf("column %q appears %d times in the query's result", name, nExact)
	case nFolded == 1:
		return folded, ""
	case nFolded > 1:
		return -1, fmt.Sprintf("column %q matches %d columns of the query's result that differ only in case", name, nFolded)
	}
	return -1, fmt.Sprintf("column %q not in the query's result (columns: %s)", name, cut(strings.Join(cols, ", "), maxMessage))
}

// valuesSlab is how many records' values one allocation holds.
const valuesSlab = 64

// state is the scratch space of one goroutine's transforms.
type state struct {
	// cols is the Columns slice bind was last resolved for, compared by
	// identity so that resolving costs nothing per row.
	cols  []string
	bind  *binding
	arena arena
	vals  []sink.Value
	vm    vm.VM
	env   map[string]any
}

func (st *state) transform(m *Mapping, row Row) (sink.Record, error) {
	b := st.bind
	if b == nil || !sameSlice(row.Columns, st.cols) {
		b = m.bind(row.Columns)
		if b != st.bind {
			clear(st.env) // $env must not show the columns of an earlier binding
		}
		st.bind, st.cols = b, row.Columns
	}
	if b.err != nil {
		return sink.Record{}, b.err
	}
	for _, v := range b.vars {
		x := row.Values[v.col]
		if ve, ok := x.(*source.ValueError); ok {
			return m.failed(b, row, nil, &st.arena), ve
		}
		st.env[v.name] = exprValue(x)
	}
	if m.filter != nil {
		ok, err := st.cond(m.filter)
		if err != nil {
			return m.failed(b, row, nil, &st.arena), fmt.Errorf("filter: %w", err)
		}
		if !ok {
			return sink.Record{}, m.filtered
		}
	}

	vals := st.values(len(m.fields))
	for i := range m.fields {
		f := &m.fields[i]
		if f.when != nil {
			ok, err := st.cond(f.when)
			if err != nil {
				return m.failed(b, row, vals, &st.arena), &FieldError{Field: f.name, Err: fmt.Errorf("when: %w", err)}
			}
			if !ok {
				continue // the slab is zeroed: Absent
			}
		}
		var v any
		switch f.src {
		case srcFrom:
			v = row.Values[b.from[i]]
			if ve, ok := v.(*source.ValueError); ok {
				// The failed record shows what the source held, so
				// reports (and their scrubbing of excluded fields) see it.
				vals[i] = sink.TextValue(ve.Raw)
				return m.failed(b, row, vals, &st.arena), &FieldError{Field: f.name, Err: ve}
			}
		case srcConst:
			vals[i] = f.konst
			continue
		case srcExpr:
			out, err := st.vm.Run(f.expr.prog, st.env)
			if err != nil {
				return m.failed(b, row, vals, &st.arena), &FieldError{Field: f.name, Err: errors.New(firstLine(err.Error()))}
			}
			v = out
		}
		if v == nil {
			vals[i] = sink.Value{Kind: f.onNull}
			continue
		}
		val, err := f.conv.normalize(v, &st.arena)
		if err != nil {
			return m.failed(b, row, vals, &st.arena), &FieldError{Field: f.name, Err: err}
		}
		vals[i] = f.emptyIsNull(val)
	}

	rec := sink.Record{Layout: m.layout, Values: vals}
	if b.key >= 0 {
		rec.Key = keyText(row.Values[b.key], &st.arena)
	}
	return rec, nil
}

// failed is the record of a row that fails: its key, and the fields
// mapped before the one that failed (the rest Absent), so that reports and
// failed-rows files say which row it was.
func (m *Mapping) failed(b *binding, row Row, vals []sink.Value, a *arena) sink.Record {
	if vals == nil {
		vals = make([]sink.Value, len(m.fields))
	}
	rec := sink.Record{Layout: m.layout, Values: vals}
	if b.key >= 0 {
		rec.Key = keyText(row.Values[b.key], a)
	}
	return rec
}

// cond runs a when or filter condition. NULL counts as false, as in SQL.
func (st *state) cond(p *program) (bool, error) {
	out, err := st.vm.Run(p.prog, st.env)
	if err != nil {
		return false, errors.New(firstLine(err.Error()))
	}
	switch x := out.(type) {
	case bool:
		return x, nil
	case nil:
		return false, nil
	}
	return false, fmt.Errorf("result is %T, not bool", out)
}

// values returns n zeroed values cut from the current slab. The slice's
// capacity is its length, so appending to it cannot touch other records.
func (st *state) values(n int) []sink.Value {
	if cap(st.vals)-len(st.vals) < n {
		st.vals = make([]sink.Value, 0, max(n*valuesSlab, valuesSlab))
	}
	l := len(st.vals)
	st.vals = st.vals[:l+n]
	return st.vals[l : l+n : l+n]
}

func sameSlice(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// keyText is a key column's value as text for reports; "" for NULL or a
// value with no text form.
func keyText(v any, a *arena) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case *source.ValueError:
		return x.Raw
	}
	r, err := auto(v, a)
	if err != nil {
		return ""
	}
	return r.S
}
