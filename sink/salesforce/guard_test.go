package salesforce

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
)

// set_if_empty sends a guarded value only where the record does not hold
// one yet: existing and populated keeps its value, existing and empty gets
// it, a new record gets it.
func TestSetIfEmpty(t *testing.T) {
	for _, api := range apis {
		t.Run(api+"/upsert", func(t *testing.T) {
			srv := emulator(t)
			seed(t, srv, "Account", map[string]any{"Name": "Populated", "External_Id__c": "A-1", "Phone": "111", "Website": "old.example"})
			seed(t, srv, "Account", map[string]any{"Name": "Empty", "External_Id__c": "a-2"})
			s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(api))
			l := sink.NewLayout([]string{"External_Id__c", "Name", "Phone", "Website"}, []bool{false, false, true, true})
			in := recs(l,
				[]any{"A-1", "Populated!", "999", "new.example"},
				// The external id matches without regard to case.
				[]any{"A-2", "Empty!", "222", sink.NullValue()},
				[]any{"A-3", "New", "333", "new.example"},
			)
			before := append([]sink.Value(nil), in[0].Values...)
			res := write(t, s, in)
			requireOK(t, res)
			assert.Equal(t, []string{"Phone", "Website"}, res[0].KeptBack)
			assert.Empty(t, res[1].KeptBack)
			assert.Empty(t, res[2].KeptBack)
			assert.Equal(t, before, in[0].Values, "the caller's records are not changed")

			got := byExt(srv, "Account")
			assert.Equal(t, "Populated!", got["A-1"]["Name"], "unguarded fields are written")
			assert.Equal(t, "111", got["A-1"]["Phone"])
			assert.Equal(t, "old.example", got["A-1"]["Website"])
			assert.Equal(t, "222", got["a-2"]["Phone"])
			assert.Nil(t, got["a-2"]["Website"])
			assert.Equal(t, "333", got["A-3"]["Phone"])
			assert.Equal(t, "new.example", got["A-3"]["Website"])
		})
		t.Run(api+"/update", func(t *testing.T) {
			srv := emulator(t)
			id1 := seed(t, srv, "Account", map[string]any{"Name": "Populated", "Phone": "111"})
			id2 := seed(t, srv, "Account", map[string]any{"Name": "Empty"})
			s := emuSink(t, emuClient(t, srv), "Account", Update, "", fastOptions(api))
			l := sink.NewLayout([]string{"Id", "Phone"}, []bool{false, true})
			res := write(t, s, recs(l, []any{id1[:15], "999"}, []any{id2, "222"}, []any{nil, "444"}, []any{id1, nil}))
			assert.Equal(t, []string{"Phone"}, res[0].KeptBack)
			assert.Empty(t, res[1].KeptBack)
			assert.NotNil(t, res[2].Err, "an update without an Id fails alone")
			assert.Empty(t, res[3].KeptBack, "an absent guarded value is not kept back")
			phones := map[string]any{}
			for _, r := range live(srv, "Account") {
				phones[r["Id"].(string)] = r["Phone"]
			}
			assert.Equal(t, "111", phones[id1])
			assert.Equal(t, "222", phones[id2])
		})
	}
}

// A guarded lookup counts as populated when the record already points to a parent.
func TestSetIfEmptyLookup(t *testing.T) {
	srv := emulator(t)
	seed(t, srv, "Account", map[string]any{"Name": "P1", "External_Id__c": "P-1"})
	seed(t, srv, "Account", map[string]any{"Name": "P2", "External_Id__c": "P-2"})
	seed(t, srv, "Contact", map[string]any{"LastName": "Linked", "External_Id__c": "C-1", "Account": map[string]any{"External_Id__c": "P-1"}})
	seed(t, srv, "Contact", map[string]any{"LastName": "Loose", "External_Id__c": "C-2"})
	s := emuSink(t, emuClient(t, srv), "Contact", Upsert, "External_Id__c", fastOptions(APIBulk))
	l := sink.NewLayout([]string{"External_Id__c", "Account.External_Id__c"}, []bool{false, true})
	res := write(t, s, recs(l, []any{"C-1", "P-2"}, []any{"C-2", "P-2"}))
	requireOK(t, res)
	assert.Equal(t, []string{"Account.External_Id__c"}, res[0].KeptBack)
	accts := byExt(srv, "Account")
	got := byExt(srv, "Contact")
	assert.Equal(t, accts["P-1"]["Id"], got["C-1"]["AccountId"])
	assert.Equal(t, accts["P-2"]["Id"], got["C-2"]["AccountId"])
}

// When every guarded value of a Bulk load is kept back, its column is not
// uploaded at all.
func TestSetIfEmptyDropsEmptyColumn(t *testing.T) {
	srv := emulator(t)
	seed(t, srv, "Account", map[string]any{"Name": "P", "External_Id__c": "A-1", "Phone": "111"})
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
	l := sink.NewLayout([]string{"External_Id__c", "Phone"}, []bool{false, true})
	res := write(t, s, recs(l, []any{"A-1", "999"}))
	requireOK(t, res)
	assert.Equal(t, []string{"Phone"}, res[0].KeptBack)
	assert.Equal(t, "111", byExt(srv, "Account")["A-1"]["Phone"])
}

func TestSetIfEmptyErrors(t *testing.T) {
	srv := emulator(t)
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(APIREST))
	t.Run("no key field", func(t *testing.T) {
		l := sink.NewLayout([]string{"Name", "Phone"}, []bool{false, true})
		_, err := s.Write(t.Context(), recs(l, []any{"x", "1"}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no External_Id__c field")
	})
	t.Run("query fails", func(t *testing.T) {
		l := sink.NewLayout([]string{"External_Id__c", "No_Such__c"}, []bool{false, true})
		_, err := s.Write(t.Context(), recs(l, []any{"A-1", "1"}))
		require.Error(t, err)
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, "INVALID_FIELD", ae.Code)
	})
	t.Run("no keys to read", func(t *testing.T) {
		l := sink.NewLayout([]string{"External_Id__c", "Name", "Phone"}, []bool{false, false, true})
		srv.ResetRequests()
		write(t, s, recs(l, []any{nil, "x", "1"}))
		assert.Zero(t, countRequests(srv, "GET", "/query"))
	})
	t.Run("insert and delete do not read", func(t *testing.T) {
		ins := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(APIREST))
		l := sink.NewLayout([]string{"Name", "Phone"}, []bool{false, true})
		srv.ResetRequests()
		requireOK(t, write(t, ins, recs(l, []any{"x", "1"})))
		assert.Zero(t, countRequests(srv, "GET", "/query"))
	})
}

func TestIsEmptyValue(t *testing.T) {
	cases := []struct {
		v    any
		want bool
	}{{nil, true}, {"", true}, {"  ", true}, {"x", false}, {false, false}, {currentRow{}, true}, {currentRow{"a": 1}, false}}
	for _, c := range cases {
		assert.Equal(t, c.want, isEmptyValue(c.v), "%v", c.v)
	}
}
