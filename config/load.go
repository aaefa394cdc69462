package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// ProjectFileName is the project file looked for beside or inside the
// configs directory.
const ProjectFileName = "retl.yaml"

// Option configures Load, LoadFS and Parse.
type Option func(*options)

type options struct {
	projectFile string
	env         func(string) (string, bool)
	resolvers   map[string]SecretResolver
	factories   map[string]ResolverFactory
	redactor    *Redactor
	bad         []string
	offline     bool
	partial     bool
	checks      []func(*Sync) error
}

// WithCheck adds a check of each decoded sync, run with every other check
// of the files so that its errors come in the same pass. Plugins check
// their own sections this way (reverseetl.Registry.Check): a sink's
// destination keys and their fit with the mapping. A check returns nil,
// an *Error or Errors; other errors are placed at the sync's file.
func WithCheck(check func(*Sync) error) Option {
	return func(o *options) { o.checks = append(o.checks, check) }
}

// WithPartial makes Load, LoadFS and Parse return, along with the Errors
// found in the files, the Project of the syncs whose files have none (no
// syncs when the project file itself has errors, since their connections
// could not be checked). A caller can then check those syncs further, for
// instance by building their sources and sinks, and report every error of
// every file in one pass. Without errors, the Project is the whole one.
func WithPartial() Option {
	return func(o *options) { o.partial = true }
}

// WithOffline loads without reaching any secret store: ${NAME} references
// to unset environment variables and every ${scheme:reference} are left as
// written (a reference to an unknown scheme is still an error), and the
// Project is marked Offline, so that sources and sinks check the structure
// of what they are given but not values that may be unresolved. It is what
// `retl validate` uses in a merge-request pipeline without credentials.
func WithOffline() Option {
	return func(o *options) { o.offline = true }
}

// WithProjectFile names the project file instead of looking for retl.yaml.
// For Load it is an OS path; for LoadFS a path in the file system.
func WithProjectFile(path string) Option {
	return func(o *options) { o.projectFile = path }
}

// WithEnv replaces os.LookupEnv for ${NAME} references; nil is an empty
// environment.
func WithEnv(lookup func(string) (string, bool)) Option {
	return func(o *options) {
		if lookup == nil {
			lookup = func(string) (string, bool) { return "", false }
		}
		o.env = lookup
	}
}

// WithResolver registers the resolver for ${scheme:reference}. A scheme is
// lower-case letters, digits and + . - (starting with a letter).
func WithResolver(scheme string, r SecretResolver) Option {
	return func(o *options) {
		if !schemeRe.MatchString(scheme) || r == nil {
			o.bad = append(o.bad, scheme)
			return
		}
		o.resolvers[scheme] = r
	}
}

// WithResolverFactory registers a resolver made on first use from the
// project file's secrets section (for instance an AWS client for its region).
func WithResolverFactory(scheme string, f ResolverFactory) Option {
	return func(o *options) {
		if !schemeRe.MatchString(scheme) || f == nil {
			o.bad = append(o.bad, scheme)
			return
		}
		o.factories[scheme] = f
	}
}

// WithRedactor makes Load register secrets with r (for example one already
// wrapped around the program's logger) instead of a new Redactor.
func WithRedactor(r *Redactor) Option {
	return func(o *options) { o.redactor = r }
}

func newOptions(opts []Option) *options {
	o := &options{
		env:       os.LookupEnv,
		resolvers: map[string]SecretResolver{},
		factories: map[string]ResolverFactory{},
	}
	for _, opt := range opts {
		opt(o)
	}
	if o.redactor == nil {
		o.redactor = &Redactor{}
	}
	return o
}

// Load reads the syncs in dir (every *.yaml and *.yml file directly in it,
// by name) and the project file: WithProjectFile's, else retl.yaml in dir's
// parent, else retl.yaml in dir (which then is not a sync), else none. With
// no project file, Project.File is "" and Connections is empty, and
// connection names are not checked.
//
// An error in the files is returned as Errors, holding all that were found.
func Load(ctx context.Context, dir string, opts ...Option) (*Project, error) {
	return load(ctx, osFiles{}, dir, newOptions(opts))
}

// LoadFS is Load on a file system, such as an embed.FS. dir and the project
// file are slash-separated paths in fsys; when dir is ".", only dir itself
// is searched for retl.yaml.
func LoadFS(ctx context.Context, fsys fs.FS, dir string, opts ...Option) (*Project, error) {
	return load(ctx, fsFiles{fsys}, dir, newOptions(opts))
}

