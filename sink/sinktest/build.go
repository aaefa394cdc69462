package sinktest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// Build says how the Engine builds the sink from configuration: the
// plugin's registration, a project file and a sync file that build it.
type Build struct {
	// Register registers the sink's type, as a program that uses it does
	// (for example salesforce.Register).
	Register func(*reverseetl.Registry)
	// Project is the project file (retl.yaml) with the connection the
	// sync names; nil for none.
	Project []byte
	// Sync is a sync file whose destination the factory builds.
	Sync []byte
	// Required lists the keys without which the sink must not build, as
	// dotted paths: "destination.object" in the sync file, or
	// "connections.crm.login_url" (paths under "connections.") in the
	// project file. Each is removed in turn; loading the files or building
	// the sink must then fail.
	Required []string
	// Options are passed to config.Parse, such as config.WithEnv for the
	// files' ${...} references.
	Options []config.Option
	// IO returns how many requests (or connections) the destination has
	// received so far; a build must not change it, online or offline.
	// nil skips those checks.
	IO func() int64
}

// built is one sink built through the registry, with what it shares.
type built struct {
	sink   sink.Sink
	shared *reverseetl.Shared
}

func (b built) close(ctx context.Context, c *collector) {
	if b.sink != nil {
		if err := b.sink.Close(ctx); err != nil {
			c.failf("Close of the built sink: %v", err)
		}
	}
	if err := b.shared.Close(); err != nil {
		c.failf("closing what the build shared: %v", err)
	}
}

// errLoad marks an error of config.Parse, as against one of the factory.
var errLoad = errors.New("loading the configuration")

// build loads project and sync and builds the sync's destination through
// the registered factory, with the BuildContext the Engine gives it.
func (b *Build) build(ctx context.Context, project, syncFile []byte, offline bool) (built, error) {
	out := built{shared: reverseetl.NewShared()}
	opts := append([]config.Option(nil), b.Options...)
	if offline {
		opts = append(opts, config.WithOffline())
	}
	projectFile := ""
	if project != nil {
		projectFile = "retl.yaml"
	}
	p, err := config.Parse(ctx, projectFile, project, map[string][]byte{"sync.yaml": syncFile}, opts...)
	if err != nil {
		return out, fmt.Errorf("%w: %w", errLoad, err)
	}
	if len(p.Syncs) != 1 {
		return out, fmt.Errorf("%w: %d syncs in the sync file, want 1", errLoad, len(p.Syncs))
	}
	s := p.Syncs[0]
	reg := reverseetl.NewRegistry()
	b.Register(reg)
	factory, ok := reg.Sink(s.Destination.Type)
	if !ok {
		return out, fmt.Errorf("destination type %q is not registered (registered: %v)", s.Destination.Type, reg.SinkTypes())
	}
	bc := reverseetl.BuildContext{
		RunID:    "sinktest",
		Sync:     s,
		Logger:   slog.New(slog.DiscardHandler),
		Redactor: p.Redactor,
		Shared:   out.shared,
		Offline:  p.Offline,
	}
	if name := s.Destination.Connection; name != "" {
		bc.Connection = p.Connections[name]
	}
	out.sink, err = factory(ctx, bc)
	return out, err
}

func (b *Build) io() int64 {
	if b.IO == nil {
		return 0
	}
	return b.IO()
}

// buildAndCheck builds from the given files and checks that it worked
// without I/O; what it built is closed.
func buildAndCheck(ctx context.Context, h Harness, offline bool, c *collector) {
	b := h.Build
	before := b.io()
	out, err := b.build(ctx, b.Project, b.Sync, offline)
	defer out.close(ctx, c)
	if err != nil {
		c.failf("build (offline %v): %v", offline, err)
		return
	}
	if out.sink == nil {
		c.failf("build (offline %v): the factory returned no sink and no error", offline)
		return
	}
	if n := b.io() - before; n != 0 {
		c.failf("build (offline %v) did I/O: %d requests to the destination (a factory opens nothing; connections open on first use)", offline, n)
	}
}

func checkFactory(ctx context.Context, h Harness, _ Target, c *collector) {
	buildAndCheck(ctx, h, false, c)
}

