package salesforce

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
)

// handEdit changes a record as a person would: one REST update.
func handEdit(t *testing.T, c *apiClient, obj, id string, fields map[string]any) {
	t.Helper()
	body, err := json.Marshal(fields)
	require.NoError(t, err)
	_, err = c.do(t.Context(), &request{method: http.MethodPatch, path: c.dataPath("sobjects", obj, id), body: body, ctype: "application/json"})
	require.NoError(t, err)
}

var editFields = []string{"External_Id__c", "Name", "BillingCity", "Score__c", "Level__c"}

// editLayout keeps edits of every field but the key (the destination's
// setting); the mapping entry of Level__c turns it off for that field.
func editLayout() *sink.Layout {
	l := sink.NewLayout(editFields, nil)
	l.KeepEdits = []sink.Choice{sink.Inherit, sink.Inherit, sink.Inherit, sink.Inherit, sink.Off}
	return l
}

// expecting gives records the tokens results wrote, as the Engine does.
func expecting(records []sink.Record, wrote ...[]string) []sink.Record {
	for i := range records {
		records[i].Expect = wrote[i]
	}
	return records
}

// keep_human_edits: a field a person changed since retl wrote it is not
// sent and is reported; the other fields are written; a field whose entry
// turns the option off is overwritten; a record without expectations is
// written whole; the plan says the same as the run.
func TestKeepHumanEdits(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := differOrg(t)
			instance, w := tap(t, srv)
			c := emuClient(t, srv, func(cc *connConfig) { cc.InstanceURL = instance })
			opt := fastOptions(api)
			opt.KeepHumanEdits = true
			s := emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
			l := editLayout()

			res := write(t, s, recs(l, []any{"A-1", "One", "Oslo", num("1.5"), "Gold"}, []any{"A-2", "Two", "Rome", num("2"), "Silver"}))
			requireOK(t, res)
			require.Len(t, res[0].Wrote, len(editFields))
			assert.Empty(t, res[0].Wrote[0], "the key is not tracked")
			assert.Empty(t, res[0].Wrote[4], "Level__c keeps no edits")
			for j := 1; j <= 3; j++ {
				assert.Len(t, res[0].Wrote[j], 16, editFields[j])
			}
			first := [][]string{res[0].Wrote, res[1].Wrote}

			got := byExt(srv, "Account")
			handEdit(t, c, "Account", got["A-1"]["Id"].(string), map[string]any{"BillingCity": "Bergen", "Level__c": "Silver"})

			next := func() []sink.Record {
				return expecting(recs(l, []any{"A-1", "One", "Paris", num("3"), "Gold"}, []any{"A-2", "Two", "Milan", num("2"), "Silver"}), first...)
			}
			planned, err := s.Plan(t.Context(), next())
			require.NoError(t, err)
			w.reset()
			res = write(t, s, next())
			requireOK(t, res)
			assert.Equal(t, []string{"BillingCity"}, res[0].KeptEdits)
			assert.Nil(t, res[1].KeptEdits)
			assert.Equal(t, res[0].KeptEdits, planned[0].KeptEdits, "the plan predicts the run")
			assert.Nil(t, planned[1].KeptEdits)
			assert.Empty(t, res[0].Wrote[2], "the kept field keeps retl's last token")
			assert.NotEqual(t, first[0][3], res[0].Wrote[3], "a new value, a new token")
			assert.Equal(t, first[1][3], res[1].Wrote[3], "2 and 2 are one value")

			sent := sentFields(t, w.writes())
			assert.NotContains(t, sent["A-1"], "BillingCity")
			assert.Contains(t, sent["A-1"], "Score__c")
			assert.Contains(t, sent["A-2"], "BillingCity")
			got = byExt(srv, "Account")
			assert.Equal(t, "Bergen", got["A-1"]["BillingCity"], "the hand edit stays")
			assert.EqualValues(t, 3, got["A-1"]["Score__c"])
			assert.Equal(t, "Gold", got["A-1"]["Level__c"], "keep_human_edits: false overwrites")
			assert.Equal(t, "Milan", got["A-2"]["BillingCity"])

			// Without expectations (a record retl never wrote under the
			// option) every field is written, and nothing is read.
			srv.ResetRequests()
			res = write(t, s, recs(l, []any{"A-1", "One", "Lyon", num("3"), "Gold"}))
			requireOK(t, res)
			assert.Nil(t, res[0].KeptEdits)
			assert.Equal(t, "Lyon", byExt(srv, "Account")["A-1"]["BillingCity"])
			assert.Zero(t, inQueries(srv), "no read without expectations")
		})
	}
}