// Parse loads a project from memory: projectData is the project file named
// projectFile ("" and nil for none), and syncs maps file names to their
// contents. Syncs are taken in order of file name.
func Parse(ctx context.Context, projectFile string, projectData []byte, syncs map[string][]byte, opts ...Option) (*Project, error) {
	o := newOptions(opts)
	var project *input
	if projectFile != "" || projectData != nil {
		project = &input{name: projectFile, data: projectData}
	}
	names := make([]string, 0, len(syncs))
	for name := range syncs {
		names = append(names, name)
	}
	slices.Sort(names)
	in := make([]input, 0, len(names))
	for _, name := range names {
		in = append(in, input{name: name, data: syncs[name]})
	}
	return build(ctx, o, project, in)
}

// input is one file's name and content, or the error reading it.
type input struct {
	name string
	data []byte
	err  *Error
}

// files is how Load and LoadFS reach their files.
type files interface {
	readDir(dir string) ([]fs.DirEntry, error)
	open(name string) (fs.File, error)
	join(elem ...string) string
	// parent returns dir's parent directory, when it has one in reach.
	parent(dir string) (string, bool)
	same(a, b string) bool
}

type osFiles struct{}

func (osFiles) readDir(dir string) ([]fs.DirEntry, error) { return os.ReadDir(dir) }
func (osFiles) open(name string) (fs.File, error)         { return os.Open(name) }
func (osFiles) join(elem ...string) string                { return filepath.Join(elem...) }
func (osFiles) parent(dir string) (string, bool)          { return filepath.Join(dir, ".."), true }
func (osFiles) same(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

type fsFiles struct{ fsys fs.FS }

func (f fsFiles) readDir(dir string) ([]fs.DirEntry, error) { return fs.ReadDir(f.fsys, dir) }
func (f fsFiles) open(name string) (fs.File, error)         { return f.fsys.Open(name) }
func (fsFiles) join(elem ...string) string                  { return path.Join(elem...) }
func (fsFiles) parent(dir string) (string, bool) {
	if path.Clean(dir) == "." {
		return "", false
	}
	return path.Dir(path.Clean(dir)), true
}
func (fsFiles) same(a, b string) bool { return path.Clean(a) == path.Clean(b) }

func load(ctx context.Context, fsys files, dir string, o *options) (*Project, error) {
	entries, err := fsys.readDir(dir)
	if err != nil {
		// The path is said once, before the cause.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("config: reading the configs directory %s: %w", dir, err)
	}
	project, err := findProject(fsys, dir, o.projectFile)
	if err != nil {
		return nil, err
	}
	var in []input
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(path.Ext(name))
		if e.IsDir() || strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		full := fsys.join(dir, name)
		if project != "" && fsys.same(full, project) {
			continue
		}
		if name == ProjectFileName {
			// Taking it for a sync would hide a mistake in the layout.
			in = append(in, input{name: full, err: &Error{Pos: Pos{File: full}, Msg: fmt.Sprintf("%s is the name of the project file, and the project file is %s; rename or remove one", ProjectFileName, project)}})
			continue
		}
		in = append(in, readInput(fsys, full))
	}
	if len(in) == 0 {
		// Running nothing and saying all went well hides a wrong path.
		return nil, Errors{{Pos: Pos{File: dir}, Msg: "the configs directory holds no sync files (*.yaml, *.yml)"}}
	}
	var pin *input
	if project != "" {
		p := readInput(fsys, project)
		pin = &p
	}
	return build(ctx, o, pin, in)
}

// findProject returns the project file's name, or "" for none.
func findProject(fsys files, dir, explicit string) (string, error) {
	if explicit != "" {
		f, err := fsys.open(explicit)
		if err != nil {
			return "", fmt.Errorf("config: opening the project file: %w", err)
		}
		f.Close()
		return explicit, nil
	}
	var candidates []string
	if parent, ok := fsys.parent(dir); ok {
		candidates = append(candidates, fsys.join(parent, ProjectFileName))
	}
	candidates = append(candidates, fsys.join(dir, ProjectFileName))
	for _, c := range candidates {
		f, err := fsys.open(c)
		if err == nil {
			f.Close()
			return c, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("config: opening the project file: %w", err)
		}
	}
	return "", nil
}

