package salesforce

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
	"github.com/retl-go/retl/sink/sinktest"
)

// 25,000 rows through Bulk land exactly once, and the results' counts
// equal what the emulator holds.
func TestBulkLoad25k(t *testing.T) {
	if testing.Short() {
		t.Skip("large load")
	}
	const n = 25_000
	srv := emulator(t)
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c",
		Options{API: APIBulk, BulkBatchSize: 10_000, MaxJobsInFlight: 2, PollMaxWait: 100 * time.Millisecond})
	l := sink.NewLayout([]string{"External_Id__c", "Name", "NumberOfEmployees", "Description"}, nil)
	rows := make([]sink.Record, n)
	for i := range rows {
		rows[i] = sink.Record{Seq: int64(i + 1), Layout: l, Values: []sink.Value{
			sink.TextValue(fmt.Sprintf("X-%06d", i)),
			sink.TextValue(fmt.Sprintf("Account %d, \"quoted\"", i%97)), // repeated names: rows differ only by key
			sink.NumberValue(fmt.Sprint(i % 1000)),
			sink.TextValue("multi\nline"),
		}}
	}
	start := time.Now()
	res := write(t, s, rows)
	elapsed := time.Since(start)
	t.Logf("%d rows through Bulk in %s (%.0f rows/s), %d jobs, %v API calls", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), len(srv.Jobs()), s.Stats().Calls)

	created, ids := 0, map[string]bool{}
	for i, r := range res {
		require.Nil(t, r.Err, "record %d", i)
		if r.Created {
			created++
		}
		ids[r.ID] = true
	}
	got := byExt(srv, "Account")
	assert.Len(t, live(srv, "Account"), n)
	assert.Len(t, got, n)
	assert.Equal(t, n, created)
	assert.Len(t, ids, n, "every result has its own Id")
	for i := 0; i < n; i += 997 {
		k := fmt.Sprintf("X-%06d", i)
		assert.Equal(t, got[k]["Id"], res[i].ID, "result %d belongs to its record", i)
	}
	assert.Len(t, srv.Jobs(), 3)
	assert.Len(t, s.Stats().Jobs, 3)
}

// Records that exceed the size or record bound of a job go to several jobs.
func TestBulkSplitsJobs(t *testing.T) {
	cases := []struct {
		name string
		opt  Options
		jobs int
	}{
		{"record bound", Options{BulkBatchSize: 4}, 3},
		// The header is 20 bytes and each row 15: two rows fit under 60.
		{"size bound", Options{MaxUploadBytes: 60}, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := emulator(t)
			opt := c.opt
			opt.API, opt.pollStart = APIBulk, time.Millisecond
			s := emuSink(t, emuClient(t, srv), "Account", Insert, "", opt)
			requireOK(t, write(t, s, nameRecs(10, "Key")))
			assert.Len(t, srv.Jobs(), c.jobs)
			assert.Len(t, live(srv, "Account"), 10)
		})
	}
	t.Run("row larger than the bound", func(t *testing.T) {
		srv := emulator(t)
		s := emuSink(t, emuClient(t, srv), "Account", Insert, "", Options{API: APIBulk, MaxUploadBytes: 40, pollStart: time.Millisecond})
		res := write(t, s, recs(nameLayout, []any{"K", "short"}, []any{"K2", "a name far too long for forty bytes"}))
		assert.Nil(t, res[0].Err)
		require.NotNil(t, res[1].Err)
		assert.Equal(t, "RETL_ROW_TOO_LARGE", res[1].Err.Code)
	})
}

func TestConformance(t *testing.T) {
	// The build cases build from files against an emulator of their own,
	// and count its requests: a factory opens no connection.
	bsrv := emulator(t)
	project := fmt.Sprintf(`connections:
  crm:
    type: salesforce
    login_url: %s
    auth: password
    client_id: %s
    client_secret: %s
    username: %s
    password: %s
`, bsrv.URL(), sftest.DefaultClientID, sftest.DefaultClientSecret, sftest.DefaultUsername, sftest.DefaultPassword)
	syncFile := `name: accounts
source: {type: memory, query: select 1}
destination:
  type: salesforce
  connection: crm
  object: Account
  operation: upsert
  match_on: External_Id__c
  api: bulk
mapping:
  - {from: ID, to: External_Id__c}
  - {from: NAME, to: Name}
`
	build := &sinktest.Build{
		Register: Register,
		Project:  []byte(project),
		Sync:     []byte(syncFile),
		// type defaults to salesforce and login_url to Salesforce's.
		Required: []string{"destination.connection", "destination.object", "destination.operation", "destination.match_on",
			"connections.crm.client_id", "connections.crm.client_secret", "connections.crm.username", "connections.crm.password"},
		IO: func() int64 { return int64(len(bsrv.Requests())) },
	}
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			sinktest.Run(t, sinktest.Harness{
				New: func(t testing.TB) sinktest.Target {
					srv := emulator(t)
					s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(api))
					return sinktest.Target{
						Sink:  s,
						Count: func() (int, error) { return len(live(srv, "Account")), nil },
						Lookup: func(key string) (map[string]string, error) {
							for _, r := range live(srv, "Account") {
								if r["External_Id__c"] == key {
									out := map[string]string{}
									for f, v := range r {
										if v != nil {
											out[f] = fmt.Sprint(v)
										}
									}
									return out, nil
								}
							}
							return nil, nil
						},
					}
				},
				Good:    func(i int) sink.Record { return sinktest.SimpleRecord(i, "ok") },
				Bad:     func(i int) sink.Record { return sinktest.SimpleRecord(i, "") },
				Guard:   "Name",
				Build:   build,
				Timeout: 30 * time.Second,
			})
		})
	}
}
