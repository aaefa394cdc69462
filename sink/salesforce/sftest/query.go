package sftest

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// cursor holds the rest of a query's result set for nextRecordsUrl paging.
type cursor struct {
	q     *soqlQuery
	rows  []record // snapshot: values are immutable, so a shallow copy is a stable view
	batch int
	all   bool
}

// value walks a path from a record and returns the field value (nil when a
// relationship on the way is empty).
func (o *org) value(obj *objectDef, r *record, fp *fieldPath) any {
	cur, tbl := r, obj.tbl
	for _, rel := range fp.rels {
		id, _ := cur.val(rel).(string)
		if id == "" {
			return nil
		}
		tbl = rel.target.tbl
		cur = tbl.byID[id]
		if cur == nil || cur.deleted {
			return nil
		}
	}
	return tbl.get(cur, fp.f)
}

func likeMatch(pattern, s string) bool {
	// Translate to a simple matcher over runes; % = any run, _ = one rune.
	p := []rune(strings.ToLower(pattern))
	t := []rune(strings.ToLower(s))
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for i < len(p) {
			switch c := p[i]; {
			case c == '\\' && i+1 < len(p):
				if j >= len(t) || t[j] != p[i+1] {
					return false
				}
				i, j = i+2, j+1
			case c == '%':
				for k := j; k <= len(t); k++ {
					if match(i+1, k) {
						return true
					}
				}
				return false
			case c == '_':
				if j >= len(t) {
					return false
				}
				i, j = i+1, j+1
			default:
				if j >= len(t) || t[j] != c {
					return false
				}
				i, j = i+1, j+1
			}
		}
		return j == len(t)
	}
	return match(0, 0)
}

