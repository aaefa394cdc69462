package state

import (
	"context"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
)

// Register makes the warehouse state the project file's writeback section
// names available to a reverseetl.Runner built on r (Open, or OpenReadOnly
// for a plan).
func Register(r *reverseetl.Registry) { r.RegisterWarehouse(openWarehouse) }

func openWarehouse(p *config.Project, readOnly bool) (reverseetl.Warehouse, error) {
	st, err := open(p, readOnly)
	if err != nil || st == nil {
		// A nil *Store in a non-nil interface would pass nil checks.
		return nil, err
	}
	return warehouse{st}, nil
}

// warehouse is a Store as a reverseetl.Warehouse.
type warehouse struct{ st *Store }

func (w warehouse) Store() reverseetl.StateStore      { return w.st }
func (w warehouse) Prepare(ctx context.Context) error { return w.st.Prepare(ctx) }
func (w warehouse) Close() error                      { return w.st.Close() }
func (w warehouse) Writeback(runID string) (reverseetl.Observer, func(context.Context) error) {
	wb := w.st.Writeback(runID)
	return wb, wb.Prepare
}
