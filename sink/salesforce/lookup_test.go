package salesforce

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
)

// Lookups by external id: Account.External_Id__c on Contact, and
// Parent.External_Id__c on Account itself.
func TestLookups(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			seed(t, srv, "Account", map[string]any{"Name": "Parent", "External_Id__c": "P-1"})
			c := emuClient(t, srv)

			accts := emuSink(t, c, "Account", Upsert, "External_Id__c", fastOptions(api))
			la := sink.NewLayout([]string{"External_Id__c", "Name", "Parent.External_Id__c"}, nil)
			res := write(t, accts, recs(la, []any{"A-1", "Child", "P-1"}, []any{"A-2", "Orphan", "NOPE"}))
			assert.Nil(t, res[0].Err)
			require.NotNil(t, res[1].Err, "a lookup to a missing parent fails the record")
			assert.NotEmpty(t, res[1].Err.Code)

			contacts := emuSink(t, c, "Contact", Insert, "", fastOptions(api))
			lc := sink.NewLayout([]string{"LastName", "External_Id__c", "Account.External_Id__c"}, nil)
			requireOK(t, write(t, contacts, recs(lc, []any{"Doe", "C-1", "A-1"}, []any{"Roe", "C-2", nil})))

			a := byExt(srv, "Account")
			assert.Equal(t, a["P-1"]["Id"], a["A-1"]["ParentId"])
			ct := byExt(srv, "Contact")
			assert.Equal(t, a["A-1"]["Id"], ct["C-1"]["AccountId"])
			assert.Nil(t, ct["C-2"]["AccountId"])

			// A null lookup clears the reference.
			up := emuSink(t, c, "Contact", Upsert, "External_Id__c", fastOptions(api))
			requireOK(t, write(t, up, recs(lc, []any{nil, "C-1", sink.NullValue()})))
			assert.Nil(t, byExt(srv, "Contact")["C-1"]["AccountId"])
		})
	}
}

func TestReferenceField(t *testing.T) {
	desc := &objectDescribe{Fields: []fieldDescribe{{Name: "Owner_Ref__c", RelationshipName: "Owner__r"}}}
	cases := []struct {
		desc *objectDescribe
		rel  string
		want string
	}{
		{desc, "Owner__r", "Owner_Ref__c"},
		{nil, "Parent__r", "Parent__c"},
		{nil, "Account", "AccountId"},
		{desc, "Account", "AccountId"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, referenceField(c.desc, c.rel), c.rel)
	}
}

func TestJSONBody(t *testing.T) {
	l := sink.NewLayout([]string{"Name", "Amount__c", "Flag__c", "Account.External_Id__c", "Parent__r.Key__c", "Note__c"}, nil)
	srv := emulator(t)
	sh := emuSink(t, emuClient(t, srv), "Thing__c", Insert, "", Options{}).newJSONShape(l)
	in := recs(l,
		[]any{"<a & b>", sink.NumberValue("-12.50"), sink.BoolValue(true), "A-1", sink.NullValue(), nil},
		[]any{sink.NullValue(), sink.NumberValue("007"), sink.Value{Kind: sink.Bool, S: "yes"}, sink.NullValue(), "K", sink.Value{Kind: sink.Date, S: "2024-05-01"}},
		[]any{nil, sink.NumberValue("+1"), nil, nil, nil, nil},
		[]any{nil, sink.NumberValue(""), nil, nil, nil, nil},
		[]any{nil, nil, nil, sink.NullValue(), sink.NullValue(), nil},
	)
	want := `{"allOrNone":false,"records":[` +
		`{"attributes":{"type":"Thing__c"},"Name":"\u003ca \u0026 b\u003e","Amount__c":-12.50,"Flag__c":true,"Account":{"External_Id__c":"A-1"},"Parent__c":null},` +
		`{"attributes":{"type":"Thing__c"},"Name":null,"Amount__c":"007","Flag__c":"yes","AccountId":null,"Parent__r":{"Key__c":"K"},"Note__c":"2024-05-01"},` +
		`{"attributes":{"type":"Thing__c"},"Amount__c":"+1"},{"attributes":{"type":"Thing__c"},"Amount__c":""},` +
		`{"attributes":{"type":"Thing__c"},"AccountId":null,"Parent__c":null}]}`
	assert.JSONEq(t, want, string(sh.body(in)))

	// Two lookups through one relationship clear its reference field once.
	two := sink.NewLayout([]string{"Account.External_Id__c", "Account.Id"}, nil)
	sh2 := emuSink(t, emuClient(t, srv), "Contact", Insert, "", Options{}).newJSONShape(two)
	assert.Equal(t, `{"allOrNone":false,"records":[{"attributes":{"type":"Contact"},"AccountId":null}]}`,
		string(sh2.body(recs(two, []any{sink.NullValue(), sink.NullValue()}))))
}

// The JSON string writer agrees with encoding/json, byte for byte.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\s`, "\n\r\t\b\f\x00\x1f", "é\u2028\u2029", "\xff\xfe", "<a&b>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(got, &back), "%q", got)
		want, _ := json.Marshal(s)
		var wantBack string
		require.NoError(t, json.Unmarshal(want, &wantBack))
		assert.Equal(t, wantBack, back)
	})
}