// A value as written and as Salesforce answers it later have one token:
// a number at the field's scale, a picklist in any case.
func TestEditTokensAgree(t *testing.T) {
	srv := differOrg(t)
	c := emuClient(t, srv)
	opt := fastOptions(APIREST)
	opt.KeepHumanEdits = true
	s := emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
	l := sink.NewLayout(editFields, nil)
	res := write(t, s, recs(l, []any{"A-1", "One", sink.NullValue(), num("1.50"), "gold"}))
	requireOK(t, res)
	again := write(t, s, expecting(recs(l, []any{"A-1", "Two", sink.NullValue(), num("1.5"), "GOLD"}), res[0].Wrote))
	requireOK(t, again)
	assert.Nil(t, again[0].KeptEdits, "nobody edited a field")
	assert.Equal(t, "Two", byExt(srv, "Account")["A-1"]["Name"])
	assert.Equal(t, res[0].Wrote[3], again[0].Wrote[3])
	assert.Equal(t, res[0].Wrote[2], again[0].Wrote[2], "null is null")
}

// With only_if_different the one read serves both rails: a record whose
// only change is a field a person edited is not sent at all.
func TestKeepHumanEditsWithOnlyIfDifferent(t *testing.T) {
	for _, job := range []bool{false, true} {
		name := "in lists"
		if job {
			name = "query job"
		}
		t.Run(name, func(t *testing.T) {
			if job {
				lowJobMin(t, 1)
			}
			srv := differOrg(t)
			instance, w := tap(t, srv)
			c := emuClient(t, srv, func(cc *connConfig) { cc.InstanceURL = instance })
			opt := fastOptions(APIBulk)
			opt.KeepHumanEdits, opt.OnlyIfDifferent = true, true
			s := emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
			l := sink.NewLayout(editFields, nil)
			res := write(t, s, recs(l, []any{"A-1", "One", "Oslo", num("1"), "Gold"}, []any{"A-2", "Two", "Rome", num("2"), "Gold"}))
			requireOK(t, res)
			handEdit(t, c, "Account", byExt(srv, "Account")["A-1"]["Id"].(string), map[string]any{"BillingCity": "Bergen"})

			// The next run: a sink of its own, as the job's answer serves
			// one run.
			s = emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
			w.reset()
			srv.ResetRequests()
			again := write(t, s, expecting(recs(l, []any{"A-1", "One", "Paris", num("1"), "Gold"}, []any{"A-2", "Two", "Pisa", num("2"), "Gold"}),
				res[0].Wrote, res[1].Wrote))
			requireOK(t, again)
			assert.Equal(t, sink.SkipUnchanged, again[0].Skipped)
			assert.Equal(t, []string{"BillingCity"}, again[0].KeptEdits)
			assert.Equal(t, map[string][]string{"A-2": {"BillingCity"}}, sentFields(t, w.writes()))
			assert.Equal(t, "Bergen", byExt(srv, "Account")["A-1"]["BillingCity"])
			if job {
				assert.Equal(t, 1, countRequests(srv, "POST", "/jobs/query"))
			} else {
				assert.Equal(t, 1, inQueries(srv))
			}
		})
	}
}

