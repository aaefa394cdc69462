package salesforce

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

var priorFields = []string{"External_Id__c", "Name", "BillingCity", "Score__c", "Since__c", "Active__c", "Level__c"}

// keep_prior_values: an update's result lists each field it changed with
// the value Salesforce held before, typed, and the token and text of the
// value written; fields it left as they were, and created records, list
// none. The Restorer puts the values back, keeping a field edited since;
// the Deleter deletes by Id.
func TestKeepPriorValuesAndUndo(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := differOrg(t)
			c := emuClient(t, srv)
			opt := fastOptions(api)
			opt.KeepPriorValues = true
			s := emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
			l := sink.NewLayout(priorFields, nil)
			res := write(t, s, recs(l,
				[]any{"A-1", "One", "Oslo", num("1.5"), date("2024-05-01"), sink.BoolValue(true), "Gold"},
				[]any{"A-2", "Two", nil, nil, nil, nil, nil}))
			requireOK(t, res)
			assert.Nil(t, res[0].Prior, "a created record keeps nothing")

			res = write(t, s, recs(l,
				[]any{"A-1", "One", "Paris", num("1.50"), date("2025-01-02"), sink.BoolValue(false), "Gold"},
				[]any{"A-2", "Two", "Rome", num("7"), nil, nil, nil},
				[]any{"A-3", "Three", "Lima", nil, nil, nil, nil}))
			requireOK(t, res)
			byField := func(ps []sink.PriorValue) map[string]sink.PriorValue {
				out := map[string]sink.PriorValue{}
				for _, p := range ps {
					assert.Len(t, p.Wrote, 16, p.Field)
					p.Wrote = ""
					out[p.Field] = p
				}
				return out
			}
			assert.Equal(t, map[string]sink.PriorValue{
				"BillingCity": {Field: "BillingCity", Prior: sink.TextValue("Oslo"), Written: "Paris"},
				"Since__c":    {Field: "Since__c", Prior: date("2024-05-01"), Written: "2025-01-02"},
				"Active__c":   {Field: "Active__c", Prior: sink.BoolValue(true), Written: "false"},
			}, byField(res[0].Prior), "Name, Level__c and the score at its scale are unchanged")
			assert.Equal(t, map[string]sink.PriorValue{
				"BillingCity": {Field: "BillingCity", Prior: sink.NullValue(), Written: "Rome"},
				"Score__c":    {Field: "Score__c", Prior: sink.NullValue(), Written: "7"},
			}, byField(res[1].Prior))
			assert.True(t, res[2].Created)
			assert.Nil(t, res[2].Prior)

			got := byExt(srv, "Account")
			handEdit(t, c, "Account", got["A-2"]["Id"].(string), map[string]any{"BillingCity": "Bergen"})

			// Undo: the prior values back by Id, expecting what was written.
			rs, err := s.Restorer()
			require.NoError(t, err)
			_, tracks := rs.(sink.Tracker)
			assert.False(t, tracks, "the Engine does not track a restorer's fields from its state")
			ul := sink.NewLayout([]string{"Id", "BillingCity", "Since__c", "Active__c", "Score__c"}, nil)
			undo := []sink.Record{{Seq: 1, Layout: ul}, {Seq: 2, Layout: ul}}
			for i, r := range res[:2] {
				vals := make([]sink.Value, len(ul.Fields))
				exp := make([]string, len(ul.Fields))
				vals[0] = sink.TextValue(r.ID)
				for _, p := range r.Prior {
					j := ul.Index(p.Field)
					vals[j], exp[j] = p.Prior, p.Wrote
				}
				undo[i].Values, undo[i].Expect = vals, exp
			}
			back, err := rs.Write(t.Context(), undo)
			require.NoError(t, err)
			requireOK(t, back)
			assert.Nil(t, back[0].KeptEdits)
			assert.Equal(t, []string{"BillingCity"}, back[1].KeptEdits, "edited by hand since: kept")
			got = byExt(srv, "Account")
			assert.Equal(t, "Oslo", got["A-1"]["BillingCity"])
			assert.Equal(t, "2024-05-01", got["A-1"]["Since__c"])
			assert.Equal(t, true, got["A-1"]["Active__c"])
			assert.Equal(t, "Bergen", got["A-2"]["BillingCity"])
			assert.Nil(t, got["A-2"]["Score__c"], "an empty field is emptied again")

			del, err := s.Deleter()
			require.NoError(t, err)
			gone, err := del.Write(t.Context(), []sink.Record{{Seq: 1, Layout: sink.NewLayout([]string{"Id"}, nil), Values: []sink.Value{sink.TextValue(res[2].ID)}}})
			require.NoError(t, err)
			requireOK(t, gone)
			assert.True(t, gone[0].Deleted)
			assert.NotContains(t, byExt(srv, "Account"), "A-3")
			require.NoError(t, rs.Close(t.Context()))
			require.NoError(t, del.Close(t.Context()))
		})
	}
}

