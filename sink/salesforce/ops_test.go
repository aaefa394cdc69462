package salesforce

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
)

var apis = []string{APIBulk, APIREST}

func TestInsert(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			s := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(api))
			l := sink.NewLayout([]string{"Name", "External_Id__c", "NumberOfEmployees", "Description", "Phone"}, nil)
			res := write(t, s, recs(l,
				[]any{"Acme", "A-1", sink.NumberValue("12"), "line one\nline \"two\", three", nil},
				[]any{" Spaced ", "A-2", sink.NullValue(), sink.NullValue(), "555"},
				[]any{"Acme", "A-3", sink.NumberValue("12"), "line one\nline \"two\", three", nil},
			))
			requireOK(t, res)
			got := byExt(srv, "Account")
			require.Len(t, got, 3)
			for i, k := range []string{"A-1", "A-2", "A-3"} {
				assert.Equal(t, got[k]["Id"], res[i].ID, k)
				assert.True(t, res[i].Created)
			}
			assert.Equal(t, "line one\nline \"two\", three", got["A-1"]["Description"])
			assert.EqualValues(t, 12, got["A-1"]["NumberOfEmployees"])
			assert.Nil(t, got["A-1"]["Phone"])
			assert.Equal(t, "555", got["A-2"]["Phone"])
			assert.Nil(t, got["A-2"]["NumberOfEmployees"])
			assert.Equal(t, api, s.Stats().API)
		})
	}
}

func TestUpdate(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			id1 := seed(t, srv, "Account", map[string]any{"Name": "One", "External_Id__c": "A-1", "Phone": "111", "Description": "keep"})
			id2 := seed(t, srv, "Account", map[string]any{"Name": "Two", "External_Id__c": "A-2", "Phone": "222", "Description": "drop"})
			s := emuSink(t, emuClient(t, srv), "Account", Update, "", fastOptions(api))
			l := sink.NewLayout([]string{"Id", "Name", "Phone", "Description"}, nil)
			res := write(t, s, recs(l,
				// A 15-character Id is accepted as Salesforce accepts it.
				[]any{id1[:15], "One!", nil, nil},
				[]any{id2, "Two!", "999", sink.NullValue()},
			))
			requireOK(t, res)
			assert.Equal(t, id1, toID18(res[0].ID))
			assert.Equal(t, id2, res[1].ID)
			assert.False(t, res[0].Created)
			got := byExt(srv, "Account")
			assert.Equal(t, "One!", got["A-1"]["Name"])
			assert.Equal(t, "111", got["A-1"]["Phone"], "absent leaves the field")
			assert.Equal(t, "keep", got["A-1"]["Description"])
			assert.Equal(t, "999", got["A-2"]["Phone"])
			assert.Nil(t, got["A-2"]["Description"], "null clears the field")
		})
	}
}

func TestUpsert(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			id1 := seed(t, srv, "Account", map[string]any{"Name": "One", "External_Id__c": "A-1"})
			s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(api))
			l := sink.NewLayout([]string{"External_Id__c", "Name"}, nil)
			res := write(t, s, recs(l, []any{"A-1", "One!"}, []any{"A-2", "Two"}))
			requireOK(t, res)
			assert.Equal(t, id1, res[0].ID)
			assert.False(t, res[0].Created)
			assert.True(t, res[1].Created)
			got := byExt(srv, "Account")
			require.Len(t, got, 2)
			assert.Equal(t, "One!", got["A-1"]["Name"])
			assert.Equal(t, res[1].ID, got["A-2"]["Id"])
		})
	}
}

func TestDelete(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			id1 := seed(t, srv, "Account", map[string]any{"Name": "One"})
			id2 := seed(t, srv, "Account", map[string]any{"Name": "Two"})
			seed(t, srv, "Account", map[string]any{"Name": "Stays"})
			s := emuSink(t, emuClient(t, srv), "Account", Delete, "", fastOptions(api))
			l := sink.NewLayout([]string{"Id", "Name"}, nil)
			res := write(t, s, recs(l, []any{id1, "ignored"}, []any{"001000000000000AAA", nil}, []any{id2, nil}))
			assert.Nil(t, res[0].Err)
			assert.Nil(t, res[2].Err)
			require.NotNil(t, res[1].Err)
			assert.NotEmpty(t, res[1].Err.Code)
			left := live(srv, "Account")
			require.Len(t, left, 1)
			assert.Equal(t, "Stays", left[0]["Name"])
			// A soft delete keeps the records in the recycle bin.
			assert.Len(t, srv.Records("Account"), 3)
		})
	}
}

func TestHardDeleteUsesBulk(t *testing.T) {
	srv := emulator(t)
	id1 := seed(t, srv, "Account", map[string]any{"Name": "One"})
	seed(t, srv, "Account", map[string]any{"Name": "Stays"})
	s := emuSink(t, emuClient(t, srv), "Account", HardDelete, "", fastOptions(APIREST))
	res := write(t, s, recs(sink.NewLayout([]string{"Id"}, nil), []any{id1}))
	requireOK(t, res)
	assert.Len(t, srv.Records("Account"), 1)
	assert.Equal(t, APIBulk, s.Stats().API)
	assert.Len(t, srv.Jobs(), 1)
	assert.Equal(t, "hardDelete", srv.Jobs()[0].Operation)
}

// A row Salesforce rejects fails alone, with Salesforce's code and message,
// and its neighbours land.
func TestMixedBatch(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			s := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(api))
			l := sink.NewLayout([]string{"Name", "External_Id__c", "Industry"}, nil)
			res := write(t, s, recs(l,
				[]any{"Good 1", "G-1", "Banking"},
				[]any{nil, "B-1", nil}, // no Name
				[]any{"Good 2", "G-2", nil},
				[]any{"Bad industry", "B-2", "Basket weaving"}, // not a picklist value (restricted or not, the emulator decides)
				[]any{"Good 3", "G-1", nil},                    // duplicate external id of record 0
			))
			assert.Nil(t, res[0].Err)
			assert.Nil(t, res[2].Err)
			require.NotNil(t, res[1].Err)
			assert.Equal(t, "REQUIRED_FIELD_MISSING", res[1].Err.Code)
			assert.Contains(t, res[1].Err.Message, "Name")
			assert.Equal(t, []string{"Name"}, res[1].Err.Fields)
			require.NotNil(t, res[4].Err)
			assert.Equal(t, "DUPLICATE_VALUE", res[4].Err.Code)
			got := byExt(srv, "Account")
			assert.Contains(t, got, "G-2")
			assert.Equal(t, "Good 1", got["G-1"]["Name"])
			assert.NotContains(t, got, "B-1")
			n := 0
			for _, r := range res {
				if r.Err == nil {
					n++
				}
			}
			assert.Equal(t, n, len(live(srv, "Account")), "every success and only successes landed")
		})
	}
}
