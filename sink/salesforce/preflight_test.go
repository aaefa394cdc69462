package salesforce

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

var widget = sftest.Object{Name: "Widget__c", Fields: []sftest.Field{
	{Name: "Key__c", Type: sftest.TypeString, ExternalID: true, Unique: true},
	{Name: "Plain__c", Type: sftest.TypeString},
	{Name: "Locked__c", Type: sftest.TypeString, NotUpdateable: true},
	{Name: "Computed__c", Type: sftest.TypeString, NotCreateable: true},
	{Name: "Account__c", Type: sftest.TypeReference, ReferenceTo: "Account", RelationshipName: "Account__r"},
}}

func TestPreflight(t *testing.T) {
	cases := []struct {
		name   string
		op     Operation
		ext    string
		fields []string
		want   []string // problems expected in the error; none means it passes
	}{
		{"insert ok", Insert, "", []string{"Plain__c", "Locked__c", "Account__r.External_Id__c"}, nil},
		{"update ok", Update, "", []string{"Id", "Plain__c", "Computed__c"}, nil},
		{"upsert ok", Upsert, "Key__c", []string{"key__c", "Plain__c"}, nil},
		{"delete ok", Delete, "", []string{"Id", "Nonsense__c"}, nil},
		{"unknown field", Insert, "", []string{"Nope__c", "Plain__c"}, []string{"Nope__c is not a field of Widget__c"}},
		{"not createable", Insert, "", []string{"Computed__c"}, []string{"Widget__c.Computed__c is not createable"}},
		{"not updateable", Update, "", []string{"Id", "Locked__c"}, []string{"Widget__c.Locked__c is not updateable"}},
		{"upsert needs both", Upsert, "Key__c", []string{"Key__c", "Locked__c", "Computed__c"},
			[]string{"Locked__c is not updateable", "Computed__c is not createable"}},
		{"update needs Id", Update, "", []string{"Plain__c"}, []string{"operation update needs the Id field"}},
		{"delete needs Id", HardDelete, "", []string{"Plain__c"}, []string{"needs the Id field"}},
		{"upsert key missing", Upsert, "Key__c", []string{"Plain__c"}, []string{"needs the Key__c field"}},
		{"upsert key not external", Upsert, "Plain__c", []string{"Plain__c"}, []string{"Widget__c.Plain__c is not an External ID field"}},
		{"upsert key unknown", Upsert, "Gone__c", []string{"Gone__c"}, []string{"match_on Gone__c is not a field"}},
		{"unknown relationship", Insert, "", []string{"Owner__r.Key__c"}, []string{"Owner__r is not a relationship of Widget__c"}},
		{"lookup field not external", Insert, "", []string{"Account__r.Name"}, []string{"Name is not an External ID field of Account"}},
		{"lookup by Id", Insert, "", []string{"Account__r.Id"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := emulator(t, sftest.WithObject(widget))
			s := emuSink(t, emuClient(t, srv), "Widget__c", c.op, c.ext, fastOptions(APIREST))
			err := s.Preflight(context.Background(), sink.NewLayout(c.fields, nil))
			if len(c.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestPreflightObject(t *testing.T) {
	srv := emulator(t)
	s := emuSink(t, emuClient(t, srv), "Nothing__c", Insert, "", fastOptions(APIREST))
	err := s.Preflight(context.Background(), sink.NewLayout([]string{"Name"}, nil))
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Contains(t, err.Error(), "describe Nothing__c")
}

// Describes are read once per connection and object, whichever sink asks.
func TestDescribeCached(t *testing.T) {
	srv := emulator(t, sftest.WithObject(widget))
	c := emuClient(t, srv)
	l := sink.NewLayout([]string{"Plain__c", "Account__r.External_Id__c"}, nil)
	for i := 0; i < 3; i++ {
		s := emuSink(t, c, "Widget__c", Insert, "", fastOptions(APIREST))
		require.NoError(t, s.Preflight(context.Background(), l))
	}
	assert.Equal(t, 1, countRequests(srv, "GET", "/sobjects/Widget__c/describe"))
	assert.Equal(t, 1, countRequests(srv, "GET", "/sobjects/Account/describe"))
}

func TestDescribe(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	d, err := c.Describe(context.Background(), "contact")
	require.NoError(t, err)
	assert.Equal(t, "Contact", d.Name)
	f := d.Relationship("account")
	require.NotNil(t, f)
	assert.Equal(t, "AccountId", f.Name)
	assert.Equal(t, []string{"Account"}, f.ReferenceTo)
	assert.True(t, d.Field("external_id__c").ExternalID)
	assert.Nil(t, d.Field("Nope"))
	assert.Nil(t, d.Relationship("Nope"))
	_, err = c.Describe(context.Background(), "Bad Name")
	assert.ErrorContains(t, err, "not an object name")
}
