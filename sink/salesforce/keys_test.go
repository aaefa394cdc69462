package salesforce

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

func TestFoldKeyFollowsTheDescribe(t *testing.T) {
	srv := emulator(t)
	srv.DefineObject(sftest.Object{Name: "Thing__c", Fields: []sftest.Field{
		{Name: "Loose__c", Type: sftest.TypeString, ExternalID: true, Unique: true},
		{Name: "Exact__c", Type: sftest.TypeString, ExternalID: true, Unique: true, CaseSensitive: true},
	}})
	c := emuClient(t, srv)
	prepared := func(op Operation, ext, match string) *sfSink {
		s, err := buildSink(c, Destination{Object: "Thing__c", Operation: op, ExternalID: ext, MatchOn: match, Options: fastOptions(APIBulk)})
		require.NoError(t, err)
		fields := []string{"Name"}
		switch {
		case ext != "":
			fields = append(fields, ext)
		case match != "":
			fields = append(fields, match)
		case op != Insert:
			fields = append(fields, "Id")
		}
		require.NoError(t, s.Preflight(context.Background(), sink.NewLayout(fields, nil)))
		return s
	}
	const id15 = "001000000000aBc"
	cases := []struct {
		name string
		s    *sfSink
		a, b string
		same bool
	}{
		{"external id, not case-sensitive", prepared(Upsert, "Loose__c", ""), "A-010", "a-010", true},
		{"external id, case-sensitive", prepared(Upsert, "Exact__c", ""), "A-010", "a-010", false},
		{"match_on, not case-sensitive", prepared(Update, "", "Loose__c"), "X", "x", true},
		{"Id: 15 and 18 characters", prepared(Update, "", ""), id15, toID18(id15), true},
		{"Id: 18 characters in another case", prepared(Delete, "", ""), toID18(id15), strings.ToUpper(toID18(id15)), true},
		{"Id: two records", prepared(Update, "", ""), "001000000000aBc", "001000000000abc", false},
		{"insert has no key rule", prepared(Insert, "", ""), "k", "K", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.same, tc.s.FoldKey(tc.a) == tc.s.FoldKey(tc.b), "%q vs %q", tc.s.FoldKey(tc.a), tc.s.FoldKey(tc.b))
		})
	}
}
