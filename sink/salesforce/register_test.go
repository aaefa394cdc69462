package salesforce

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

func section(t *testing.T, yaml string) config.Section {
	t.Helper()
	s, err := config.NewSection("sync.yaml", yaml)
	require.NoError(t, err)
	return s
}

func buildContext(t *testing.T, loginURL, destYAML string, dest config.DestinationSpec, shared *reverseetl.Shared) reverseetl.BuildContext {
	t.Helper()
	dest.Type, dest.Connection = "salesforce", "crm"
	dest.Section = section(t, destYAML)
	connYAML := fmt.Sprintf("login_url: %s\nauth: password\nclient_id: retl\nclient_secret: retl\nusername: demo@example.com\npassword: demo\n", loginURL)
	return reverseetl.BuildContext{
		RunID:      "run-1",
		Sync:       &config.Sync{Name: "s", Destination: dest},
		Connection: &config.Connection{Name: "crm", Type: "salesforce", Section: section(t, connYAML)},
		Logger:     quiet,
		Shared:     shared,
	}
}

func TestRegister(t *testing.T) {
	r := reverseetl.NewRegistry()
	Register(r)
	_, ok := r.Sink("salesforce")
	assert.True(t, ok)
	assert.Panics(t, func() { Register(r) }, "a second registration is a wiring mistake")
}

// Syncs on one connection share one client and one login; building does no I/O.
func TestFactorySharesClient(t *testing.T) {
	srv := emulator(t)
	shared := reverseetl.NewShared()
	defer shared.Close()
	ctx := context.Background()
	b1 := buildContext(t, srv.URL(), "api: rest\nrest_concurrency: 2\n", config.DestinationSpec{Object: "Account", Operation: config.Upsert, ExternalID: "External_Id__c"}, shared)
	b2 := buildContext(t, srv.URL(), "api: auto\nauto_threshold: 10\nbulk_batch_size: 500\nmax_jobs_in_flight: 3\npoll_max_wait: 50ms\nlock_retries: 1\nmax_upload_bytes: 1000000\n",
		config.DestinationSpec{Object: "Contact", Operation: config.Insert}, shared)
	s1, err := New(ctx, b1)
	require.NoError(t, err)
	s2, err := New(ctx, b2)
	require.NoError(t, err)
	assert.Empty(t, srv.Requests(), "building does no I/O")
	assert.Same(t, s1.(*Sink).c, s2.(*Sink).c)
	n, conc := s2.(sink.Batching).Batching()
	assert.Equal(t, 500, n)
	assert.Equal(t, 3, conc)

	requireOK(t, write(t, s1.(*Sink), nameRecs(3, "A")))
	lc := sink.NewLayout([]string{"LastName"}, nil)
	requireOK(t, write(t, s2.(*Sink), recs(lc, []any{"Doe"})))
	assert.Equal(t, 1, countRequests(srv, "POST", "/services/oauth2/token"))
	assert.Equal(t, APIBulk, s2.(sink.Stats).Stats()["api"], "auto without a hint plans for a large load")

	// Without Shared, each sink gets its own client.
	b1.Shared = nil
	s3, err := New(ctx, b1)
	require.NoError(t, err)
	assert.NotSame(t, s1.(*Sink).c, s3.(*Sink).c)
}

func TestFactoryErrors(t *testing.T) {
	ctx := context.Background()
	upsert := config.DestinationSpec{Object: "Account", Operation: config.Upsert, ExternalID: "External_Id__c"}
	cases := []struct {
		name string
		edit func(*reverseetl.BuildContext)
		want string
	}{
		{"no sync", func(b *reverseetl.BuildContext) { b.Sync = nil }, "no sync"},
		{"no connection", func(b *reverseetl.BuildContext) { b.Connection = nil }, "names no connection"},
		{"match_on on an upsert", func(b *reverseetl.BuildContext) { b.Sync.Destination.MatchOn = "Email" }, "match_on applies to update, delete and hard_delete, not upsert"},
		{"bad on_not_found", func(b *reverseetl.BuildContext) { b.Sync.Destination.Section = section(t, "on_not_found: ignore\n") }, `on_not_found "ignore": want skip or fail`},
		{"bad max_deletes", func(b *reverseetl.BuildContext) { b.Sync.Destination.Section = section(t, "max_deletes: lots\n") }, `sync.yaml:1:14: key "max_deletes": invalid value: [value]: want a count of records such as 500, or a percentage such as 10%`},
		{"bad group_by", func(b *reverseetl.BuildContext) { b.Sync.Destination.Section = section(t, "group_by: Account Id\n") }, `group_by "Account Id" is not a field name`},
		{"unknown option", func(b *reverseetl.BuildContext) { b.Sync.Destination.Section = section(t, "batch: 3\n") }, `sync.yaml:1:1: key "batch"`},
		{"bad api", func(b *reverseetl.BuildContext) { b.Sync.Destination.Section = section(t, "api: soap\n") }, `api "soap"`},
		{"upsert without external_id", func(b *reverseetl.BuildContext) { b.Sync.Destination.ExternalID = "" }, "upsert needs external_id"},
		{"bad external_id", func(b *reverseetl.BuildContext) { b.Sync.Destination.ExternalID = "x y" }, `external_id "x y"`},
		{"no operation", func(b *reverseetl.BuildContext) { b.Sync.Destination.Operation = "" }, "operation is required"},
		{"unknown operation", func(b *reverseetl.BuildContext) { b.Sync.Destination.Operation = "merge" }, "operation merge is not supported"},
		{"bad object", func(b *reverseetl.BuildContext) { b.Sync.Destination.Object = "Account; DROP" }, "not an object name"},
		{"bad connection", func(b *reverseetl.BuildContext) {
			b.Connection.Section = section(t, "auth: password\n")
		}, "auth password needs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := buildContext(t, "http://127.0.0.1:1", "", upsert, reverseetl.NewShared())
			c.edit(&b)
			_, err := New(ctx, b)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
