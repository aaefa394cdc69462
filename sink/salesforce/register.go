package salesforce

import (
	"context"
	"strings"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// Register registers the sink type "salesforce".
func Register(r *reverseetl.Registry) {
	r.RegisterSink("salesforce", New)
	r.RegisterSinkCheck("salesforce", Check)
}

// New is the sink factory: it decodes the connection and the destination
// section strictly and builds the sink. It does no I/O; the connection's
// client (and its login) is shared by all syncs of the run through
// b.Shared.
func New(_ context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
	if b.Sync == nil {
		return nil, newError("no sync to build a sink for")
	}
	d := b.Sync.Destination
	if b.Connection == nil {
		return nil, newError("the destination names no connection")
	}
	dest, err := DestinationOf(b.Sync)
	if err != nil {
		return nil, err // config.Errors: file, line and key
	}
	if b.Offline {
		// Offline validation (config.WithOffline): values may be
		// unresolved references, which are not checked; no client is made.
		if err := checkOffline(b.Connection); err != nil {
			return nil, err
		}
		return offlineSink{}, nil
	}
	create := func() (any, error) {
		cfg, err := parseConnConfig(b.Connection)
		if err != nil {
			return nil, err
		}
		var o []clientOption
		if b.Logger != nil {
			o = append(o, withLogger(b.Logger))
		}
		return newAPIClient(cfg, o...)
	}
	var v any
	if b.Shared != nil {
		v, err = b.Shared.Get("salesforce:"+b.Connection.Name, create)
	} else {
		v, err = create()
	}
	if err != nil {
		return nil, err
	}
	s, err := buildSink(v.(*apiClient), dest)
	if err != nil {
		return nil, atKey(d.Section, err)
	}
	return s, nil
}

// offlineSink stands for a sink built from an offline validation: it was
// checked, and it refuses to write, as its connection was never resolved.
type offlineSink struct{}

func (offlineSink) Write(context.Context, []sink.Record) ([]sink.Result, error) {
	return nil, newError("this sink was built for offline validation and cannot write")
}

func (offlineSink) Close(context.Context) error { return nil }

// checkOffline checks a connection as an offline validation can: every key
// and value, except values that are unresolved references.
func checkOffline(c *config.Connection) error {
	cfg, err := decodeConnection(c)
	if err != nil {
		return err
	}
	for _, u := range []*string{&cfg.LoginURL, &cfg.InstanceURL} {
		if strings.Contains(*u, "${") {
			*u = "https://unresolved.invalid"
		}
	}
	if err := cfg.normalize(); err != nil {
		return atKey(c.Section, err)
	}
	return nil
}
