package config

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// SecretResolver fetches a secret by reference: for ${aws-sm:prod/db#password}
// the resolver registered for "aws-sm" gets "prod/db#password". Its errors
// should not contain the secret, and are redacted of the secrets known so far.
type SecretResolver interface {
	Resolve(ctx context.Context, ref string) (string, error)
}

// ResolverFunc adapts a function to SecretResolver.
type ResolverFunc func(ctx context.Context, ref string) (string, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, ref string) (string, error) { return f(ctx, ref) }

// ResolverFactory makes a SecretResolver from the project file's secrets
// section. It is called once, at the first reference with its scheme.
type ResolverFactory func(ctx context.Context, cfg SecretsConfig) (SecretResolver, error)

var (
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	schemeRe  = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
)

// secretWords mark a key whose value is secret even when it comes from the
// environment (a DSN may carry a password). Other environment values are not registered for redaction:
// replacing common short values (a region, a user name) would garble logs.
var secretWords = []string{"password", "secret", "token", "private_key", "passphrase", "api_key", "apikey", "credential", "webhook", "dsn"}

func secretKey(path string) bool {
	segs := strings.Split(path, ".")
	last := strings.ToLower(segs[len(segs)-1])
	if i := strings.IndexByte(last, '['); i >= 0 {
		last = last[:i]
	}
	if strings.HasSuffix(last, "_key") {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(last, w) {
			return true
		}
	}
	// A webhook URL carries its credential in the path.
	if last == "url" && len(segs) > 1 && strings.Contains(strings.ToLower(segs[len(segs)-2]), "webhook") {
		return true
	}
	return false
}

// resolved is the outcome of one reference, cached for the whole load.
type resolved struct {
	value string
	msg   string // set when resolution failed
	err   error
}

// refs resolves ${...} references for one load.
type refs struct {
	ctx       context.Context
	env       func(string) (string, bool)
	resolvers map[string]SecretResolver
	factories map[string]ResolverFactory
	secrets   SecretsConfig
	red       *Redactor
	cache     map[string]resolved
	// broken holds the error of each factory that failed, so it runs once.
	broken map[string]error
	done   map[ast.Node]bool
	// envOnly is set while resolving the secrets section, which configures
	// the resolvers themselves.
	envOnly bool
	// offline leaves unset environment variables and secret references as
	// written (see WithOffline).
	offline bool
}

func newRefs(ctx context.Context, o *options, red *Redactor) *refs {
	r := &refs{
		ctx:       ctx,
		env:       o.env,
		resolvers: map[string]SecretResolver{},
		factories: map[string]ResolverFactory{},
		red:       red,
		cache:     map[string]resolved{},
		broken:    map[string]error{},
		done:      map[ast.Node]bool{},
		offline:   o.offline,
	}
	for k, v := range o.resolvers {
		r.resolvers[k] = v
	}
	for k, v := range o.factories {
		r.factories[k] = v
	}
	return r
}

// walk replaces every reference in the string values under n, reporting
// failures with the key path and position of the value.
func (r *refs) walk(file string, n ast.Node, key string, errs *Errors) {
	if n == nil || r.done[n] || r.ctx.Err() != nil {
		return
	}
	// Aliases share nodes; each is rewritten once.
	r.done[n] = true
	switch v := n.(type) {
	case *ast.MappingNode:
		for _, mv := range v.Values {
			k, _ := keyText(mv.Key)
			r.walk(file, mv.Value, joinKey(key, k), errs)
		}
	case *ast.SequenceNode:
		for i, x := range v.Values {
			r.walk(file, x, indexKey(key, i), errs)
		}
	case *ast.AnchorNode:
		r.walk(file, v.Value, key, errs)
	case *ast.TagNode:
		r.walk(file, v.Value, key, errs)
	case *ast.LiteralNode:
		if v.Value != nil {
			r.walk(file, v.Value, key, errs)
		}
	case *ast.StringNode:
		if !strings.Contains(v.Value, "${") {
			return
		}
		out, e := r.expand(v.Value, key)
		if e != nil {
			e.Pos = nodePos(file, v)
			errs.add(e)
			return
		}
		v.Value = out
	}
}