// Tracks: the destination's setting, each entry's own, never the key, and
// nothing for operations that do not update.
func TestTracks(t *testing.T) {
	l := editLayout()
	c := &apiClient{}
	on := newSink(c, Destination{Object: "Account", Operation: Upsert, ExternalID: "External_Id__c", Options: Options{KeepHumanEdits: true}})
	assert.Equal(t, []bool{false, true, true, true, false}, on.Tracks(l))
	off := newSink(c, Destination{Object: "Account", Operation: Upsert, ExternalID: "External_Id__c"})
	assert.Nil(t, off.Tracks(l))
	l.KeepEdits[2] = sink.On
	assert.Equal(t, []bool{false, false, true, false, false}, off.Tracks(l), "an entry turns it on alone")
	ins := newSink(c, Destination{Object: "Account", Operation: Insert})
	assert.Nil(t, ins.Tracks(l))
	assert.Nil(t, on.Tracks(nil))
}

// keep_human_edits is refused where there is no record to compare with.
func TestKeepHumanEditsOperations(t *testing.T) {
	for _, op := range []Operation{Insert, Delete, HardDelete} {
		d := Destination{Object: "Account", Operation: op, Options: Options{KeepHumanEdits: true}}
		var ke *keyError
		require.ErrorAs(t, d.check(), &ke, op)
		assert.Equal(t, "keep_human_edits", ke.key)
	}
	d := Destination{Object: "Account", Operation: Update, Options: Options{KeepHumanEdits: true}}
	assert.NoError(t, d.check())
}

// A failed read of current values fails the write.
func TestKeepHumanEditsReadFails(t *testing.T) {
	srv := differOrg(t)
	c := emuClient(t, srv)
	opt := fastOptions(APIREST)
	opt.KeepHumanEdits = true
	s := emuSink(t, c, "Account", Upsert, "No_Such_Field__c", opt)
	l := sink.NewLayout([]string{"No_Such_Field__c", "Name"}, nil)
	_, err := s.Write(t.Context(), expecting(recs(l, []any{"A-1", "One"}), []string{"", "0123456789abcdef"}))
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Empty(t, live(srv, "Account"))
}

func TestTokenText(t *testing.T) {
	assert.Equal(t, "0000000000000001", tokenText(1))
	assert.Equal(t, "ffffffffffffffff", tokenText(^uint64(0)))
	assert.Equal(t, editHash("x"), editHash("x"))
	assert.NotEqual(t, editHash("x"), editHash("y"))
}

// An update that finds its records by match_on keeps edits too: tokens
// and expectations follow their fields through the found records' own
// layout.
func TestKeepHumanEditsMatchOn(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := differOrg(t)
			c := emuClient(t, srv)
			id := seed(t, srv, "Account", map[string]any{"Name": "One", "External_Id__c": "A-1", "BillingCity": "Oslo"})
			opt := fastOptions(api)
			opt.KeepHumanEdits = true
			s, err := buildSink(c, Destination{Object: "Account", Operation: Update, MatchOn: "External_Id__c", Options: opt})
			require.NoError(t, err)
			l := sink.NewLayout([]string{"Name", "External_Id__c", "BillingCity"}, nil)
			l.KeepEdits = []sink.Choice{sink.Off, sink.Inherit, sink.Inherit}
			res := write(t, s, recs(l, []any{"Uno", "A-1", "Rome"}))
			requireOK(t, res)
			require.Len(t, res[0].Wrote, 3, "by the records' own layout")
			assert.Empty(t, res[0].Wrote[0], "Name keeps no edits")
			assert.Empty(t, res[0].Wrote[1], "match_on is not written")
			assert.NotEmpty(t, res[0].Wrote[2])

			handEdit(t, c, "Account", id, map[string]any{"BillingCity": "Bergen"})
			again := write(t, s, expecting(recs(l, []any{"Due", "A-1", "Pisa"}), res[0].Wrote))
			requireOK(t, again)
			assert.Equal(t, []string{"BillingCity"}, again[0].KeptEdits)
			got := byExt(srv, "Account")["A-1"]
			assert.Equal(t, "Bergen", got["BillingCity"])
			assert.Equal(t, "Due", got["Name"])
		})
	}
}
