package otelmetrics_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/otelmetrics"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/source"
	memsource "github.com/retl-go/retl/source/memory"
)

// statsSink is a memory sink that reports API calls and bytes as a
// remote sink's stats would.
type statsSink struct {
	*memory.Sink
	calls, bytes int64
}

func (s statsSink) Stats() sink.Statistics {
	return sink.Statistics{API: "memory", Calls: s.calls, Counts: map[string]int64{otelmetrics.StatUploadBytes: s.bytes}}
}

const syncA = `name: a
source: {type: memory, query: q}
destination: {type: memory}
filter: ACTIVE
mapping:
  - {from: ID, to: External_Id__c}
  - {from: NAME, to: Name}
`

const syncB = `name: b
source: {type: memory, query: q}
destination: {type: memory}
mapping:
  - {from: ID, to: External_Id__c}
  - {from: NAME, to: Name}
`

// run runs syncs a and b through the Engine with obs: a reads 10 rows, of
// which 2 are filtered out, 3 rejected for an empty name, 2 update records
// the destination holds and 3 create records; b creates 4 records.
func run(t *testing.T, obs reverseetl.Observer) *reverseetl.Report {
	t.Helper()
	ctx := context.Background()
	cols := []string{"ID", "NAME", "ACTIVE"}
	rows := map[string][][]any{"a": {}, "b": {}}
	for i := range 10 {
		name := "n"
		if i >= 5 && i < 8 {
			name = ""
		}
		rows["a"] = append(rows["a"], []any{fmt.Sprintf("A%d", i), name, i < 8})
	}
	for i := range 4 {
		rows["b"] = append(rows["b"], []any{fmt.Sprintf("B%d", i), "n", true})
	}
	reg := reverseetl.NewRegistry()
	reg.RegisterSource("memory", func(_ context.Context, b reverseetl.BuildContext) (source.Source, error) {
		return memsource.New(cols, rows[b.Sync.Name]), nil
	})
	reg.RegisterSink("memory", func(_ context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
		m := memory.New("External_Id__c")
		m.Reject = func(r *sink.Record) *sink.RecordError {
			if v, _ := r.Get("Name"); v.S == "" {
				return &sink.RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [Name]"}
			}
			return nil
		}
		if b.Sync.Name == "a" {
			m.Set("A0", map[string]string{"Name": "old"})
			m.Set("A1", map[string]string{"Name": "old"})
			return statsSink{Sink: m, calls: 3, bytes: 1200}, nil
		}
		return statsSink{Sink: m, calls: 4}, nil
	})
	p, err := config.Parse(ctx, "", nil, map[string][]byte{"a.yaml": []byte(syncA), "b.yaml": []byte(syncB)})
	require.NoError(t, err)
	eng := reverseetl.New(reg, reverseetl.WithObserver(obs), reverseetl.WithLogger(slog.New(slog.DiscardHandler)))
	rep, err := eng.Run(ctx, p, reverseetl.RunOptions{})
	require.NoError(t, err)
	return rep
}

// points flattens a metric's data points to "attr=value,...": value, with
// the attributes in their sorted order.
func points(t *testing.T, rm metricdata.ResourceMetrics, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	key := func(s attribute.Set) string {
		var parts []string
		for _, kv := range s.ToSlice() {
			parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
		}
		return strings.Join(parts, ",")
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelmetrics.Scope {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] = float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				// The count: how many durations were recorded.
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] = float64(p.Count)
				}
			default:
				t.Fatalf("%s: unexpected data %T", name, m.Data)
			}
		}
	}
	return out
}

func TestMetricsOfARun(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	obs, err := otelmetrics.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	require.NoError(t, err)
	rep := run(t, obs)
	a, b := rep.Sync("a"), rep.Sync("b")
	require.NotNil(t, a)
	require.NotNil(t, b)
	require.Equal(t, [5]int64{10, 3, 2, 3, 2}, [5]int64{a.Read, a.Created, a.Updated, a.Failed, a.Skipped}, "the run the figures describe")

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	assert.Equal(t, map[string]float64{
		"retl.created=true,retl.outcome=written,retl.sync=a":               3,
		"retl.created=false,retl.outcome=written,retl.sync=a":              2,
		"retl.code=REQUIRED_FIELD_MISSING,retl.outcome=failed,retl.sync=a": 3,
		"retl.code=filtered,retl.outcome=skipped,retl.sync=a":              2,
		"retl.created=true,retl.outcome=written,retl.sync=b":               4,
	}, points(t, rm, "retl.rows"))
	syncs := map[string]float64{
		"retl.status=" + string(a.Status) + ",retl.sync=a": 1,
		"retl.status=" + string(b.Status) + ",retl.sync=b": 1,
	}
	assert.Equal(t, syncs, points(t, rm, "retl.syncs"))
	assert.Equal(t, syncs, points(t, rm, "retl.sync.duration"))
	runStatus := "succeeded"
	if !rep.OK() {
		runStatus = "failed"
	}
	assert.Equal(t, map[string]float64{"retl.status=" + runStatus: 1}, points(t, rm, "retl.run.duration"))
	assert.Equal(t, map[string]float64{"retl.sync=a": 3, "retl.sync=b": 4}, points(t, rm, "retl.sink.api_calls"))
	assert.Equal(t, map[string]float64{"retl.sync=a": 1200}, points(t, rm, "retl.sink.bytes"), "b reported no bytes")
}

// A sink without stats, or with nothing counted, exports no points.
func TestZeroStatsAreLeftOut(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	obs, err := otelmetrics.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	require.NoError(t, err)
	ctx := context.Background()
	obs.SyncFinished(ctx, &config.Sync{Name: "s"}, &reverseetl.SyncReport{Status: reverseetl.Succeeded})
	obs.SyncFinished(ctx, &config.Sync{Name: "s"}, &reverseetl.SyncReport{Status: reverseetl.Succeeded,
		Stats: &sink.Statistics{Counts: map[string]int64{otelmetrics.StatUploadBytes: 5}}})
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	assert.Empty(t, points(t, rm, "retl.sink.api_calls"))
	assert.Equal(t, map[string]float64{"retl.sync=s": 5}, points(t, rm, "retl.sink.bytes"))
}

// failingMeter refuses to create counters.
type failingMeter struct{ noop.Meter }

func (failingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return nil, errors.New("no counters here")
}

type failingProvider struct{ noop.MeterProvider }

func (failingProvider) Meter(string, ...metric.MeterOption) metric.Meter { return failingMeter{} }

func TestNewReportsInstrumentErrors(t *testing.T) {
	_, err := otelmetrics.New(failingProvider{})
	require.Error(t, err)
	assert.ErrorContains(t, err, "otelmetrics: creating instruments")
	assert.ErrorContains(t, err, "no counters here")
}

// The core packages do not import OpenTelemetry: only a program that uses
// this package links it.
func TestCoreImportsNoOpenTelemetry(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/retl-go/retl/reverseetl", "github.com/retl-go/retl/sink",
		"github.com/retl-go/retl/source", "github.com/retl-go/retl/transform", "github.com/retl-go/retl/config").Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/retl-go/retl/reverseetl", "go list answered")
	otel := slices.DeleteFunc(deps, func(p string) bool { return !strings.HasPrefix(p, "go.opentelemetry.io/") })
	assert.Empty(t, otel)

	out, err = exec.Command("go", "list", "-deps", "github.com/retl-go/retl/reverseetl/otelmetrics").Output()
	require.NoError(t, err)
	assert.Contains(t, strings.Fields(string(out)), "go.opentelemetry.io/otel/metric", "the check would see an import")
}