// compareVal orders two non-nil stored values of the same field.
func compareVal(f *fieldDef, a, b any) int {
	switch x := a.(type) {
	case string:
		y, _ := b.(string)
		if f.isText() && !f.CaseSensitive {
			return strings.Compare(strings.ToLower(x), strings.ToLower(y))
		}
		return strings.Compare(x, y)
	case float64:
		y, _ := b.(float64)
		return cmp.Compare(x, y)
	case bool:
		y, _ := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	return 0
}

func litValue(l literal) any {
	switch l.kind {
	case litString, litDate:
		return l.s
	case litNumber:
		return l.n
	case litBool:
		return l.b
	}
	return nil
}

func (o *org) matchCmp(obj *objectDef, r *record, c cmpCond) bool {
	v := o.value(obj, r, c.path)
	f := c.path.f
	one := func(op string, l literal) bool {
		if l.kind == litNull {
			switch op {
			case "=":
				return v == nil
			case "!=":
				return v != nil
			}
			return false
		}
		if v == nil {
			return op == "!="
		}
		if l.kind == litRange {
			s, _ := v.(string)
			switch op {
			case "=":
				return s >= l.lo && s < l.hi
			case "!=":
				return s < l.lo || s >= l.hi
			case "<":
				return s < l.lo
			case "<=":
				return s < l.hi
			case ">":
				return s >= l.hi
			case ">=":
				return s >= l.lo
			}
			return false
		}
		if op == "like" {
			s, _ := v.(string)
			return likeMatch(l.s, s)
		}
		d := compareVal(f, v, litValue(l))
		switch op {
		case "=":
			return d == 0
		case "!=":
			return d != 0
		case "<":
			return d < 0
		case "<=":
			return d <= 0
		case ">":
			return d > 0
		case ">=":
			return d >= 0
		}
		return false
	}
	switch c.op {
	case "in", "notin":
		hit := false
		for _, l := range c.vals {
			if one("=", l) {
				hit = true
				break
			}
		}
		if c.op == "notin" {
			return !hit
		}
		return hit
	}
	return one(c.op, c.vals[0])
}

func (o *org) match(obj *objectDef, r *record, c cond) bool {
	switch x := c.(type) {
	case nil:
		return true
	case andCond:
		for _, p := range x.parts {
			if !o.match(obj, r, p) {
				return false
			}
		}
		return true
	case orCond:
		for _, p := range x.parts {
			if o.match(obj, r, p) {
				return true
			}
		}
		return false
	case notCond:
		return !o.match(obj, r, x.c)
	case cmpCond:
		return o.matchCmp(obj, r, x)
	}
	return false
}

// indexedCond returns a condition of the WHERE clause that an index can
// answer: Id or an indexed field compared with = or IN, at the top level or
// in a top-level AND.
func indexedCond(where cond, all bool) (cmpCond, bool) {
	usable := func(c cmpCond) bool {
		if (c.op != "=" && c.op != "in") || len(c.path.rels) > 0 {
			return false
		}
		for _, l := range c.vals {
			if l.kind == litNull || l.kind == litRange {
				return false
			}
		}
		f := c.path.f
		if f.sys == sysID {
			return true
		}
		// The index must compare as SOQL does (text ignores case unless the
		// field is case-sensitive) and hold every record the query may see
		// (deleted records leave the index).
		return indexed(f) && !all && (!f.isText() || foldsCase(f) || f.CaseSensitive)
	}
	switch x := where.(type) {
	case cmpCond:
		return x, usable(x)
	case andCond:
		for _, p := range x.parts {
			if c, ok := p.(cmpCond); ok && usable(c) {
				return c, true
			}
		}
	}
	return cmpCond{}, false
}

// candidates looks the records an indexed condition can match up by index,
// in creation order; the whole WHERE clause still decides.
func (o *org) candidates(t *table, c cmpCond) []*record {
	seen := map[*record]bool{}
	var out []*record
	for _, l := range c.vals {
		v := litValue(l)
		var found []*record
		if c.path.f.sys == sysID {
			s, _ := v.(string)
			if r := t.byID[s]; r != nil {
				found = []*record{r}
			}
		} else {
			// Read without creating: queries hold the org for reading, and
			// a field without an index has no value on any record.
			if ix := t.idx[c.path.f]; ix != nil {
				found = ix.lookup(indexKey(c.path.f, v))
			}
		}
		for _, r := range found {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	slices.SortFunc(out, func(a, b *record) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// run evaluates a query to a snapshot. Callers hold o.mu for reading.
func (o *org) run(q *soqlQuery, all bool) []record {
	var rows []record
	recs := q.obj.tbl.recs
	if c, ok := indexedCond(q.where, all); ok {
		// Id and external id lookups use the index, as Salesforce's
		// query optimizer does, instead of scanning the object.
		recs = o.candidates(q.obj.tbl, c)
	}
	for _, r := range recs {
		if r.purged || (r.deleted && !all) {
			continue
		}
		if o.match(q.obj, r, q.where) {
			rows = append(rows, *r)
		}
	}
	if len(q.order) > 0 {
		slices.SortStableFunc(rows, func(a, b record) int {
			for _, it := range q.order {
				va, vb := o.value(q.obj, &a, it.path), o.value(q.obj, &b, it.path)
				var d int
				switch {
				case va == nil && vb == nil:
					d = 0
				case va == nil || vb == nil:
					d = 1
					if (va == nil) == it.nullsFirst {
						d = -1
					}
					if d != 0 {
						return d
					}
				default:
					d = compareVal(it.path.f, va, vb)
					if it.desc {
						d = -d
					}
				}
				if d != 0 {
					return d
				}
			}
			return 0
		})
	}
	if q.offset > 0 {
		rows = rows[min(q.offset, len(rows)):]
	}
	if q.limit >= 0 && len(rows) > q.limit {
		rows = rows[:q.limit]
	}
	return rows
}

func (s *Server) renderNode(b []byte, c *reqCtx, n *selNode, obj *objectDef, r *record) []byte {
	b = append(b, `{"attributes":{"type":`...)
	b = appendJSONString(b, obj.name)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, c.base()+"/sobjects/"+obj.name+"/"+r.id)
	b = append(b, '}')
	for _, k := range n.kids {
		b = append(b, ',')
		b = appendJSONString(b, k.name)
		b = append(b, ':')
		if k.f != nil {
			b = appendJSONValue(b, k.f, obj.tbl.get(r, k.f))
			continue
		}
		id, _ := r.val(k.rel).(string)
		parent := k.obj.tbl.byID[id]
		if id == "" || parent == nil || parent.deleted {
			b = append(b, "null"...)
			continue
		}
		b = s.renderNode(b, c, k, k.obj, parent)
	}
	return append(b, '}')
}

func (s *Server) handleQuery(c *reqCtx, all bool) {
	if c.r.Method != http.MethodGet {
		methodNotAllowed(c.w, c.r.Method, "GET", "HEAD")
		return
	}
	switch len(c.segs) {
	case 1:
		s.startQuery(c, all)
	case 2:
		s.nextPage(c, c.segs[1])
	default:
		writeErrors(c.w, http.StatusNotFound, errNotFound)
	}
}

func (s *Server) startQuery(c *reqCtx, all bool) {
	q := c.r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		writeErrors(c.w, http.StatusBadRequest, newErr("MALFORMED_QUERY", "A query string has to be specified"))
		return
	}
	s.org.mu.RLock()
	sq, err := parseSOQL(s.org, q, s.org.now())
	if err != nil {
		s.org.mu.RUnlock()
		writeErrors(c.w, http.StatusBadRequest, newErr(err.code, err.message(q)))
		return
	}
	rows := s.org.run(sq, all)
	s.org.mu.RUnlock()
	if sq.count {
		writeJSON(c.w, http.StatusOK, map[string]any{"totalSize": len(rows), "done": true, "records": []any{}})
		return
	}
	batch := s.cfg.queryBatch
	if opt := c.r.Header.Get("Sforce-Query-Options"); opt != "" {
		for _, part := range strings.Split(opt, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.EqualFold(k, "batchSize") {
				if n, err := strconv.Atoi(v); err == nil {
					batch = min(max(n, 200), 2000)
				}
			}
		}
	}
	cur := &cursor{q: sq, rows: rows, batch: batch, all: all}
	s.writePage(c, cur, "", 0)
}

// maxCursors bounds the open query cursors, like the per-user cap
// Salesforce applies; the oldest are invalidated first.
const maxCursors = 50

func (s *Server) nextPage(c *reqCtx, locator string) {
	id, offs, _ := strings.Cut(locator, "-")
	start, err := strconv.Atoi(offs)
	s.mu.Lock()
	cur := s.cursors[id]
	s.mu.Unlock()
	if cur == nil || err != nil || start < 0 || start > len(cur.rows) {
		writeErrors(c.w, http.StatusBadRequest, newErr("INVALID_QUERY_LOCATOR", "invalid query locator"))
		return
	}
	s.writePage(c, cur, id, start)
}

// writePage renders rows [start, start+batch). The locator carries the
// offset, so fetching the same nextRecordsUrl twice returns the same page.
func (s *Server) writePage(c *reqCtx, cur *cursor, id string, start int) {
	end := min(start+cur.batch, len(cur.rows))
	done := end >= len(cur.rows)
	if !done && id == "" {
		s.mu.Lock()
		id = s.org.ids.next("01g")
		s.cursors[id] = cur
		s.cursorIDs = append(s.cursorIDs, id)
		if len(s.cursorIDs) > maxCursors {
			delete(s.cursors, s.cursorIDs[0])
			s.cursorIDs = s.cursorIDs[1:]
		}
		s.mu.Unlock()
	}

	b := make([]byte, 0, 256*(end-start)+128)
	b = append(b, `{"totalSize":`...)
	b = strconv.AppendInt(b, int64(len(cur.rows)), 10)
	b = append(b, `,"done":`...)
	b = strconv.AppendBool(b, done)
	if !done {
		kind := "query"
		if cur.all {
			kind = "queryAll"
		}
		b = append(b, `,"nextRecordsUrl":`...)
		b = appendJSONString(b, c.base()+"/"+kind+"/"+id+"-"+strconv.Itoa(end))
	}
	b = append(b, `,"records":[`...)
	s.org.mu.RLock()
	for i := start; i < end; i++ {
		if i > start {
			b = append(b, ',')
		}
		b = s.renderNode(b, c, cur.q.sel, cur.q.obj, &cur.rows[i])
	}
	s.org.mu.RUnlock()
	b = append(b, "]}\n"...)
	c.w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(b)
}
