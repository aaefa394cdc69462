package sftest

import (
	"strconv"
	"strings"
	"time"
)

// A small SOQL implementation: SELECT fields | COUNT() FROM object
// [WHERE condition] [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...]
// [LIMIT n] [OFFSET n], with relationship paths such as Account.Name.

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDate
	tOp
	tLParen
	tRParen
	tComma
	tColon
)

type token struct {
	kind tokKind
	text string // as written
	str  string // unescaped string literal
	pos  int
}

type soqlError struct {
	code string
	pos  int
	msg  string
}

func lexSOQL(q string) ([]token, *soqlError) {
	var toks []token
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{kind: tLParen, text: "(", pos: i})
			i++
		case c == ')':
			toks = append(toks, token{kind: tRParen, text: ")", pos: i})
			i++
		case c == ',':
			toks = append(toks, token{kind: tComma, text: ",", pos: i})
			i++
		case c == ':':
			toks = append(toks, token{kind: tColon, text: ":", pos: i})
			i++
		case c == '=':
			toks = append(toks, token{kind: tOp, text: "=", pos: i})
			i++
		case c == '!' || c == '<' || c == '>':
			j := i + 1
			if j < len(q) && (q[j] == '=' || (c == '<' && q[j] == '>')) {
				j++
			}
			op := q[i:j]
			if op == "!" {
				return nil, &soqlError{"MALFORMED_QUERY", i, "unexpected token: '!'"}
			}
			if op == "<>" {
				op = "!="
			}
			toks = append(toks, token{kind: tOp, text: op, pos: i})
			i = j
		case c == '\'':
			var sb strings.Builder
			j := i + 1
			closed := false
			for j < len(q) {
				ch := q[j]
				if ch == '\\' && j+1 < len(q) {
					switch e := q[j+1]; e {
					case 'n':
						sb.WriteByte('\n')
					case 'r':
						sb.WriteByte('\r')
					case 't':
						sb.WriteByte('\t')
					case 'b':
						sb.WriteByte('\b')
					case 'f':
						sb.WriteByte('\f')
					case '"', '\'', '\\':
						sb.WriteByte(e)
					case '_', '%':
						// Kept escaped: they only mean something to LIKE.
						sb.WriteByte('\\')
						sb.WriteByte(e)
					case 'u':
						if j+6 <= len(q) {
							if n, err := strconv.ParseUint(q[j+2:j+6], 16, 32); err == nil {
								sb.WriteRune(rune(n))
								j += 6
								continue
							}
						}
						return nil, &soqlError{"MALFORMED_QUERY", j, "Invalid string literal '" + q[i:min(len(q), j+6)] + "'. Illegal character sequence '\\u' in string literal."}
					default:
						return nil, &soqlError{"MALFORMED_QUERY", j, "Invalid string literal '" + q[i:j+2] + "'. Illegal character sequence '\\" + string(e) + "' in string literal."}
					}
					j += 2
					continue
				}
				if ch == '\'' {
					closed = true
					j++
					break
				}
				sb.WriteByte(ch)
				j++
			}
			if !closed {
				return nil, &soqlError{"MALFORMED_QUERY", i, "line 1:" + strconv.Itoa(i) + " mismatched character '<EOF>' expecting '''"}
			}
			toks = append(toks, token{kind: tString, text: q[i:j], str: sb.String(), pos: i})
			i = j
		case c >= '0' && c <= '9' || ((c == '-' || c == '+' || c == '.') && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9'):
			j := i + 1
			for j < len(q) && (q[j] >= '0' && q[j] <= '9' || q[j] == '.') {
				j++
			}
			// yyyy-mm-dd[Thh:mm:ss[.sss](Z|+hh:mm)] is a date literal.
			if j-i == 4 && j < len(q) && q[j] == '-' && c != '-' && c != '+' {
				for j < len(q) && (isAlnum(q[j]) || q[j] == '-' || q[j] == ':' || q[j] == '.' || q[j] == '+') {
					j++
				}
				toks = append(toks, token{kind: tDate, text: q[i:j], pos: i})
				i = j
				continue
			}
			if j < len(q) && (q[j] == 'e' || q[j] == 'E') {
				k := j + 1
				if k < len(q) && (q[k] == '-' || q[k] == '+') {
					k++
				}
				for k < len(q) && q[k] >= '0' && q[k] <= '9' {
					k++
				}
				j = k
			}
			toks = append(toks, token{kind: tNumber, text: q[i:j], pos: i})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(q) && (isAlnum(q[j]) || q[j] == '_' || q[j] == '.') {
				j++
			}
			toks = append(toks, token{kind: tIdent, text: q[i:j], pos: i})
			i = j
		default:
			return nil, &soqlError{"MALFORMED_QUERY", i, "unexpected token: '" + string(c) + "'"}
		}
	}
	toks = append(toks, token{kind: tEOF, text: "<EOF>", pos: len(q)})
	return toks, nil
}

