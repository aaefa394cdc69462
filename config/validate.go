package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// checker runs the checks that need more than one file.
type checker struct {
	p          *Project
	metas      []*syncMeta
	errs       *Errors
	checkConns bool
}

func (c *checker) errorf(file string, n ast.Node, key, format string, args ...any) {
	c.errs.add(&Error{Pos: nodePos(file, n), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// connections checks that every connection named exists in the project
// file. Without one, connections are the caller's business.
func (c *checker) connections(refs []connRef) {
	c.types()
	if !c.checkConns {
		return
	}
	for i, s := range c.p.Syncs {
		m := c.metas[i]
		if s.Source.Connection != "" && m.sourceConn != nil {
			refs = append(refs, connRef{name: s.Source.Connection, file: s.File, key: "source.connection", node: m.sourceConn})
		}
		if s.Destination.Connection != "" && m.destConn != nil {
			refs = append(refs, connRef{name: s.Destination.Connection, file: s.File, key: "destination.connection", node: m.destConn})
		}
	}
	known := make([]string, 0, len(c.p.Connections))
	for name := range c.p.Connections {
		known = append(known, name)
	}
	slices.Sort(known)
	for _, r := range refs {
		if _, ok := c.p.Connections[r.name]; ok || r.name == "" {
			continue
		}
		msg := fmt.Sprintf("unknown connection %q", r.name)
		if len(known) == 0 {
			msg += fmt.Sprintf("; %s defines no connections", c.p.File)
		} else {
			msg += fmt.Sprintf("; %s defines %s", c.p.File, strings.Join(known, ", "))
		}
		c.errorf(r.file, r.node, r.key, "%s", msg)
	}
}

// types gives a source or destination without a type its connection's
// type, so that the same sync file runs against whatever the project file
// points the connection at (Snowflake in production, SQLite in a demo).
func (c *checker) types() {
	for i, s := range c.p.Syncs {
		m := c.metas[i]
		for _, part := range []struct {
			typ  *string
			conn string
			key  string
			node ast.Node
		}{
			{&s.Source.Type, s.Source.Connection, "source", m.sourceConn},
			{&s.Destination.Type, s.Destination.Connection, "destination", m.destConn},
		} {
			if *part.typ != "" || part.conn == "" {
				continue
			}
			if conn, ok := c.p.Connections[part.conn]; ok {
				*part.typ = conn.Type
				continue
			}
			if !c.checkConns {
				c.errorf(s.File, part.node, part.key+".type", "missing required key: connection %q is not defined here, so its type cannot apply", part.conn)
			}
		}
	}
}

// names checks that sync names are unique. They are compared without regard
// to case, as they name report files on file systems that ignore it.
func (c *checker) names() {
	first := map[string]*Sync{}
	for i, s := range c.p.Syncs {
		k := strings.ToLower(s.Name)
		if prev, dup := first[k]; dup {
			at := c.metas[i].nameNode
			if at == nil {
				at = c.metas[i].root
			}
			c.errorf(s.File, at, "name", "sync name %q is already used by %s", s.Name, prev.File)
			continue
		}
		first[k] = s
	}
}

// dependencies checks that depends_on names existing syncs and that the
// dependencies have no cycle.
func (c *checker) dependencies(unparsed []string) {
	index := map[string]int{}
	for i, s := range c.p.Syncs {
		if _, dup := index[s.Name]; !dup {
			index[s.Name] = i
		}
	}
	edges := make([][]int, len(c.p.Syncs))
	for i, s := range c.p.Syncs {
		for j, dep := range s.DependsOn {
			if t, ok := index[dep]; ok {
				edges[i] = append(edges[i], t)
				continue
			}
			if slices.Contains(unparsed, dep) {
				continue
			}
			msg := fmt.Sprintf("unknown sync %q", dep)
			for name := range index {
				if strings.EqualFold(name, dep) {
					msg += fmt.Sprintf("; did you mean %q?", name)
					break
				}
			}
			c.errorf(s.File, c.metas[i].depends[j], indexKey("depends_on", j), "%s", msg)
		}
	}
	c.cycles(edges)
}

// cycles reports the dependency cycles a depth-first search finds (at
// least one among any syncs that depend on each other), each at the
// depends_on of the sync of the cycle whose file comes first.
func (c *checker) cycles(edges [][]int) {
	const (
		unseen = iota
		active
		finished
	)
	state := make([]int, len(edges))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		state[i] = active
		stack = append(stack, i)
		for _, t := range edges[i] {
			switch state[t] {
			case unseen:
				visit(t)
			case active:
				at := slices.Index(stack, t)
				c.reportCycle(slices.Clone(stack[at:]))
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = finished
	}
	for i := range edges {
		if state[i] == unseen {
			visit(i)
		}
	}
}

// reportCycle reports a cycle found through one back edge; each back edge
// closes a different cycle, so none is reported twice.
func (c *checker) reportCycle(cycle []int) {
	// Start at the sync whose file sorts first, so the report is stable.
	start := 0
	for k, i := range cycle {
		if c.p.Syncs[i].File < c.p.Syncs[cycle[start]].File {
			start = k
		}
	}
	cycle = append(cycle[start:], cycle[:start]...)
	parts := make([]string, 0, len(cycle)+1)
	for _, i := range cycle {
		s := c.p.Syncs[i]
		parts = append(parts, fmt.Sprintf("%s (%s)", s.Name, s.File))
	}
	first := c.p.Syncs[cycle[0]]
	next := c.p.Syncs[cycle[1%len(cycle)]].Name
	j := slices.Index(first.DependsOn, next)
	meta := c.metas[cycle[0]]
	msg := "dependency cycle: " + strings.Join(parts, " -> ") + " -> " + parts[0]
	if len(cycle) == 1 {
		msg = fmt.Sprintf("sync %s depends on itself", first.Name)
	}
	c.errorf(first.File, meta.depends[j], indexKey("depends_on", j), "%s", msg)
}

// applyDefaults fills what a sync leaves unset from the project's defaults.
func applyDefaults(p *Project, metas []*syncMeta) {
	for i, s := range p.Syncs {
		m := metas[i]
		if !m.batchSet {
			s.RecordsPerWrite = p.Defaults.RecordsPerWrite
		}
		if !m.nullSet {
			s.NullPolicy = p.Defaults.NullPolicy
		}
		if !m.failSet {
			s.OnFailure = p.Defaults.OnFailure.clone()
		}
	}
}

// clone copies the limits, so that syncs do not share them.
func (o OnFailure) clone() OnFailure {
	var c OnFailure
	if o.MaxFailedRows != nil {
		n := *o.MaxFailedRows
		c.MaxFailedRows = &n
	}
	if o.MaxFailedPercent != nil {
		f := *o.MaxFailedPercent
		c.MaxFailedPercent = &f
	}
	return c
}
