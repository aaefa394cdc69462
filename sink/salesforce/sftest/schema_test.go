package sftest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSchemaFile(t *testing.T) {
	srv, c := start(t, WithSchemaFile("testdata/schema.yaml"))
	acct := mustInsert(t, srv, "Account", map[string]any{"Name": "Acme", "Tier__c": "Gold", "Score__c": 12.345})
	assert.Equal(t, 12.35, srv.Records("Account")[0]["Score__c"])
	st, body := c.call("POST", v+"/sobjects/Invoice__c", map[string]any{
		"Name": "INV-1", "Number__c": "N-1", "Amount__c": 10.5, "Status__c": "paid", "Account__r": map[string]any{"Id": acct},
		"Lines__c": 3, "Legacy_Key__c": "K",
	})
	require.Equal(t, 201, st, "%v", body)
	id := obj(body)["id"].(string)
	assert.Equal(t, "a0I", id[:3])
	rec := srv.Records("Invoice__c")[0]
	assert.Equal(t, "Paid", rec["Status__c"])
	assert.Equal(t, acct, rec["Account__c"])
	assert.Equal(t, int64(3), rec["Lines__c"])
	assert.Equal(t, false, rec["Paid__c"])

	st, body = c.call("POST", v+"/sobjects/Invoice__c", map[string]any{"Name": "INV-2", "Number__c": "N-2"})
	assert.Equal(t, 400, st)
	code, msg := restErr(t, body)
	assert.Equal(t, "REQUIRED_FIELD_MISSING", code)
	assert.Equal(t, "Required fields are missing: [Amount__c]", msg)
	st, body = c.call("PATCH", v+"/sobjects/Invoice__c/"+id, map[string]any{"Legacy_Key__c": "L"})
	assert.Equal(t, 400, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "INVALID_FIELD_FOR_INSERT_UPDATE", code)
	st, body = c.call("GET", v+"/query?q="+q("SELECT Name, Account__r.Name FROM Invoice__c"), nil)
	require.Equal(t, 200, st)
	assert.Equal(t, "Acme", obj(obj(obj(body)["records"].([]any)[0])["Account__r"])["Name"])
}

func TestSchemaErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "objects:\n  - name: A__c\n    fields:\n      - name: X__c\n        type: string\n        lenght: 5\n", `[6:9] unknown field "lenght"`},
		{"unknown top key", "object: []\n", `[1:1] unknown field "object"`},
		{"duplicate key", "objects:\n  - name: A__c\n    name: B__c\n", "already defined"},
		{"bad type value", "objects:\n  - name: A__c\n    fields:\n      - name: X__c\n        type: blob\n", `unknown type "blob"`},
		{"no object name", "objects:\n  - label: A\n", "objects[0] has no name"},
		{"no field name", "objects:\n  - name: A__c\n    fields:\n      - type: string\n", "A__c.fields[0] has no name"},
		{"contradiction", "objects:\n  - name: A__c\n    fields:\n      - name: X__c\n        type: string\n        required: true\n        nillable: true\n", "contradict"},
		{"not yaml", "objects: [\n", "schema:"},
		{"standard object name", "objects:\n  - name: Widget\n", "custom object names end in __c"},
		{"standard field without suffix", "objects:\n  - name: Account\n    fields:\n      - name: Tier\n        type: string\n", "must end in __c"},
		{"system field", "objects:\n  - name: A__c\n    fields:\n      - name: Id\n        type: string\n", "system field"},
		{"reference without target", "objects:\n  - name: A__c\n    fields:\n      - name: X__c\n        type: reference\n", "needs referenceTo"},
		{"reference to unknown", "objects:\n  - name: A__c\n    fields:\n      - name: X__c\n        type: reference\n        referenceTo: Nope__c\n", "unknown object Nope__c"},
		{"referenceTo on text", "objects:\n  - name: A__c\n    fields:\n      - name: X__c\n        type: string\n        referenceTo: Account\n", "need type reference"},
		{"external boolean", "objects:\n  - name: A__c\n    fields:\n      - name: X__c\n        type: boolean\n        externalId: true\n", "externalId needs"},
		{"type id", "objects:\n  - name: A__c\n    fields:\n      - name: X__c\n        type: id\n", "reserved"},
		{"bad scale", "objects:\n  - name: A__c\n    fields:\n      - name: X__c\n        type: double\n        precision: 2\n        scale: 3\n", "invalid length"},
		{"bad prefix", "objects:\n  - name: A__c\n    keyPrefix: a-\n", "keyPrefix must be 3"},
		{"taken prefix", "objects:\n  - name: A__c\n    keyPrefix: '001'\n", "already used by Account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(WithSchemaYAML([]byte(tc.yaml)))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := Start(WithSchemaFile(filepath.Join(t.TempDir(), "missing.yaml")))
	assert.Error(t, err)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("objects:\n  - nme: X__c\n"), 0o600))
	_, err = Start(WithSchemaFile(bad))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `[2:5] unknown field "nme"`)
	assert.Contains(t, err.Error(), "bad.yaml")
	assert.Panics(t, func() { NewServer(WithSchemaYAML([]byte("x: 1"))) })
	assert.Error(t, (&Server{org: newOrg()}).DefineObject(Object{}))
	for _, o := range []Option{WithSessionTTL(0), WithAPILimit(0), WithQueryBatchSize(0), WithMaxUploadBytes(0)} {
		_, err := Start(o)
		assert.Error(t, err)
	}
	_, err = Start(WithAddr("256.0.0.1:99999"))
	assert.Error(t, err)
}