// fieldPath is a resolved field reference, possibly through relationships.
type fieldPath struct {
	rels  []*fieldDef // reference fields walked, child to parent
	f     *fieldDef
	obj   *objectDef // object owning f
	names []string   // canonical names: relationship names then the field
}

type litKind uint8

const (
	litNull litKind = iota
	litString
	litNumber
	litBool
	litDate  // exact date or datetime, normalized to the stored string form
	litRange // date keyword such as TODAY: [lo, hi)
)

type literal struct {
	kind   litKind
	s      string
	n      float64
	b      bool
	lo, hi string
}

type cond interface{ isCond() }

type andCond struct{ parts []cond }
type orCond struct{ parts []cond }
type notCond struct{ c cond }
type cmpCond struct {
	path *fieldPath
	op   string // = != < <= > >= in notin like
	vals []literal
}

func (andCond) isCond() {}
func (orCond) isCond()  {}
func (notCond) isCond() {}
func (cmpCond) isCond() {}

type orderItem struct {
	path       *fieldPath
	desc       bool
	nullsFirst bool
}

// selNode is the select list as a tree: leaves are fields, inner nodes are
// relationships rendered as nested records.
type selNode struct {
	name string
	f    *fieldDef  // leaf
	rel  *fieldDef  // relationship node: the reference field
	obj  *objectDef // object of the node's children
	kids []*selNode
}

type soqlQuery struct {
	obj    *objectDef
	count  bool
	sel    *selNode
	where  cond
	order  []orderItem
	limit  int // -1: none
	offset int
}

type parser struct {
	org  *org
	toks []token
	i    int
	now  time.Time
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) kw(word string) bool {
	t := p.peek()
	if t.kind == tIdent && strings.EqualFold(t.text, word) {
		p.i++
		return true
	}
	return false
}

func unexpected(t token) *soqlError {
	if t.kind == tEOF {
		return &soqlError{"MALFORMED_QUERY", t.pos, "unexpected token: <EOF>"}
	}
	return &soqlError{"MALFORMED_QUERY", t.pos, "unexpected token: '" + t.text + "'"}
}

func (p *parser) expectKW(word string) *soqlError {
	if !p.kw(word) {
		return unexpected(p.peek())
	}
	return nil
}

var reserved = map[string]bool{"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "NOT": true,
	"IN": true, "LIKE": true, "ORDER": true, "BY": true, "LIMIT": true, "OFFSET": true, "NULL": true, "TRUE": true,
	"FALSE": true, "ASC": true, "DESC": true, "NULLS": true, "GROUP": true, "HAVING": true}

