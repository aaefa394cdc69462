package transform

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/expr-lang/expr/ast"
)

// NULL in expressions (docs/expressions.md, "NULL").
//
// expr-lang fails on most operations with a nil operand ("invalid
// operation: <nil> < int"), while a warehouse column is NULL often. The
// nullPatch rewrites a compiled expression's tree so that NULL behaves as
// in SQL:
//
//   - an operator other than ==, !=, ??, in (on its left), and, or and not
//     gives NULL when an operand is NULL: ordering comparisons, arithmetic,
//     string concatenation, contains, startsWith, endsWith, matches, ..;
//   - and, or and not follow SQL's three-valued logic, keeping their
//     short-circuit;
//   - a ternary or if/else whose condition is NULL takes the else branch,
//     as SQL's CASE does;
//   - a built-in function (except type) given NULL as an argument returns
//     NULL, and so do a member, index, slice or method of NULL;
//   - == and != compare NULL as a value, so X == nil tests for NULL, and
//     in compares with ==.
//
// Only operands whose type is not known at compile time can be NULL
// (columns, and what is computed from them), so an operation on literals
// or on results of a known type is left as expr-lang compiles it.
//
// The guard around an operation is built from expr-lang's own nodes: the
// nullable operands are bound once with let, a typed helper tests them
// (OpCallTyped: no allocation), and the operation itself is kept as it
// was, so its errors and their positions are expr-lang's.
type nullPatch struct {
	// vars numbers the let variables the patch declares. Their names hold
	// a space, which no expression can spell, so they never meet a
	// column or a user's let.
	vars int
}

// Visit is called bottom-up (ast.Walk visits children first), so the
// operands of a node are already patched when the node is visited.
func (p *nullPatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		p.binary(node, n)
	case *ast.UnaryNode:
		if !nullable(n.Node) {
			return
		}
		switch n.Operator {
		case "not", "!":
			*node = p.call(n, not3, n.Node)
		default: // - and +
			p.guard(node, &n.Node)
		}
	case *ast.ConditionalNode:
		if nullable(n.Cond) {
			n.Cond = p.call(n.Cond, isTrue, n.Cond)
		}
	case *ast.BuiltinNode:
		if n.Name == "type" {
			return // type(nil) is "nil": it is how an expression asks
		}
		var args []*ast.Node
		for i, a := range n.Arguments {
			if _, pred := a.(*ast.PredicateNode); !pred && nullable(a) {
				args = append(args, &n.Arguments[i])
			}
		}
		p.guard(node, args...)
	case *ast.CallNode:
		// A method of NULL (date(X).Year() with X NULL) is NULL. A function
		// a program adds (WithExprOptions) is called with NULL as given.
		if m, ok := n.Callee.(*ast.MemberNode); ok && nullable(m.Node) {
			p.guard(node, &m.Node)
		}
	case *ast.MemberNode:
		if !n.Method && nullable(n.Node) {
			p.guard(node, &n.Node)
		}
	case *ast.SliceNode:
		if nullable(n.Node) {
			p.guard(node, &n.Node)
		}
	}
}

func (p *nullPatch) binary(node *ast.Node, n *ast.BinaryNode) {
	l, r := nullable(n.Left), nullable(n.Right)
	if !l && !r {
		return
	}
	switch n.Operator {
	case "==", "!=", "??":
		return
	case "in":
		// The left side is compared with ==; a NULL list has no members
		// to compare with.
		if r {
			p.guard(node, &n.Right)
		}
		return
	case "and", "&&":
		// let a = L; notFalse(a) ? and3(a, R) : false
		p.logic(node, n, notFalse, and3, false)
		return
	case "or", "||":
		// let a = L; notTrue(a) ? or3(a, R) : true
		p.logic(node, n, notTrue, or3, true)
		return
	}
	var ops []*ast.Node
	if l {
		ops = append(ops, &n.Left)
	}
	if r {
		ops = append(ops, &n.Right)
	}
	p.guard(node, ops...)
}

// logic replaces a three-valued and/or: the left operand is evaluated
// once, and the right one only when the left does not decide.
func (p *nullPatch) logic(node *ast.Node, n *ast.BinaryNode, undecided func(any) bool, combine func(any, any) any, decided bool) {
	name := p.name()
	left := p.ident(n, name)
	cond := &ast.ConditionalNode{
		Ternary: true,
		Cond:    p.call(n, undecided, left),
		Exp1:    p.call(n, combine, p.ident(n, name), n.Right),
		Exp2:    p.loc(n, &ast.BoolNode{Value: decided}),
	}
	p.set(node, p.loc(n, &ast.VariableDeclaratorNode{Name: name, Value: n.Left, Expr: p.loc(n, cond)}))
}