// expand replaces the references in s. "$${" stands for a literal "${".
func (r *refs) expand(s, key string) (string, *Error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", &Error{Key: key, Msg: "reference has no closing }; write $${ for a literal ${"}
		}
		ref := s[i+2 : i+2+end]
		s = s[i+2+end+1:]
		val, e := r.lookup(ref, key)
		if e != nil {
			return "", e
		}
		b.WriteString(val)
	}
}

func (r *refs) lookup(ref, key string) (string, *Error) {
	scheme, name, isSecret := strings.Cut(ref, ":")
	switch {
	case !isSecret && envNameRe.MatchString(ref):
		res, ok := r.cache[ref]
		if !ok {
			v, set := r.env(ref)
			res = resolved{value: v}
			if !set {
				res.msg = fmt.Sprintf("environment variable %s is not set", ref)
			}
			r.cache[ref] = res
		}
		if res.msg != "" {
			if r.offline {
				return "${" + ref + "}", nil
			}
			return "", &Error{Key: key, Msg: res.msg}
		}
		if secretKey(key) {
			r.red.Add(res.value)
		}
		return res.value, nil
	case isSecret && schemeRe.MatchString(scheme) && name != "":
		if r.envOnly {
			return "", &Error{Key: key, Msg: "only ${NAME} environment references are allowed here, as this section configures the secret resolvers"}
		}
		if r.offline {
			if _, known := r.resolvers[scheme]; !known {
				if _, known = r.factories[scheme]; !known {
					return "", &Error{Key: key, Msg: fmt.Sprintf("no secret resolver for scheme %q", scheme)}
				}
			}
			return "${" + ref + "}", nil
		}
		res, ok := r.cache[ref]
		if !ok {
			res = r.resolve(scheme, name, ref)
			r.cache[ref] = res
		}
		if res.msg != "" {
			return "", &Error{Key: key, Msg: res.msg, Err: res.err}
		}
		return res.value, nil
	}
	return "", &Error{Key: key, Msg: "invalid reference: write ${NAME} for an environment variable, ${scheme:reference} for a secret, or $${ for a literal ${"}
}

func (r *refs) resolve(scheme, name, ref string) resolved {
	sr, err := r.resolver(scheme)
	if err != nil {
		return resolved{msg: r.red.Redact(fmt.Sprintf("creating the secret resolver for %q: %v", scheme, err)), err: err}
	}
	if sr == nil {
		known := make([]string, 0, len(r.resolvers)+len(r.factories))
		for k := range r.resolvers {
			known = append(known, k)
		}
		for k := range r.factories {
			if _, dup := r.resolvers[k]; !dup {
				known = append(known, k)
			}
		}
		slices.Sort(known)
		msg := fmt.Sprintf("no secret resolver for scheme %q", scheme)
		if len(known) > 0 {
			msg += " (known: " + strings.Join(known, ", ") + ")"
		}
		return resolved{msg: msg}
	}
	v, err := sr.Resolve(r.ctx, name)
	if err != nil {
		return resolved{msg: r.red.Redact(fmt.Sprintf("resolving ${%s}: %v", ref, err)), err: err}
	}
	// A value fetched from a secret store is secret wherever it is used.
	r.red.Add(v)
	return resolved{value: v}
}

// resolver returns the resolver for scheme, making it from its factory on
// first use. It returns nil, nil for an unknown scheme.
func (r *refs) resolver(scheme string) (SecretResolver, error) {
	if sr, ok := r.resolvers[scheme]; ok {
		return sr, nil
	}
	if err := r.broken[scheme]; err != nil {
		return nil, err
	}
	f, ok := r.factories[scheme]
	if !ok {
		return nil, nil
	}
	sr, err := f(r.ctx, r.secrets)
	if err == nil && sr == nil {
		err = errors.New("the factory returned no resolver")
	}
	if err != nil {
		r.broken[scheme] = err
		return nil, err
	}
	r.resolvers[scheme] = sr
	return sr, nil
}