func checkOffline(ctx context.Context, h Harness, _ Target, c *collector) {
	buildAndCheck(ctx, h, true, c)
}

func checkRequired(ctx context.Context, h Harness, _ Target, c *collector) {
	b := h.Build
	if len(b.Required) == 0 {
		c.skipf("no Required keys in the Build")
		return
	}
	for _, key := range b.Required {
		project, syncFile := b.Project, b.Sync
		var err error
		if strings.HasPrefix(key, "connections.") {
			project, err = removeKey(project, key)
		} else {
			syncFile, err = removeKey(syncFile, key)
		}
		if err != nil {
			c.failf("without %s: %v", key, err)
			continue
		}
		out, err := b.build(ctx, project, syncFile, false)
		out.close(ctx, c)
		if err == nil {
			c.failf("without %s: the sink was built; want a configuration error", key)
		}
	}
}

// buildGuarded builds from the sync file with set_if_empty on the mapping
// to Guard. refused reports that the factory refused it, which is how a
// sink that cannot guard fields meets the contract; ok is false when the
// case cannot go on.
func buildGuarded(ctx context.Context, h Harness, c *collector) (refused, ok bool) {
	syncFile, err := guardMapping(h.Build.Sync, h.Guard)
	if err != nil {
		c.failf("set_if_empty on %s: %v", h.Guard, err)
		return false, false
	}
	out, err := h.Build.build(ctx, h.Build.Project, syncFile, false)
	out.close(ctx, c)
	switch {
	case errors.Is(err, errLoad):
		c.failf("the sync file with set_if_empty on %s: %v", h.Guard, err)
		return false, false
	case err != nil:
		// Refused when built: nothing to write.
		return true, true
	}
	return false, true
}

// removeKey returns the YAML document doc without the key at a dotted
// path; it is an error when the path is not there.
func removeKey(doc []byte, path string) ([]byte, error) {
	var root yaml.MapSlice
	if err := yaml.UnmarshalWithOptions(doc, &root, yaml.UseOrderedMap()); err != nil {
		return nil, err
	}
	root, err := without(root, strings.Split(path, "."))
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", path, err)
	}
	return yaml.Marshal(root)
}

func without(m yaml.MapSlice, path []string) (yaml.MapSlice, error) {
	j := indexOf(m, path[0])
	if j < 0 {
		return nil, fmt.Errorf("%s is not in the file", path[0])
	}
	if len(path) == 1 {
		return append(slices.Clone(m[:j]), m[j+1:]...), nil
	}
	sub, ok := m[j].Value.(yaml.MapSlice)
	if !ok {
		return nil, fmt.Errorf("%s is not a mapping", path[0])
	}
	sub, err := without(sub, path[1:])
	if err != nil {
		return nil, err
	}
	out := slices.Clone(m)
	out[j].Value = sub
	return out, nil
}

func indexOf(m yaml.MapSlice, key string) int {
	for i, it := range m {
		if k, ok := it.Key.(string); ok && k == key {
			return i
		}
	}
	return -1
}

// guardMapping returns the sync file with set_if_empty: true on the
// mapping entry whose target is field.
func guardMapping(doc []byte, field string) ([]byte, error) {
	var root yaml.MapSlice
	if err := yaml.UnmarshalWithOptions(doc, &root, yaml.UseOrderedMap()); err != nil {
		return nil, err
	}
	j := indexOf(root, "mapping")
	if j < 0 {
		return nil, errors.New("the sync file has no mapping")
	}
	entries, _ := root[j].Value.([]any)
	for k, e := range entries {
		m, ok := e.(yaml.MapSlice)
		if !ok {
			continue
		}
		if t := indexOf(m, "to"); t >= 0 && fmt.Sprint(m[t].Value) == field {
			if g := indexOf(m, "set_if_empty"); g >= 0 {
				m[g].Value = true
			} else {
				m = append(m, yaml.MapItem{Key: "set_if_empty", Value: true})
			}
			entries[k] = m
			return yaml.Marshal(root)
		}
	}
	return nil, fmt.Errorf("no mapping entry has to: %s", field)
}
