package config

import (
	"net/url"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// The keys the project file's sections decode, from the Keys the
// reference is made of.
var (
	projectKeys  = projectSpec.Under("")
	defaultsKeys = projectSpec.Under("defaults")
	alertsKeys   = projectSpec.Under("alerts")
)

// connRef is a key that names a connection, checked once all are known.
type connRef struct {
	name string
	file string
	key  string
	node ast.Node
}

// decodeProject resolves the references of the project file and decodes it
// into p. The secrets section goes first, as it configures the resolvers
// the other references need.
func decodeProject(d *fileDecoder, body ast.Node, rr *refs, p *Project) []connRef {
	if body == nil {
		return nil
	}
	_, fields, ok := d.mapping(body, "")
	if !ok {
		return nil
	}
	for _, f := range fields {
		if f.key == "secrets" {
			rr.envOnly = true
			rr.walk(d.file, f.value, f.path, d.errs)
			rr.envOnly = false
			d.decode(f, &p.Secrets)
			rr.secrets = p.Secrets
		}
	}
	rr.walk(d.file, body, "", d.errs)

	var refs []connRef
	for _, f := range fields {
		switch f.key {
		case "connections":
			d.connections(f, p)
		case "defaults":
			d.defaults(f, &p.Defaults)
		case "alerts":
			if r, ok := d.alerts(f, &p.Alerts); ok {
				refs = append(refs, r)
			}
		case "reports":
			d.decode(f, &p.Reports)
		case "writeback":
			if r, ok := d.writeback(f, p); ok {
				refs = append(refs, r)
			}
		case "secrets":
			// Decoded above.
		default:
			d.unknownKey(f, projectKeys)
		}
	}
	return refs
}

func (d *fileDecoder) connections(f field, p *Project) {
	_, fields, ok := d.mapping(f.value, f.path)
	if !ok {
		return
	}
	for _, c := range fields {
		if !namePattern.MatchString(c.key) {
			d.errorf(c.knode, c.path, "connection name may hold only letters, digits, _, - and ., must not start with - or ., and is at most 128 long")
			continue
		}
		conn := &Connection{Name: c.key, Pos: nodePos(d.file, c.knode)}
		m, cf, ok := d.mapping(c.value, c.path)
		if !ok {
			continue
		}
		rest, present := d.splitKnown(cf, []string{"type"}, func(x field) {
			conn.Type = d.nonEmpty(x)
		})
		if !present["type"] {
			d.errorf(c.knode, joinKey(c.path, "type"), "missing required key")
		}
		if m != nil {
			conn.Section = newSection(d.file, c.path, conn.Pos, m, rest, d.red)
		} else {
			conn.Section = Section{file: d.file, path: c.path, pos: conn.Pos, red: d.red}
		}
		p.Connections[c.key] = conn
	}
}

func (d *fileDecoder) defaults(f field, out *Defaults) {
	_, fields, ok := d.mapping(f.value, f.path)
	if !ok {
		return
	}
	for _, x := range fields {
		switch x.key {
		case "parallel":
			out.Parallel = d.positive(x)
		case "records_per_write":
			out.RecordsPerWrite = d.positive(x)
		case "null_policy":
			out.NullPolicy = d.nullPolicy(x)
		case "on_failure":
			out.OnFailure = d.onFailure(x)
		default:
			d.unknownKey(x, defaultsKeys)
		}
	}
}

func (d *fileDecoder) alerts(f field, out *Alerts) (connRef, bool) {
	_, fields, ok := d.mapping(f.value, f.path)
	if !ok {
		return connRef{}, false
	}
	var ref connRef
	var hasRef bool
	for _, x := range fields {
		switch x.key {
		case "on_sync_failure":
			d.decode(x, &out.OnSyncFailure)
		case "failed_rows_above":
			var n int
			if d.decode(x, &n) {
				if n < 0 {
					d.errorf(x.value, x.path, "must not be negative")
				}
				out.FailedRowsAbove = &n
			}
		case "email":
			if u := unwrap(x.value); u == nil || u.Type() == ast.NullType {
				continue
			}
			var e EmailAlert
			if !d.decode(x, &e) {
				continue
			}
			out.Email = &e
			if d.requiredChild(x, "connection", e.Connection) {
				ref, hasRef = connRef{name: e.Connection, file: d.file, key: joinKey(x.path, "connection"), node: child(x.value, "connection")}, true
			}
			d.requiredChild(x, "integration", e.Integration)
			if len(e.Recipients) == 0 {
				d.requiredChild(x, "recipients", "")
			}
			for i, r := range e.Recipients {
				if !strings.Contains(r, "@") {
					at := x.value
					if seq, ok := unwrap(child(x.value, "recipients")).(*ast.SequenceNode); ok && i < len(seq.Values) {
						at = seq.Values[i]
					}
					d.errorf(at, indexKey(joinKey(x.path, "recipients"), i), "must be an email address")
				}
			}
		case "webhook":
			if u := unwrap(x.value); u == nil || u.Type() == ast.NullType {
				continue
			}
			var w WebhookAlert
			if !d.decode(x, &w) {
				continue
			}
			out.Webhook = &w
			if d.requiredChild(x, "url", w.URL) && !d.unresolved(w.URL) {
				// The URL's text is not quoted: a webhook URL is a credential.
				if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					d.errorf(child(x.value, "url"), joinKey(x.path, "url"), "must be an http or https URL")
				}
			}
		default:
			d.unknownKey(x, alertsKeys)
		}
	}
	return ref, hasRef
}

func (d *fileDecoder) writeback(f field, p *Project) (connRef, bool) {
	if u := unwrap(f.value); u == nil || u.Type() == ast.NullType {
		return connRef{}, false
	}
	var w Writeback
	if !d.decode(f, &w) {
		return connRef{}, false
	}
	p.Writeback = &w
	switch w.Results {
	case "":
		w.Results = "all"
	case "all", "failed", "none":
	default:
		d.errorf(child(f.value, "results"), joinKey(f.path, "results"), "must be all, failed or none")
	}
	if w.RetentionDays < 0 {
		d.errorf(child(f.value, "retention_days"), joinKey(f.path, "retention_days"), "must not be negative")
	}
	if !d.requiredChild(f, "connection", w.Connection) {
		return connRef{}, false
	}
	return connRef{name: w.Connection, file: d.file, key: joinKey(f.path, "connection"), node: child(f.value, "connection")}, true
}

// requiredChild reports a key of f's mapping that is missing or empty.
func (d *fileDecoder) requiredChild(f field, key, value string) bool {
	at := child(f.value, key)
	present := at != nil
	if !present {
		at = f.knode
	}
	return d.required(at, joinKey(f.path, key), value, present)
}