// readInput reads a file, refusing one over MaxFileSize before reading it.
func readInput(fsys files, name string) input {
	in := input{name: name}
	fail := func(msg string) input {
		in.err = &Error{Pos: Pos{File: name}, Msg: msg}
		return in
	}
	f, err := fsys.open(name)
	if err != nil {
		return fail("cannot open the file: " + errText(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fail("cannot read the file: " + errText(err))
	}
	if !st.Mode().IsRegular() {
		return fail("not a regular file")
	}
	if st.Size() > MaxFileSize {
		return fail("file is larger than 1 MiB")
	}
	// The limit holds even if the file grows after Stat.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return fail("cannot read the file: " + errText(err))
	}
	in.data = data
	return in
}

// errText is an I/O error without the path, which the Error already has.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// build decodes and checks a project from its files' contents.
func build(ctx context.Context, o *options, project *input, syncs []input) (*Project, error) {
	if len(o.bad) > 0 {
		return nil, fmt.Errorf("config: invalid secret resolver scheme %q", o.bad[0])
	}
	p := &Project{Connections: map[string]*Connection{}, Redactor: o.redactor, Offline: o.offline}
	var errs Errors
	rr := newRefs(ctx, o, o.redactor)
	var connRefs []connRef
	// Connections are checked against a project file that could be read;
	// against a broken one, every name would be reported unknown.
	checkConns := false
	if project != nil {
		p.File = project.name
		d := &fileDecoder{file: project.name, errs: &errs, red: o.redactor, offline: o.offline}
		if body, ok := parseInput(project, &errs); ok {
			connRefs = decodeProject(d, body, rr, p)
			checkConns = true
		}
	}
	if p.Defaults.NullPolicy == "" {
		p.Defaults.NullPolicy = NullClear
	}
	var metas []*syncMeta
	var unparsed []string
	for i := range syncs {
		in := &syncs[i]
		base := path.Base(filepath.ToSlash(in.name))
		defaultName := strings.TrimSuffix(base, path.Ext(base))
		body, ok := parseInput(in, &errs)
		if !ok {
			// Unreadable or unparseable: its name still counts as a sync, so
			// that depends_on does not add a second error about it.
			unparsed = append(unparsed, defaultName)
			continue
		}
		d := &fileDecoder{file: in.name, errs: &errs, red: o.redactor, offline: o.offline}
		rr.walk(in.name, body, "", &errs)
		s, meta := decodeSync(d, defaultName, body)
		if s == nil {
			unparsed = append(unparsed, defaultName)
			continue
		}
		p.Syncs = append(p.Syncs, s)
		metas = append(metas, meta)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	check := &checker{p: p, metas: metas, errs: &errs, checkConns: checkConns}
	check.connections(connRefs)
	check.names()
	check.dependencies(unparsed)
	applyDefaults(p, metas)
	for _, s := range p.Syncs {
		for _, f := range o.checks {
			addCheckError(&errs, s, f(s))
		}
	}
	if len(errs) > 0 {
		if !o.partial {
			return nil, errs.capped()
		}
		return partialProject(p, errs), errs.capped()
	}
	return p, nil
}

// addCheckError adds what a WithCheck function found in s.
func addCheckError(errs *Errors, s *Sync, err error) {
	switch e := err.(type) {
	case nil:
	case *Error:
		errs.add(e)
	case Errors:
		for _, x := range e {
			errs.add(x)
		}
	default:
		errs.add(&Error{Pos: s.Pos, Msg: e.Error(), Err: e})
	}
}

// partialProject keeps the syncs of p whose files have no errors.
func partialProject(p *Project, errs Errors) *Project {
	bad := map[string]bool{}
	for _, e := range errs {
		bad[e.Pos.File] = true
	}
	kept := *p
	kept.Syncs = nil
	if p.File != "" && bad[p.File] {
		return &kept
	}
	for _, s := range p.Syncs {
		if !bad[s.File] {
			kept.Syncs = append(kept.Syncs, s)
		}
	}
	return &kept
}

// parseInput parses a file read earlier, adding its errors to errs. ok is
// false when the file cannot be decoded; body is nil for an empty file.
func parseInput(in *input, errs *Errors) (body ast.Node, ok bool) {
	if in.err != nil {
		errs.add(in.err)
		return nil, false
	}
	body, es, ok := parseFile(in.name, in.data)
	*errs = append(*errs, es...)
	return body, ok
}
