package reverseetl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
)

// BuildContext is what a factory gets to build a source or sink for one sync.
// Factories must not do I/O: connections are opened on first use, so that
// `retl validate` can build every sync without reaching any system.
type BuildContext struct {
	// RunID identifies the run, for query tags and logs.
	RunID string
	Sync  *config.Sync
	// Connection is the project connection the section names, or nil.
	Connection *config.Connection
	Logger     *slog.Logger
	Redactor   *config.Redactor
	// Shared holds objects that all syncs of a run share, such as one
	// authenticated client per connection.
	Shared *Shared
	// Offline is set when the project was loaded without resolving its
	// references (config.WithOffline): the factory checks the structure of
	// the connection's keys but not their values, and the part it returns
	// is only validated, never run.
	Offline bool
}

// SourceFactory builds a source from its sync's source section.
type SourceFactory func(ctx context.Context, b BuildContext) (source.Source, error)

// SinkFactory builds a sink from its sync's destination section.
type SinkFactory func(ctx context.Context, b BuildContext) (sink.Sink, error)

// Registry maps the type names used in sync files to factories. Another
// module adds its own types with RegisterSource and RegisterSink.
type Registry struct {
	mu        sync.RWMutex
	sources   map[string]SourceFactory
	sinks     map[string]SinkFactory
	checks    map[string]SinkCheck
	warehouse WarehouseOpener
	observers []namedObserverFactory
}

// SinkCheck checks a sync's destination section, and its fit with the rest
// of the sync, without I/O. It returns nil, a *config.Error or
// config.Errors, each at its file, line and key.
type SinkCheck func(s *config.Sync) error

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{sources: map[string]SourceFactory{}, sinks: map[string]SinkFactory{}, checks: map[string]SinkCheck{}}
}

// RegisterSource registers a source type. Like sql.Register it panics on an
// empty or duplicate name: a wiring mistake should fail at start-up, not at
// the first sync.
func (r *Registry) RegisterSource(typ string, f SourceFactory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if typ == "" || f == nil {
		panic("reverseetl: RegisterSource with empty type or nil factory")
	}
	if _, dup := r.sources[typ]; dup {
		panic(fmt.Sprintf("reverseetl: source type %q registered twice", typ))
	}
	r.sources[typ] = f
}

// RegisterSink registers a sink type; it panics on an empty or duplicate name.
func (r *Registry) RegisterSink(typ string, f SinkFactory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if typ == "" || f == nil {
		panic("reverseetl: RegisterSink with empty type or nil factory")
	}
	if _, dup := r.sinks[typ]; dup {
		panic(fmt.Sprintf("reverseetl: sink type %q registered twice", typ))
	}
	r.sinks[typ] = f
}

// RegisterSinkCheck registers the check of a sink type's sections, which
// Check runs for every sync of that type. A sink type's own keys are its
// own: the config package knows only type and connection.
func (r *Registry) RegisterSinkCheck(typ string, c SinkCheck) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if typ == "" || c == nil {
		panic("reverseetl: RegisterSinkCheck with empty type or nil check")
	}
	if _, dup := r.checks[typ]; dup {
		panic(fmt.Sprintf("reverseetl: sink check %q registered twice", typ))
	}
	r.checks[typ] = c
}

// Check runs the registered check of the sync's destination type, for
// config.WithCheck: its errors then come with every other error of the
// files. A type without a check passes; an unknown type is the Engine's
// to report.
func (r *Registry) Check(s *config.Sync) error {
	r.mu.RLock()
	c := r.checks[s.Destination.Type]
	r.mu.RUnlock()
	if c == nil {
		return nil
	}
	return c(s)
}

// Source returns the factory of a source type.
func (r *Registry) Source(typ string) (SourceFactory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.sources[typ]
	return f, ok
}

// Sink returns the factory of a sink type.
func (r *Registry) Sink(typ string) (SinkFactory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.sinks[typ]
	return f, ok
}

// SourceTypes lists the registered source types, sorted.
func (r *Registry) SourceTypes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return sortedKeys(r.sources)
}

// SinkTypes lists the registered sink types, sorted.
func (r *Registry) SinkTypes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return sortedKeys(r.sinks)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Shared holds objects that the syncs of one run share. Objects that
// implement io.Closer are closed when the run ends.
type Shared struct {
	mu    sync.Mutex
	items map[string]*sharedItem
	order []string
}

type sharedItem struct {
	once sync.Once
	v    any
	err  error
}

// NewShared returns an empty set of shared objects.
func NewShared() *Shared { return &Shared{items: map[string]*sharedItem{}} }

// Get returns the object stored under key, creating it once with create.
// A creation error is returned to every caller of that key.
func (s *Shared) Get(key string, create func() (any, error)) (any, error) {
	s.mu.Lock()
	it, ok := s.items[key]
	if !ok {
		it = &sharedItem{}
		s.items[key] = it
		s.order = append(s.order, key)
	}
	s.mu.Unlock()
	it.once.Do(func() { it.v, it.err = create() })
	return it.v, it.err
}

// Close closes the shared objects that are io.Closers, newest first.
func (s *Shared) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for i := len(s.order) - 1; i >= 0; i-- {
		it := s.items[s.order[i]]
		if c, ok := it.v.(io.Closer); ok && it.err == nil {
			if err := c.Close(); err != nil && first == nil {
				first = fmt.Errorf("close %s: %w", s.order[i], err)
			}
		}
	}
	s.items = map[string]*sharedItem{}
	s.order = nil
	return first
}

// describe is what a sink says its writes do (sink.Describer); the zero
// Description for a sink that does not say.
func describe(k sink.Sink) sink.Description {
	if d, ok := k.(sink.Describer); ok {
		return d.Describe()
	}
	return sink.Description{}
}