func parseSOQL(o *org, q string, now time.Time) (*soqlQuery, *soqlError) {
	toks, err := lexSOQL(q)
	if err != nil {
		return nil, err
	}
	p := &parser{org: o, toks: toks, now: now}
	if err := p.expectKW("SELECT"); err != nil {
		return nil, err
	}
	var fields []token
	count := false
	if t := p.peek(); t.kind == tIdent && strings.EqualFold(t.text, "COUNT") && p.toks[p.i+1].kind == tLParen {
		p.i += 2
		if p.peek().kind == tIdent {
			return nil, &soqlError{"MALFORMED_QUERY", p.peek().pos, "Aggregate functions other than COUNT() are not supported"}
		}
		if p.next().kind != tRParen {
			return nil, unexpected(p.toks[p.i-1])
		}
		count = true
	} else {
		for {
			t := p.next()
			if t.kind == tLParen {
				return nil, &soqlError{"MALFORMED_QUERY", t.pos, "Subqueries are not supported"}
			}
			if t.kind != tIdent || reserved[strings.ToUpper(t.text)] {
				return nil, unexpected(t)
			}
			if p.peek().kind == tLParen {
				return nil, &soqlError{"MALFORMED_QUERY", t.pos, "Aggregate functions other than COUNT() are not supported"}
			}
			fields = append(fields, t)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if err := p.expectKW("FROM"); err != nil {
		return nil, err
	}
	ot := p.next()
	if ot.kind != tIdent || reserved[strings.ToUpper(ot.text)] {
		return nil, unexpected(ot)
	}
	obj := o.object(ot.text)
	if obj == nil {
		return nil, &soqlError{"INVALID_TYPE", ot.pos, "sObject type '" + ot.text + "' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."}
	}
	sq := &soqlQuery{obj: obj, count: count, limit: -1, sel: &selNode{obj: obj}}
	for _, ft := range fields {
		fp, err := p.resolve(obj, ft)
		if err != nil {
			return nil, err
		}
		sq.sel.add(fp)
	}
	if p.kw("WHERE") {
		c, err := p.parseCond()
		if err != nil {
			return nil, err
		}
		sq.where = c
	}
	if p.kw("ORDER") {
		if err := p.expectKW("BY"); err != nil {
			return nil, err
		}
		for {
			t := p.next()
			if t.kind != tIdent || reserved[strings.ToUpper(t.text)] {
				return nil, unexpected(t)
			}
			fp, err := p.resolve(obj, t)
			if err != nil {
				return nil, err
			}
			it := orderItem{path: fp, nullsFirst: true}
			if p.kw("DESC") {
				it.desc = true
			} else {
				p.kw("ASC")
			}
			if p.kw("NULLS") {
				switch {
				case p.kw("FIRST"):
				case p.kw("LAST"):
					it.nullsFirst = false
				default:
					return nil, unexpected(p.peek())
				}
			}
			sq.order = append(sq.order, it)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if p.kw("LIMIT") {
		n, err := p.intLit()
		if err != nil {
			return nil, err
		}
		sq.limit = n
	}
	if p.kw("OFFSET") {
		n, err := p.intLit()
		if err != nil {
			return nil, err
		}
		if n > 2000 {
			return nil, &soqlError{"NUMBER_OUTSIDE_VALID_RANGE", p.toks[p.i-1].pos, "Maximum SOQL offset allowed is 2000"}
		}
		sq.offset = n
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, unexpected(t)
	}
	return sq, nil
}

func (p *parser) intLit() (int, *soqlError) {
	t := p.next()
	if t.kind != tNumber {
		return 0, unexpected(t)
	}
	n, err := strconv.Atoi(t.text)
	if err != nil || n < 0 {
		return 0, unexpected(t)
	}
	return n, nil
}

func (n *selNode) add(fp *fieldPath) {
	cur := n
	for i, rel := range fp.rels {
		var child *selNode
		for _, k := range cur.kids {
			if k.rel == rel {
				child = k
			}
		}
		if child == nil {
			child = &selNode{name: fp.names[i], rel: rel, obj: cur.obj.relTarget(rel)}
			cur.kids = append(cur.kids, child)
		}
		cur = child
	}
	for _, k := range cur.kids {
		if k.f == fp.f {
			return
		}
	}
	cur.kids = append(cur.kids, &selNode{name: fp.f.Name, f: fp.f})
}

// relTarget is set while resolving paths; see resolve.
func (o *objectDef) relTarget(rel *fieldDef) *objectDef { return rel.target }

func (p *parser) resolve(obj *objectDef, t token) (*fieldPath, *soqlError) {
	parts := strings.Split(t.text, ".")
	if len(parts) > 1 && strings.EqualFold(parts[0], obj.name) && obj.relationship(parts[0]) == nil {
		parts = parts[1:]
	}
	fp := &fieldPath{}
	cur := obj
	for i, part := range parts {
		if i == len(parts)-1 {
			f := cur.field(part)
			if f == nil {
				return nil, &soqlError{"INVALID_FIELD", t.pos, "No such column '" + part + "' on entity '" + cur.name + "'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."}
			}
			fp.f, fp.obj = f, cur
			fp.names = append(fp.names, f.Name)
			break
		}
		rel := cur.relationship(part)
		if rel == nil {
			return nil, &soqlError{"INVALID_FIELD", t.pos, "Didn't understand relationship '" + part + "' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."}
		}
		fp.rels = append(fp.rels, rel)
		fp.names = append(fp.names, rel.RelationshipName)
		cur = rel.target
	}
	return fp, nil
}

func (p *parser) parseCond() (cond, *soqlError) {
	first, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	var mode string
	parts := []cond{first}
	for {
		t := p.peek()
		if t.kind != tIdent {
			break
		}
		w := strings.ToUpper(t.text)
		if w != "AND" && w != "OR" {
			break
		}
		// SOQL refuses to mix AND and OR without parentheses.
		if mode != "" && mode != w {
			return nil, unexpected(t)
		}
		mode = w
		p.next()
		c, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		parts = append(parts, c)
	}
	switch mode {
	case "AND":
		return andCond{parts}, nil
	case "OR":
		return orCond{parts}, nil
	}
	return first, nil
}

func (p *parser) parseUnary() (cond, *soqlError) {
	if p.kw("NOT") {
		c, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return notCond{c}, nil
	}
	if p.peek().kind == tLParen {
		p.next()
		c, err := p.parseCond()
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tRParen {
			return nil, unexpected(t)
		}
		return c, nil
	}
	ft := p.next()
	if ft.kind != tIdent || reserved[strings.ToUpper(ft.text)] {
		return nil, unexpected(ft)
	}
	fp, err := p.resolve(p.rootObject(), ft)
	if err != nil {
		return nil, err
	}
	c := cmpCond{path: fp}
	t := p.next()
	switch {
	case t.kind == tOp:
		c.op = t.text
		v, err := p.parseValue(fp)
		if err != nil {
			return nil, err
		}
		c.vals = []literal{v}
	case t.kind == tIdent && strings.EqualFold(t.text, "LIKE"):
		c.op = "like"
		v, err := p.parseValue(fp)
		if err != nil {
			return nil, err
		}
		if v.kind != litString || !fp.f.isText() {
			return nil, &soqlError{"INVALID_FIELD", t.pos, "invalid operator on " + fp.f.Name + ": LIKE needs a text field and a string"}
		}
		c.vals = []literal{v}
	case t.kind == tIdent && (strings.EqualFold(t.text, "IN") || strings.EqualFold(t.text, "NOT")):
		c.op = "in"
		if strings.EqualFold(t.text, "NOT") {
			if err := p.expectKW("IN"); err != nil {
				return nil, err
			}
			c.op = "notin"
		}
		if lp := p.next(); lp.kind != tLParen {
			return nil, unexpected(lp)
		}
		if p.peek().kind == tIdent && strings.EqualFold(p.peek().text, "SELECT") {
			return nil, &soqlError{"MALFORMED_QUERY", p.peek().pos, "Semi-join subqueries are not supported"}
		}
		for {
			v, err := p.parseValue(fp)
			if err != nil {
				return nil, err
			}
			c.vals = append(c.vals, v)
			sep := p.next()
			if sep.kind == tRParen {
				break
			}
			if sep.kind != tComma {
				return nil, unexpected(sep)
			}
		}
	default:
		return nil, unexpected(t)
	}
	return c, nil
}

// rootObject is the FROM object; conditions resolve against it.
func (p *parser) rootObject() *objectDef {
	for i := 0; i < len(p.toks)-1; i++ {
		if p.toks[i].kind == tIdent && strings.EqualFold(p.toks[i].text, "FROM") {
			return p.org.object(p.toks[i+1].text)
		}
	}
	return nil
}

func typeErr(fp *fieldPath, t token, want string) *soqlError {
	return &soqlError{"INVALID_FIELD", t.pos, "value of filter criterion for field '" + fp.f.Name + "' must be of type " + want + " and should not be enclosed in quotes"}
}

func (p *parser) parseValue(fp *fieldPath) (literal, *soqlError) {
	t := p.next()
	f := fp.f
	switch t.kind {
	case tString:
		switch {
		case f.Type == TypeID || f.Type == TypeReference:
			if id, ok := normalizeID(t.str); ok {
				return literal{kind: litString, s: id}, nil
			}
			if t.str == "" {
				return literal{kind: litNull}, nil
			}
			return literal{}, &soqlError{"INVALID_QUERY_FILTER_OPERATOR", t.pos, "invalid ID field: " + t.str}
		case f.isText():
			return literal{kind: litString, s: t.str}, nil
		}
		want := string(f.Type)
		if f.Type == TypeDateTime {
			want = "dateTime"
		}
		if f.isNumber() {
			want = "double"
		}
		return literal{}, typeErr(fp, t, want)
	case tNumber:
		if !f.isNumber() {
			return literal{}, &soqlError{"INVALID_FIELD", t.pos, "value of filter criterion for field '" + f.Name + "' must be of type " + string(f.Type) + " and should be enclosed in quotes"}
		}
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return literal{}, unexpected(t)
		}
		return literal{kind: litNumber, n: n}, nil
	case tDate:
		switch f.Type {
		case TypeDate:
			if d, ok := parseDate(t.text); ok {
				return literal{kind: litDate, s: d}, nil
			}
		case TypeDateTime:
			if d, ok := parseDateTime(t.text); ok && strings.ContainsAny(t.text[10:], "Z+-") {
				return literal{kind: litDate, s: d}, nil
			}
		default:
			return literal{}, &soqlError{"INVALID_FIELD", t.pos, "value of filter criterion for field '" + f.Name + "' must be of type " + string(f.Type) + " and should be enclosed in quotes"}
		}
		return literal{}, &soqlError{"INVALID_FIELD", t.pos, "line 1:" + strconv.Itoa(t.pos) + " no viable alternative at character ' '; invalid date literal " + t.text}
	case tIdent:
		w := strings.ToUpper(t.text)
		switch w {
		case "NULL":
			return literal{kind: litNull}, nil
		case "TRUE", "FALSE":
			if f.Type != TypeBoolean {
				return literal{}, typeErr(fp, t, string(f.Type))
			}
			return literal{kind: litBool, b: w == "TRUE"}, nil
		}
		if f.Type == TypeDate || f.Type == TypeDateTime {
			return p.dateKeyword(f, t)
		}
	}
	return literal{}, unexpected(t)
}

func (p *parser) dateKeyword(f *fieldDef, t token) (literal, *soqlError) {
	today := time.Date(p.now.UTC().Year(), p.now.UTC().Month(), p.now.UTC().Day(), 0, 0, 0, 0, time.UTC)
	from, days := today, 1
	w := strings.ToUpper(t.text)
	switch w {
	case "TODAY":
	case "YESTERDAY":
		from = today.AddDate(0, 0, -1)
	case "TOMORROW":
		from = today.AddDate(0, 0, 1)
	case "LAST_N_DAYS", "NEXT_N_DAYS":
		if p.next().kind != tColon {
			return literal{}, unexpected(p.toks[p.i-1])
		}
		n, err := p.intLit()
		if err != nil {
			return literal{}, err
		}
		if w == "LAST_N_DAYS" {
			from, days = today.AddDate(0, 0, -n), n+1
		} else {
			from, days = today.AddDate(0, 0, 1), n
		}
	default:
		return literal{}, unexpected(t)
	}
	to := from.AddDate(0, 0, days)
	if f.Type == TypeDate {
		return literal{kind: litRange, lo: from.Format(dateLayout), hi: to.Format(dateLayout)}, nil
	}
	return literal{kind: litRange, lo: formatDateTime(from), hi: formatDateTime(to)}, nil
}

// errorMessage renders a query error the way the REST API does: the query,
// a caret under the offending column, the position and the reason.
func (e *soqlError) message(q string) string {
	row, col, lineStart := 1, 1, 0
	for i := 0; i < e.pos && i < len(q); i++ {
		if q[i] == '\n' {
			row++
			lineStart = i + 1
		}
	}
	col = e.pos - lineStart + 1
	line := q[lineStart:]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	return "\n" + line + "\n" + strings.Repeat(" ", col-1) + "^\nERROR at Row:" + strconv.Itoa(row) + ":Column:" + strconv.Itoa(col) + "\n" + e.msg
}
