package transform

import (
	"math/big"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/source"
)

// program is one compiled expression of a sync (a field's expr or when, or
// the filter) and the column names it reads.
type program struct {
	prog *vm.Program
	pos  config.Pos
	key  string
	// names are the identifiers the expression reads from the row, as
	// written; they are matched to columns when the columns are known.
	names []string
	// env says the expression uses $env, which then holds every column
	// under the query's name for it.
	env bool
}

// compileExpr compiles code once for all rows. Columns are only known at
// the first row, so names are left open here (AllowUndefinedVariables) and
// checked against the columns then; everything else (syntax, unknown
// functions, a condition that cannot be a bool) fails now, at load time.
//
// The env is typed map[string]any so that the VM reads a name with one map
// lookup and no reflection.
func compileExpr(code string, cond bool, pos config.Pos, key string, user []expr.Option) (*program, error) {
	opts := make([]expr.Option, 0, len(user)+3)
	opts = append(opts, user...)
	opts = append(opts, expr.Env(map[string]any{}), expr.AllowUndefinedVariables(), expr.Patch(&nullPatch{}))
	fail := func(msg string) error { return &CompileError{Pos: pos, Key: key, Msg: msg} }
	if strings.TrimSpace(code) == "" {
		return nil, fail("expression is empty")
	}

	// Parse under the same configuration as the compiler, to list the names read.
	cfg := conf.CreateNew()
	for _, o := range opts {
		o(cfg)
	}
	for name := range cfg.Disabled {
		delete(cfg.Builtins, name)
	}
	tree, err := parser.ParseWithConfig(code, cfg)
	if err != nil {
		return nil, fail(firstLine(err.Error()))
	}
	if cond {
		// AsBool rejects a condition whose type is known not to be bool;
		// the program it makes is not kept, because its cast would fail a
		// NULL result, which a condition treats as false.
		if _, err := expr.Compile(code, append(opts[:len(opts):len(opts)], expr.AsBool())...); err != nil {
			return nil, fail(firstLine(err.Error()))
		}
	}
	prog, err := expr.Compile(code, opts...)
	if err != nil {
		return nil, fail(firstLine(err.Error()))
	}

	c := &nameCollector{callees: map[*ast.IdentifierNode]bool{}, lets: map[string]bool{}}
	ast.Walk(&tree.Node, c)
	p := &program{prog: prog, pos: pos, key: key}
	seen := map[string]bool{}
	for _, id := range c.idents {
		if c.callees[id] {
			if cfg.Functions[id.Value] == nil && cfg.Builtins[id.Value] == nil {
				return nil, fail("unknown function " + id.Value)
			}
			continue
		}
		name := id.Value
		if name == "$env" {
			p.env = true
			continue
		}
		if c.lets[name] || seen[name] {
			continue
		}
		seen[name] = true
		p.names = append(p.names, name)
	}
	return p, nil
}

// nameCollector gathers the identifiers of an expression, telling apart
// function names and variables declared with let.
type nameCollector struct {
	idents  []*ast.IdentifierNode
	callees map[*ast.IdentifierNode]bool
	lets    map[string]bool
}

func (c *nameCollector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		c.idents = append(c.idents, n)
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			c.callees[id] = true
		}
	case *ast.VariableDeclaratorNode:
		c.lets[n.Name] = true
	}
}

// exprValue is how a column value looks to expressions. Decimals and wide
// integers become float64, so that arithmetic and comparisons with number
// literals work; they lose digits beyond float64's precision, which is why
// a field copied with from keeps the exact text instead. Dates, times of
// day and JSON become plain strings (yyyy-mm-dd compares in date order;
// date() and fromJSON() parse them).
func exprValue(v any) any {
	switch x := v.(type) {
	case source.Decimal:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return string(x)
		}
		return f
	case *big.Int:
		if x == nil {
			return nil
		}
		f, _ := new(big.Float).SetInt(x).Float64()
		return f
	case source.Date:
		return string(x)
	case source.TimeOfDay:
		return string(x)
	case source.JSON:
		return string(x)
	}
	return v
}

// maxMessage bounds a row error's message taken from an expression.
const maxMessage = 200

// firstLine keeps an expression error's first line, which holds the
// message and position; the rest is a source snippet.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return cut(s, maxMessage)
}