func TestKeepPriorValuesErrors(t *testing.T) {
	t.Run("not for insert or delete", func(t *testing.T) {
		for _, op := range []Operation{Insert, Delete} {
			d := Destination{Object: "Account", Operation: op, Options: Options{KeepPriorValues: true}}
			err := d.check()
			require.Error(t, err, op)
			assert.Contains(t, err.Error(), "keep_prior_values")
		}
	})
	t.Run("the current values cannot be read", func(t *testing.T) {
		srv := differOrg(t)
		c := emuClient(t, srv)
		opt := fastOptions(APIREST)
		opt.KeepPriorValues = true
		s := emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
		l := sink.NewLayout(priorFields[:3], nil)
		srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Status: 400, Path: "/query"})
		_, err := s.Write(t.Context(), recs(l, []any{"A-1", "One", "Oslo"}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "keep_prior_values: reading current values")
		assert.Empty(t, byExt(srv, "Account"), "nothing was sent")
	})
	t.Run("records without their key", func(t *testing.T) {
		srv := differOrg(t)
		opt := fastOptions(APIREST)
		opt.KeepPriorValues = true
		s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", opt)
		_, err := s.priors(t.Context(), sink.NewLayout([]string{"Name"}, nil), nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no External_Id__c field")
	})
	t.Run("the describe fails", func(t *testing.T) {
		srv := differOrg(t)
		opt := fastOptions(APIREST)
		opt.KeepPriorValues = true
		s := emuSink(t, emuClient(t, srv), "Nope__c", Update, "", opt)
		_, err := s.priors(t.Context(), sink.NewLayout([]string{"Id", "Name"}, nil), nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "keep_prior_values")
	})
	t.Run("an undo sink of a destination that does not check", func(t *testing.T) {
		s := newSink(emuClient(t, emulator(t)), Destination{Object: "Account", Operation: Update, Options: Options{API: "bogus"}})
		_, err := s.Restorer()
		assert.Error(t, err)
		_, err = s.Deleter()
		assert.Error(t, err)
	})
}

// A current value becomes the sink.Value that writes it back.
func TestPriorValue(t *testing.T) {
	text := &fieldDescribe{Type: "string"}
	cases := []struct {
		f    *fieldDescribe
		cur  any
		want sink.Value
	}{
		{text, nil, sink.NullValue()},
		{text, "", sink.NullValue()},
		{text, "x", sink.TextValue("x")},
		{&fieldDescribe{Type: "boolean"}, false, sink.BoolValue(false)},
		{&fieldDescribe{Type: "double"}, json.Number("1.50"), sink.NumberValue("1.50")},
		{&fieldDescribe{Type: "date"}, "2024-05-01", date("2024-05-01")},
		{&fieldDescribe{Type: "datetime"}, "2024-05-01T10:00:00.000+0000", dt("2024-05-01T10:00:00.000+0000")},
		{text, 3.5, sink.TextValue("3.5")},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, priorValue(c.f, c.cur), "%v", c.cur)
	}
}

// The read keep_prior_values adds is one query per few hundred keys:
// updating 10,000 records costs at most 20 more calls than without it,
// through either API (on the emulator: Bulk 10 → 24, REST 50 → 65).
func TestKeepPriorValuesReadCost(t *testing.T) {
	for _, api := range apis {
		calls := map[bool]int64{}
		for _, keep := range []bool{false, true} {
			srv := differOrg(t)
			opt := fastOptions(api)
			opt.KeepPriorValues = keep
			s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", opt)
			l := sink.NewLayout(priorFields[:3], nil)
			rows := make([][]any, 10_000)
			for i := range rows {
				rows[i] = []any{fmt.Sprintf("A-%05d", i), "N", "Oslo"}
			}
			write(t, s, recs(l, rows...))
			before := s.Stats().Calls
			for i := range rows {
				rows[i][2] = "Paris"
			}
			kept := 0
			for _, r := range write(t, s, recs(l, rows...)) {
				kept += len(r.Prior)
			}
			calls[keep] = s.Stats().Calls - before
			if keep {
				assert.Equal(t, 10_000, kept, api)
			}
		}
		t.Logf("%s: 10,000 updates took %d calls, %d with keep_prior_values", api, calls[false], calls[true])
		assert.Greater(t, calls[true], calls[false], api)
		assert.LessOrEqual(t, calls[true]-calls[false], int64(20), api)
	}
}
