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

// upsertAccount is the destination section of an upsert of Accounts by
// their external id, to which tests add options.
const upsertAccount = "object: Account\noperation: upsert\nmatch_on: External_Id__c\n"

func buildContext(t *testing.T, loginURL, destYAML string, shared *reverseetl.Shared) reverseetl.BuildContext {
	t.Helper()
	dest := config.DestinationSpec{Type: "salesforce", Connection: "crm", Section: section(t, destYAML)}
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
	b1 := buildContext(t, srv.URL(), upsertAccount+"api: rest\nrest_concurrency: 2\n", shared)
	b2 := buildContext(t, srv.URL(), "object: Contact\noperation: insert\napi: auto\nauto_threshold: 10\nbulk_batch_size: 500\nmax_jobs_in_flight: 3\npoll_max_wait: 50ms\nlock_retries: 1\nmax_upload_bytes: 1000000\n", shared)
	s1, err := New(ctx, b1)
	require.NoError(t, err)
	s2, err := New(ctx, b2)
	require.NoError(t, err)
	assert.Empty(t, srv.Requests(), "building does no I/O")
	assert.Same(t, s1.(*sfSink).c, s2.(*sfSink).c)
	n, conc := s2.(sink.Batching).Batching()
	assert.Equal(t, 500, n)
	assert.Equal(t, 3, conc)

	requireOK(t, write(t, s1.(*sfSink), nameRecs(3, "A")))
	lc := sink.NewLayout([]string{"LastName"}, nil)
	requireOK(t, write(t, s2.(*sfSink), recs(lc, []any{"Doe"})))
	assert.Equal(t, 1, countRequests(srv, "POST", "/services/oauth2/token"))
	assert.Equal(t, APIBulk, s2.(sink.Stats).Stats().API, "auto without a hint plans for a large load")

	// Without Shared, each sink gets its own client.
	b1.Shared = nil
	s3, err := New(ctx, b1)
	require.NoError(t, err)
	assert.NotSame(t, s1.(*sfSink).c, s3.(*sfSink).c)
}

func TestFactoryErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, yaml string
		edit       func(*reverseetl.BuildContext)
		want       string
	}{
		{name: "no sync", yaml: upsertAccount, edit: func(b *reverseetl.BuildContext) { b.Sync = nil }, want: "no sync"},
		{name: "no connection", yaml: upsertAccount, edit: func(b *reverseetl.BuildContext) { b.Connection = nil }, want: "names no connection"},
		{name: "match_on on an insert", yaml: "object: Account\noperation: insert\nmatch_on: Email\n", want: `sync.yaml:3:11: key "match_on": insert finds no record: remove match_on, or use upsert`},
		{name: "bad on_not_found", yaml: upsertAccount + "on_not_found: ignore\n", want: `sync.yaml:4:15: key "on_not_found": on_not_found "ignore": want skip or fail`},
		{name: "bad max_deletes", yaml: upsertAccount + "max_deletes: lots\n", want: `sync.yaml:4:14: key "max_deletes": invalid value: [value]: want a count of records such as 500, or a percentage such as 10%`},
		{name: "bad group_by", yaml: upsertAccount + "group_by: Account Id\n", want: `group_by "Account Id" is not a field name`},
		{name: "unknown option", yaml: upsertAccount + "batch: 3\n", want: `sync.yaml:4:1: key "batch"`},
		{name: "bad api", yaml: upsertAccount + "api: soap\n", want: `api "soap"`},
		{name: "upsert without external_id", yaml: "object: Account\noperation: upsert\n", want: `sync.yaml:1:1: key "match_on": missing required key: upsert finds records by match_on, an external id field (or Id)`},
		{name: "bad external_id", yaml: "object: Account\noperation: upsert\nmatch_on: x y\n", want: `match_on "x y"`},
		{name: "no operation", yaml: "object: Account\n", want: `key "operation": missing required key`},
		{name: "unknown operation", yaml: "object: Account\noperation: merge\n", want: `sync.yaml:2:12: key "operation": operation "merge": must be one of insert, update, upsert, delete, hard_delete`},
		{name: "no object", yaml: "operation: insert\n", want: `key "object": missing required key`},
		{name: "bad object", yaml: "object: Account; DROP\noperation: insert\n", want: "not an object name"},
		{name: "bad connection", yaml: upsertAccount, edit: func(b *reverseetl.BuildContext) {
			b.Connection.Section = section(t, "auth: password\n")
		}, want: "auth password needs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := buildContext(t, "http://127.0.0.1:1", c.yaml, reverseetl.NewShared())
			if c.edit != nil {
				c.edit(&b)
			}
			_, err := New(ctx, b)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