func TestSchemaAuthAndPrefixes(t *testing.T) {
	srv, err := Start(WithSchemaYAML([]byte("auth:\n  username: u@example.com\n  password: p\n  clientId: c\n  clientSecret: s\nobjects:\n  - name: One__c\n  - name: Two__c\n")))
	require.NoError(t, err)
	defer srv.Close()
	assert.Equal(t, "u@example.com", srv.cfg.username)
	a := mustInsert(t, srv, "One__c", map[string]any{"Name": "x"})
	b := mustInsert(t, srv, "Two__c", map[string]any{"Name": "y"})
	assert.Equal(t, "a0A", a[:3])
	assert.Equal(t, "a0B", b[:3])
	_, err = srv.Insert("Nope__c", nil)
	assert.Error(t, err)
	_, err = srv.Insert("One__c", map[string]any{})
	assert.ErrorContains(t, err, "REQUIRED_FIELD_MISSING")
	assert.Nil(t, srv.Records("Nope__c"))

	// Redefining an object adds fields; existing records read null there.
	require.NoError(t, srv.DefineObject(Object{Name: "One__c", Fields: []Field{{Name: "Later__c", Type: TypeString, ExternalID: true}}}))
	assert.Nil(t, srv.Records("One__c")[0]["Later__c"])
	require.NoError(t, srv.DefineObject(Object{Name: "One__c", Fields: []Field{{Name: "Later__c", Type: TypeInt}}}))
	mustInsert(t, srv, "One__c", map[string]any{"Name": "z", "Later__c": 4})
	assert.Equal(t, int64(4), srv.Records("One__c")[1]["Later__c"])
}

// Standard Description fields hold 32,000 characters on Account, Contact,
// Lead and Opportunity, as describe says and saves enforce.
func TestDescriptionLength(t *testing.T) {
	srv, c := start(t)
	required := map[string]map[string]any{
		"Account":     {"Name": "A"},
		"Contact":     {"LastName": "C"},
		"Lead":        {"LastName": "L", "Company": "Co"},
		"Opportunity": {"Name": "O", "StageName": "Prospecting", "CloseDate": "2026-01-01"},
	}
	for name, fields := range required {
		st, body := c.call("GET", v+"/sobjects/"+name+"/describe", nil)
		require.Equal(t, 200, st)
		var length any
		for _, f := range obj(body)["fields"].([]any) {
			if f.(map[string]any)["name"] == "Description" {
				length = f.(map[string]any)["length"]
			}
		}
		assert.Equal(t, json.Number("32000"), length, name)
		fields["Description"] = strings.Repeat("d", 32000)
		_, err := srv.Insert(name, fields)
		assert.NoError(t, err, name)
		fields["Description"] = strings.Repeat("d", 32001)
		st, body = c.call("POST", v+"/sobjects/"+name, fields)
		assert.Equal(t, 400, st, name)
		code, _ := restErr(t, body)
		assert.Equal(t, "STRING_TOO_LONG", code, name)
	}
}
