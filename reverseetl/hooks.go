package reverseetl

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/retl-go/retl/config"
)

// Warehouse is the warehouse state a project file's writeback section
// names: change detection's state, the leases, and the run log and row
// outcomes a run writes back. Package reverseetl/state implements it; a
// program registers it with state.Register, so that only programs that
// want it link its database drivers.
type Warehouse interface {
	// Store is what change detection reads and writes; when it is a
	// Leaser, each sync also takes a lease in it.
	Store() StateStore
	// Prepare readies the tables a plan reads; it writes nothing.
	Prepare(ctx context.Context) error
	// Writeback returns the observer that writes a run's log, outcomes and
	// state, and the function that readies its tables before any sync reads.
	Writeback(runID string) (obs Observer, prepare func(context.Context) error)
	// Close releases the connection.
	Close() error
}

// WarehouseOpener opens the warehouse state the project file's writeback
// section names, read-only for a plan; nil and no error when the project
// has no writeback section. It connects on first use, not here.
type WarehouseOpener func(p *config.Project, readOnly bool) (Warehouse, error)

// ObserverContext is what an ObserverFactory gets.
type ObserverContext struct {
	Project *config.Project
	// Logger is the run's logger, already redacting the project's secrets.
	Logger *slog.Logger
}

// ProjectObserver is what an ObserverFactory built from the project file.
type ProjectObserver struct {
	// Observer hears every run's outcomes and reports; nil when the
	// project configures nothing for it.
	Observer Observer
	// Closer releases what the observer holds once the run ended; nil
	// when there is nothing to release.
	Closer io.Closer
	// Summary is what a validation says of it, such as "2 alert
	// notifiers"; empty says nothing.
	Summary string
}

// ObserverFactory builds an observer from the project file (the alerts
// are one). Like a SinkFactory it does no I/O; for a project loaded
// offline it checks what it can without the references' values.
type ObserverFactory func(ctx context.Context, b ObserverContext) (ProjectObserver, error)

type namedObserverFactory struct {
	name string
	f    ObserverFactory
}

// RegisterWarehouse sets how a Runner opens the warehouse state. It panics
// on nil or when one is registered already, as RegisterSink does.
func (r *Registry) RegisterWarehouse(open WarehouseOpener) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if open == nil {
		panic("reverseetl: RegisterWarehouse with nil opener")
	}
	if r.warehouse != nil {
		panic("reverseetl: warehouse state registered twice")
	}
	r.warehouse = open
}

// RegisterObserver adds an observer a Runner builds from the project file
// for every run (not for plans). Observers are added in registration
// order; it panics on an empty or duplicate name.
func (r *Registry) RegisterObserver(name string, f ObserverFactory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" || f == nil {
		panic("reverseetl: RegisterObserver with empty name or nil factory")
	}
	for _, o := range r.observers {
		if o.name == name {
			panic(fmt.Sprintf("reverseetl: observer %q registered twice", name))
		}
	}
	r.observers = append(r.observers, namedObserverFactory{name, f})
}

func (r *Registry) warehouseOpener() WarehouseOpener {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.warehouse
}

func (r *Registry) observerFactories() []namedObserverFactory {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]namedObserverFactory(nil), r.observers...)
}
