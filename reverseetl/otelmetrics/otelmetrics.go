// Package otelmetrics records what the Engine does as OpenTelemetry
// metrics, for services that embed it. Observer is a reverseetl.Observer:
//
//	obs, err := otelmetrics.New(otel.GetMeterProvider())
//	if err != nil { return err }
//	eng := reverseetl.New(reg, reverseetl.WithObserver(obs))
//
// It lives apart so that the core packages do not import OpenTelemetry: a
// program that does not want it does not link it.
//
// The instruments, under the meter named by Scope:
//
//	retl.rows            counter    rows by outcome: retl.sync, retl.outcome (written, failed, skipped),
//	                                retl.code (failed: the error code; skipped: the reason),
//	                                retl.created (written: created or updated)
//	retl.syncs           counter    syncs finished: retl.sync, retl.status
//	retl.sync.duration   histogram  seconds a sync took: retl.sync, retl.status
//	retl.run.duration    histogram  seconds a run took: retl.status (succeeded when every sync did, else failed)
//	retl.sink.api_calls  counter    API calls the sink made, from its stats ("api_calls"): retl.sync
//	retl.sink.bytes      counter    bytes the sink uploaded, from its stats ("upload_bytes"): retl.sync
//
// Rows are counted as the Engine decides their outcomes, so a long sync's
// counters move while it runs. An Engine that plans (RunOptions.Plan)
// reports what a run would do; give it no Observer of this package, or
// its rows are counted as if written.
package otelmetrics

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
)

// Scope is the name of the meter the instruments belong to.
const Scope = "github.com/retl-go/retl/reverseetl/otelmetrics"

// Attribute keys.
const (
	AttrSync    = attribute.Key("retl.sync")
	AttrOutcome = attribute.Key("retl.outcome")
	AttrCode    = attribute.Key("retl.code")
	AttrCreated = attribute.Key("retl.created")
	AttrStatus  = attribute.Key("retl.status")
)

// StatUploadBytes is the counter of a sink's Statistics exported as the
// bytes sent; Statistics.Calls is exported as the API calls.
const StatUploadBytes = "upload_bytes"

// Observer records the Engine's outcomes and reports as metrics. It is
// safe for concurrent use, as the Engine requires.
type Observer struct {
	rows     metric.Int64Counter
	syncs    metric.Int64Counter
	syncDur  metric.Float64Histogram
	runDur   metric.Float64Histogram
	apiCalls metric.Int64Counter
	bytes    metric.Int64Counter
}

var _ reverseetl.Observer = (*Observer)(nil)

// New creates the instruments on mp's meter Scope.
func New(mp metric.MeterProvider) (*Observer, error) {
	m := mp.Meter(Scope)
	var o Observer
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	o.rows, err = m.Int64Counter("retl.rows", metric.WithUnit("{row}"),
		metric.WithDescription("Rows by outcome: written, failed or skipped."))
	add(err)
	o.syncs, err = m.Int64Counter("retl.syncs", metric.WithUnit("{sync}"),
		metric.WithDescription("Syncs finished, by status."))
	add(err)
	o.syncDur, err = m.Float64Histogram("retl.sync.duration", metric.WithUnit("s"),
		metric.WithDescription("How long a sync took."))
	add(err)
	o.runDur, err = m.Float64Histogram("retl.run.duration", metric.WithUnit("s"),
		metric.WithDescription("How long a run took."))
	add(err)
	o.apiCalls, err = m.Int64Counter("retl.sink.api_calls", metric.WithUnit("{call}"),
		metric.WithDescription("API calls the sink made."))
	add(err)
	o.bytes, err = m.Int64Counter("retl.sink.bytes", metric.WithUnit("By"),
		metric.WithDescription("Bytes the sink uploaded."))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("otelmetrics: creating instruments: %w", err)
	}
	return &o, nil
}

// rowKey is one combination of a row counter's attributes.
type rowKey struct {
	kind    reverseetl.OutcomeKind
	code    string
	created bool
}

// Outcomes implements reverseetl.Observer: it counts the rows by outcome.
func (o *Observer) Outcomes(ctx context.Context, s *config.Sync, outs []reverseetl.Outcome) error {
	// One Add per combination, not per row: a chunk holds thousands.
	counts := map[rowKey]int64{}
	for i := range outs {
		k := rowKey{kind: outs[i].Kind}
		switch outs[i].Kind {
		case reverseetl.Written:
			k.created = outs[i].Created
		case reverseetl.RowFailed:
			if outs[i].Err != nil {
				k.code = outs[i].Err.Code
			}
		case reverseetl.RowSkipped:
			k.code = string(outs[i].Reason)
		}
		counts[k]++
	}
	for k, n := range counts {
		attrs := []attribute.KeyValue{AttrSync.String(s.Name), AttrOutcome.String(string(k.kind))}
		if k.kind == reverseetl.Written {
			attrs = append(attrs, AttrCreated.Bool(k.created))
		} else {
			attrs = append(attrs, AttrCode.String(k.code))
		}
		o.rows.Add(ctx, n, metric.WithAttributes(attrs...))
	}
	return nil
}

// SyncFinished implements reverseetl.Observer: the sync's status and
// duration, and the API calls and bytes its sink reported.
func (o *Observer) SyncFinished(ctx context.Context, s *config.Sync, rep *reverseetl.SyncReport) {
	status := metric.WithAttributes(AttrSync.String(s.Name), AttrStatus.String(string(rep.Status)))
	o.syncs.Add(ctx, 1, status)
	o.syncDur.Record(ctx, rep.Duration.Seconds(), status)
	sync := metric.WithAttributes(AttrSync.String(s.Name))
	if st := rep.Stats; st != nil {
		if st.Calls > 0 {
			o.apiCalls.Add(ctx, st.Calls, sync)
		}
		if n := st.Counts[StatUploadBytes]; n > 0 {
			o.bytes.Add(ctx, n, sync)
		}
	}
}

// RunFinished implements reverseetl.Observer: the run's duration.
func (o *Observer) RunFinished(ctx context.Context, rep *reverseetl.Report) {
	status := reverseetl.Succeeded
	if !rep.OK() {
		status = reverseetl.Failed
	}
	o.runDur.Record(ctx, rep.Duration.Seconds(), metric.WithAttributes(AttrStatus.String(string(status))))
}