// guard replaces *node by
//
//	let a = OP1; let b = OP2; isNil(a) || isNil(b) ? null() : node
//
// where node now reads a and b. The NULL branch has type any, so that the
// checker does not type the whole as the operation's type and the
// compiler does not pick an opcode that assumes it (OpEqualInt).
func (p *nullPatch) guard(node *ast.Node, operands ...*ast.Node) {
	if len(operands) == 0 {
		return
	}
	at := *node
	names := make([]string, len(operands))
	values := make([]ast.Node, len(operands))
	var cond ast.Node
	for i, op := range operands {
		names[i], values[i] = p.name(), *op
		*op = p.ident(at, names[i])
		test := p.call(at, isNil, p.ident(at, names[i]))
		if cond == nil {
			cond = test
		} else {
			cond = p.loc(at, &ast.BinaryNode{Operator: "||", Left: cond, Right: test})
		}
	}
	var out ast.Node = p.loc(at, &ast.ConditionalNode{Ternary: true, Cond: cond, Exp1: p.call(at, null), Exp2: at})
	for i := len(names) - 1; i >= 0; i-- {
		out = p.loc(at, &ast.VariableDeclaratorNode{Name: names[i], Value: values[i], Expr: out})
	}
	p.set(node, out)
}

// set puts out in place of *node, keeping the node's position.
func (p *nullPatch) set(node *ast.Node, out ast.Node) {
	ast.Patch(node, out)
}

func (p *nullPatch) name() string {
	p.vars++
	return " null" + strconv.Itoa(p.vars)
}

func (p *nullPatch) ident(at ast.Node, name string) ast.Node {
	return p.loc(at, &ast.IdentifierNode{Value: name})
}

// call calls fn, one of the helpers below, as a constant: expr-lang then
// calls it through OpCallTyped, with no argument slice to allocate.
func (p *nullPatch) call(at ast.Node, fn any, args ...ast.Node) ast.Node {
	return p.loc(at, &ast.CallNode{Callee: p.loc(at, &ast.ConstantNode{Value: fn}), Arguments: args})
}

// loc gives n the position of at, so that an error in it points to the
// operation the user wrote.
func (p *nullPatch) loc(at ast.Node, n ast.Node) ast.Node {
	n.SetLocation(at.Location())
	return n
}

// nullable reports whether n's value may be nil at run time: its type is
// not known (a column, $env.X, or what is computed from them) or is nil.
func nullable(n ast.Node) bool {
	t := n.Type()
	return t == nil || t.Kind() == reflect.Interface
}

// The helpers the patched tree calls. Their signatures are among those
// expr-lang calls without reflection (func(any) bool, func(any, any) any,
// func(any) any, func() any).
var (
	isNil = func(v any) bool { return v == nil }
	null  = func() any { return nil }

	// isTrue is a condition of ? : or if/else: NULL takes the else branch.
	isTrue = func(v any) bool {
		switch b := v.(type) {
		case bool:
			return b
		case nil:
			return false
		}
		panic(logicError("condition", v))
	}

	// notFalse says whether and must look at its right operand.
	notFalse = func(v any) bool {
		switch b := v.(type) {
		case bool:
			return b
		case nil:
			return true
		}
		panic(logicError("and", v))
	}

	// notTrue says whether or must look at its right operand.
	notTrue = func(v any) bool {
		switch b := v.(type) {
		case bool:
			return !b
		case nil:
			return true
		}
		panic(logicError("or", v))
	}

	// and3 is a and b where a is true or NULL.
	and3 = func(a, b any) any {
		switch y := b.(type) {
		case bool:
			if !y {
				return false
			}
			return a
		case nil:
			return nil
		}
		panic(logicError("and", b))
	}

	// or3 is a or b where a is false or NULL.
	or3 = func(a, b any) any {
		switch y := b.(type) {
		case bool:
			if y {
				return true
			}
			return a
		case nil:
			return nil
		}
		panic(logicError("or", b))
	}

	not3 = func(v any) any {
		switch b := v.(type) {
		case bool:
			return !b
		case nil:
			return nil
		}
		panic(logicError("not", v))
	}
)

// logicError is the run-time error of a logical operator or a condition
// given a value that is neither a bool nor NULL. The VM recovers it and
// adds the expression's position.
func logicError(op string, v any) error {
	return fmt.Errorf("%s: operand is %T, not bool", op, v)
}
