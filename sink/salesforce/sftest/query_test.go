package sftest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func seedQueryData(t *testing.T, srv *Server) map[string]string {
	ids := map[string]string{}
	ids["acme"] = mustInsert(t, srv, "Account", map[string]any{"Name": "Acme", "External_Id__c": "A-1", "Industry": "Banking", "NumberOfEmployees": 100, "AnnualRevenue": 5000})
	ids["globex"] = mustInsert(t, srv, "Account", map[string]any{"Name": "Globex", "External_Id__c": "A-2", "Industry": "Retail", "NumberOfEmployees": 20, "ParentId": ids["acme"]})
	ids["initech"] = mustInsert(t, srv, "Account", map[string]any{"Name": "Initech's \"Best\"", "External_Id__c": "A-3"})
	ids["smith"] = mustInsert(t, srv, "Contact", map[string]any{"FirstName": "Ann", "LastName": "Smith", "AccountId": ids["acme"], "Birthdate": "1990-05-01", "HasOptedOutOfEmail": true, "Email": "ann@example.com"})
	ids["jones"] = mustInsert(t, srv, "Contact", map[string]any{"LastName": "Jones", "AccountId": ids["globex"], "Birthdate": "1985-01-02"})
	ids["doe"] = mustInsert(t, srv, "Contact", map[string]any{"LastName": "Doe"})
	return ids
}

func queryNames(t *testing.T, c *client, soql string) []string {
	t.Helper()
	st, body := c.call("GET", v+"/query?q="+q(soql), nil)
	require.Equal(t, 200, st, "%s: %v", soql, body)
	var out []string
	for _, r := range obj(body)["records"].([]any) {
		m := obj(r)
		name, _ := m["Name"].(string)
		if name == "" {
			name, _ = m["LastName"].(string)
		}
		out = append(out, name)
	}
	return out
}

func TestQueryFilters(t *testing.T) {
	srv, c := start(t)
	ids := seedQueryData(t, srv)
	today := time.Now().UTC().Format("2006-01-02")
	for _, tc := range []struct {
		soql string
		want []string
	}{
		{"SELECT Name FROM Account", []string{"Acme", "Globex", `Initech's "Best"`}},
		{"select name from account where name = 'acme'", []string{"Acme"}},
		{"SELECT Name FROM Account WHERE Name != 'Acme'", []string{"Globex", `Initech's "Best"`}},
		{"SELECT Name FROM Account WHERE Name <> 'Acme' AND Name != 'Globex'", []string{`Initech's "Best"`}},
		{`SELECT Name FROM Account WHERE Name = 'Initech\'s \"Best\"'`, []string{`Initech's "Best"`}},
		{"SELECT Name FROM Account WHERE NumberOfEmployees > 50", []string{"Acme"}},
		{"SELECT Name FROM Account WHERE NumberOfEmployees >= 20 ORDER BY Name DESC", []string{"Globex", "Acme"}},
		{"SELECT Name FROM Account WHERE NumberOfEmployees < 100", []string{"Globex"}},
		{"SELECT Name FROM Account WHERE NumberOfEmployees <= 100.0", []string{"Acme", "Globex"}},
		{"SELECT Name FROM Account WHERE NumberOfEmployees = null", []string{`Initech's "Best"`}},
		{"SELECT Name FROM Account WHERE Industry != null", []string{"Acme", "Globex"}},
		{"SELECT Name FROM Account WHERE Industry IN ('banking', 'Retail')", []string{"Acme", "Globex"}},
		{"SELECT Name FROM Account WHERE Industry NOT IN ('Banking')", []string{"Globex", `Initech's "Best"`}},
		{"SELECT Name FROM Account WHERE External_Id__c IN ('A-1','A-3') AND (Industry = null OR Industry = 'Banking')", []string{"Acme", `Initech's "Best"`}},
		{"SELECT Name FROM Account WHERE NOT Name = 'Acme'", []string{"Globex", `Initech's "Best"`}},
		{"SELECT Name FROM Account WHERE (Name = 'Acme' OR Name = 'Globex') AND NumberOfEmployees > 50", []string{"Acme"}},
		{"SELECT Name FROM Account WHERE Name LIKE 'ac%'", []string{"Acme"}},
		{"SELECT Name FROM Account WHERE Name LIKE '_lobe_'", []string{"Globex"}},
		{"SELECT Name FROM Account WHERE Name LIKE '%\\_%'", nil},
		{"SELECT Name FROM Account WHERE AnnualRevenue > 4999.99", []string{"Acme"}},
		{"SELECT Name FROM Account WHERE Id = '" + ids["acme"][:15] + "'", []string{"Acme"}},
		{"SELECT Name FROM Account WHERE ParentId = '" + ids["acme"] + "'", []string{"Globex"}},
		{"SELECT Name FROM Account WHERE Parent.Name = 'Acme'", []string{"Globex"}},
		{"SELECT Name FROM Account WHERE Account.Name = 'Acme'", []string{"Acme"}},
		{"SELECT LastName FROM Contact WHERE HasOptedOutOfEmail = true", []string{"Smith"}},
		{"SELECT LastName FROM Contact WHERE HasOptedOutOfEmail = FALSE ORDER BY LastName", []string{"Doe", "Jones"}},
		{"SELECT LastName FROM Contact WHERE Birthdate > 1989-12-31", []string{"Smith"}},
		{"SELECT LastName FROM Contact WHERE Birthdate = 1985-01-02", []string{"Jones"}},
		{"SELECT LastName FROM Contact WHERE Account.Industry = 'Retail'", []string{"Jones"}},
		{"SELECT LastName FROM Contact WHERE Account.External_Id__c = 'A-1'", []string{"Smith"}},
		{"SELECT LastName FROM Contact WHERE Account.Parent.Name = 'Acme'", []string{"Jones"}},
		{"SELECT LastName FROM Contact WHERE AccountId = null", []string{"Doe"}},
		{"SELECT LastName FROM Contact WHERE Name = 'Ann Smith'", []string{"Smith"}},
		{"SELECT LastName FROM Contact WHERE CreatedDate = TODAY", []string{"Smith", "Jones", "Doe"}},
		{"SELECT LastName FROM Contact WHERE CreatedDate < YESTERDAY", nil},
		{"SELECT LastName FROM Contact WHERE CreatedDate > TOMORROW", nil},
		{"SELECT LastName FROM Contact WHERE CreatedDate >= LAST_N_DAYS:3 AND CreatedDate <= TODAY", []string{"Smith", "Jones", "Doe"}},
		{"SELECT LastName FROM Contact WHERE CreatedDate = NEXT_N_DAYS:2", nil},
		{"SELECT LastName FROM Contact WHERE CreatedDate != TODAY", nil},
		{"SELECT LastName FROM Contact WHERE CreatedDate > " + today + "T00:00:00Z", []string{"Smith", "Jones", "Doe"}},
		{"SELECT LastName FROM Contact WHERE CreatedDate < 2000-01-01T00:00:00.000+0000", nil},
		{"SELECT LastName FROM Contact WHERE Birthdate = YESTERDAY", nil},
		{"SELECT LastName FROM Contact ORDER BY Birthdate", []string{"Doe", "Jones", "Smith"}},
		{"SELECT LastName FROM Contact ORDER BY Birthdate NULLS LAST", []string{"Jones", "Smith", "Doe"}},
		{"SELECT LastName FROM Contact ORDER BY Birthdate DESC NULLS LAST", []string{"Smith", "Jones", "Doe"}},
		{"SELECT LastName FROM Contact ORDER BY Account.Name DESC, LastName ASC", []string{"Doe", "Jones", "Smith"}},
		{"SELECT LastName FROM Contact ORDER BY Account.Name DESC NULLS LAST", []string{"Jones", "Smith", "Doe"}},
		{"SELECT LastName FROM Contact ORDER BY HasOptedOutOfEmail, LastName", []string{"Doe", "Jones", "Smith"}},
		{"SELECT LastName FROM Contact ORDER BY LastName LIMIT 2", []string{"Doe", "Jones"}},
		{"SELECT LastName FROM Contact ORDER BY LastName LIMIT 2 OFFSET 2", []string{"Smith"}},
		{"SELECT LastName FROM Contact ORDER BY LastName OFFSET 5", nil},
		{"SELECT LastName FROM Contact LIMIT 0", nil},
	} {
		t.Run(tc.soql, func(t *testing.T) {
			assert.Equal(t, tc.want, queryNames(t, c, tc.soql))
		})
	}
}

func TestQueryShapes(t *testing.T) {
	srv, c := start(t)
	ids := seedQueryData(t, srv)
	st, body := c.call("GET", v+"/query?q="+q("SELECT Id, LastName, Account.Name, Account.External_Id__c, Account.Parent.Name, Birthdate, HasOptedOutOfEmail FROM Contact ORDER BY LastName"), nil)
	require.Equal(t, 200, st)
	res := obj(body)
	assert.Equal(t, json.Number("3"), res["totalSize"])
	assert.Equal(t, true, res["done"])
	recs := res["records"].([]any)
	doe, jones := obj(recs[0]), obj(recs[1])
	assert.Nil(t, doe["Account"])
	acct := obj(jones["Account"])
	assert.Equal(t, "Globex", acct["Name"])
	assert.Equal(t, "A-2", acct["External_Id__c"])
	assert.Equal(t, "Acme", obj(acct["Parent"])["Name"])
	assert.Equal(t, map[string]any{"type": "Account", "url": v + "/sobjects/Account/" + ids["globex"]}, acct["attributes"])
	assert.Equal(t, map[string]any{"type": "Contact", "url": v + "/sobjects/Contact/" + ids["jones"]}, jones["attributes"])
	assert.Equal(t, "1985-01-02", jones["Birthdate"])
	assert.Equal(t, false, jones["HasOptedOutOfEmail"])
	// Selected fields keep their order.
	raw, data := c.do("GET", v+"/query?q="+q("SELECT LastName, Id FROM Contact LIMIT 1"), nil)
	require.Equal(t, 200, raw.StatusCode)
	assert.Less(t, strings.Index(string(data), `"LastName"`), strings.Index(string(data), `"Id"`))

	st, body = c.call("GET", v+"/query?q="+q("SELECT COUNT() FROM Contact WHERE AccountId != null"), nil)
	require.Equal(t, 200, st)
	assert.Equal(t, json.Number("2"), obj(body)["totalSize"])
	assert.Equal(t, []any{}, obj(body)["records"])

	// Deleted records leave query but stay visible to queryAll.
	c.call("DELETE", v+"/sobjects/Contact/"+ids["doe"], nil)
	assert.Equal(t, []string{"Jones", "Smith"}, queryNames(t, c, "SELECT LastName FROM Contact ORDER BY LastName"))
	st, body = c.call("GET", v+"/queryAll?q="+q("SELECT LastName, IsDeleted FROM Contact WHERE IsDeleted = true"), nil)
	require.Equal(t, 200, st)
	recs = obj(body)["records"].([]any)
	require.Len(t, recs, 1)
	assert.Equal(t, "Doe", obj(recs[0])["LastName"])
	assert.Equal(t, true, obj(recs[0])["IsDeleted"])
	// A deleted parent reads as no parent.
	c.call("DELETE", v+"/sobjects/Account/"+ids["globex"], nil)
	st, body = c.call("GET", v+"/query?q="+q("SELECT Account.Name FROM Contact WHERE LastName = 'Jones'"), nil)
	require.Equal(t, 200, st)
	assert.Nil(t, obj(obj(body)["records"].([]any)[0])["Account"])
}

func TestQueryErrors(t *testing.T) {
	srv, c := start(t)
	seedQueryData(t, srv)
	for _, tc := range []struct {
		soql, code, msg string
	}{
		{"", "MALFORMED_QUERY", "A query string has to be specified"},
		{"SELECT FROM Account", "MALFORMED_QUERY", "\nSELECT FROM Account\n       ^\nERROR at Row:1:Column:8\nunexpected token: 'FROM'"},
		{"SELECT Name FROM", "MALFORMED_QUERY", "unexpected token: <EOF>"},
		{"SELECT Name Account", "MALFORMED_QUERY", "unexpected token: 'Account'"},
		{"UPDATE Account", "MALFORMED_QUERY", "unexpected token: 'UPDATE'"},
		{"SELECT Name FROM Account WHERE", "MALFORMED_QUERY", "unexpected token: <EOF>"},
		{"SELECT Name FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "MALFORMED_QUERY", "unexpected token: 'OR'"},
		{"SELECT Name FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY", "mismatched character '<EOF>'"},
		{"SELECT Name FROM Account WHERE Name = 'bad \\q escape'", "MALFORMED_QUERY", "Illegal character sequence '\\q'"},
		{"SELECT Name FROM Account WHERE Name ! 'x'", "MALFORMED_QUERY", "unexpected token: '!'"},
		{"SELECT Name FROM Account WHERE Name = 'x' junk", "MALFORMED_QUERY", "unexpected token: 'junk'"},
		{"SELECT Name FROM Account WHERE Name IN 'x'", "MALFORMED_QUERY", "unexpected token: ''x''"},
		{"SELECT Name FROM Account WHERE Name IN ('x' 'y')", "MALFORMED_QUERY", "unexpected token"},
		{"SELECT Name FROM Account WHERE Name NOT 'x'", "MALFORMED_QUERY", "unexpected token"},
		{"SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Contact)", "MALFORMED_QUERY", "Semi-join subqueries are not supported"},
		{"SELECT Name, (SELECT Id FROM Contacts) FROM Account", "MALFORMED_QUERY", "Subqueries are not supported"},
		{"SELECT MAX(NumberOfEmployees) FROM Account", "MALFORMED_QUERY", "Aggregate functions other than COUNT() are not supported"},
		{"SELECT COUNT(Id) FROM Account", "MALFORMED_QUERY", "Aggregate functions other than COUNT() are not supported"},
		{"SELECT COUNT( FROM Account", "MALFORMED_QUERY", "Aggregate functions"},
		{"SELECT COUNT(", "MALFORMED_QUERY", "unexpected token"},
		{"SELECT Name FROM Account LIMIT x", "MALFORMED_QUERY", "unexpected token: 'x'"},
		{"SELECT Name FROM Account ORDER Name", "MALFORMED_QUERY", "unexpected token: 'Name'"},
		{"SELECT Name FROM Account ORDER BY Name NULLS MIDDLE", "MALFORMED_QUERY", "unexpected token: 'MIDDLE'"},
		{"SELECT Name FROM Account ORDER BY 1", "MALFORMED_QUERY", "unexpected token: '1'"},
		{"SELECT Name FROM Account OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"},
		{"SELECT Name FROM Widget", "INVALID_TYPE", "\nSELECT Name FROM Widget\n                 ^\nERROR at Row:1:Column:18\nsObject type 'Widget' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."},
		{"SELECT Nope FROM Account", "INVALID_FIELD", "\nSELECT Nope FROM Account\n       ^\nERROR at Row:1:Column:8\nNo such column 'Nope' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."},
		{"SELECT Id\nFROM Contact\nWHERE Acount.Name = 'x'", "INVALID_FIELD", "\nWHERE Acount.Name = 'x'\n      ^\nERROR at Row:3:Column:7\nDidn't understand relationship 'Acount' in field path."},
		{"SELECT Account.Nope FROM Contact", "INVALID_FIELD", "No such column 'Nope' on entity 'Account'"},
		{"SELECT Name FROM Account ORDER BY Nope", "INVALID_FIELD", "No such column 'Nope'"},
		{"SELECT Name FROM Account WHERE NumberOfEmployees = 'ten'", "INVALID_FIELD", "value of filter criterion for field 'NumberOfEmployees' must be of type double and should not be enclosed in quotes"},
		{"SELECT Name FROM Account WHERE Name = 5", "INVALID_FIELD", "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes"},
		{"SELECT Name FROM Account WHERE Name = true", "INVALID_FIELD", "must be of type string"},
		{"SELECT Name FROM Account WHERE Name = 2020-01-01", "INVALID_FIELD", "must be of type string and should be enclosed in quotes"},
		{"SELECT LastName FROM Contact WHERE Birthdate = '2020-01-01'", "INVALID_FIELD", "must be of type date"},
		{"SELECT LastName FROM Contact WHERE Birthdate = 2020-13-01", "INVALID_FIELD", "invalid date literal"},
		{"SELECT LastName FROM Contact WHERE CreatedDate = 2020-01-01", "INVALID_FIELD", "invalid date literal"},
		{"SELECT LastName FROM Contact WHERE CreatedDate = '2020-01-01'", "INVALID_FIELD", "must be of type dateTime"},
		{"SELECT LastName FROM Contact WHERE Birthdate = SOMEDAY", "MALFORMED_QUERY", "unexpected token: 'SOMEDAY'"},
		{"SELECT LastName FROM Contact WHERE Birthdate = LAST_N_DAYS 3", "MALFORMED_QUERY", "unexpected token"},
		{"SELECT LastName FROM Contact WHERE Id = 'nope'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: nope"},
		{"SELECT LastName FROM Contact WHERE LastName LIKE 5", "INVALID_FIELD", "must be of type string"},
		{"SELECT LastName FROM Contact WHERE Birthdate LIKE '1990%'", "INVALID_FIELD", "must be of type date"},
		{"SELECT LastName FROM Contact WHERE HasOptedOutOfEmail LIKE 'x'", "INVALID_FIELD", "must be of type boolean"},
		{"SELECT Name FROM Account WHERE Name = #", "MALFORMED_QUERY", "unexpected token: '#'"},
		{"SELECT Name FROM Account WHERE Name = '\\u00zz'", "MALFORMED_QUERY", "Illegal character sequence '\\u'"},
	} {
		t.Run(tc.soql, func(t *testing.T) {
			st, body := c.call("GET", v+"/query?q="+q(tc.soql), nil)
			require.Equal(t, 400, st, "%v", body)
			code, msg := restErr(t, body)
			assert.Equal(t, tc.code, code)
			assert.Contains(t, msg, tc.msg)
		})
	}
	st, _ := c.call("POST", v+"/query?q=x", nil)
	assert.Equal(t, 405, st)
	st, _ = c.call("GET", v+"/query/a/b", nil)
	assert.Equal(t, 404, st)
	// Special escapes are accepted.
	assert.Nil(t, queryNames(t, c, `SELECT Name FROM Account WHERE Name = 'a\nb\tc\rd\be\ff\\g\u0041'`))
	assert.Nil(t, queryNames(t, c, `SELECT Name FROM Account WHERE Id = ''`))
	assert.Nil(t, queryNames(t, c, `SELECT Name FROM Account WHERE NumberOfEmployees > 1e3`))
}

func TestQueryPaging(t *testing.T) {
	srv, c := start(t, WithQueryBatchSize(250))
	for i := 0; i < 600; i++ {
		mustInsert(t, srv, "Lead", map[string]any{"LastName": fmt.Sprintf("L%04d", i), "Company": "Acme"})
	}
	st, body := c.call("GET", v+"/query?q="+q("SELECT LastName FROM Lead ORDER BY LastName"), nil)
	require.Equal(t, 200, st)
	page := obj(body)
	assert.Equal(t, json.Number("600"), page["totalSize"])
	assert.Equal(t, false, page["done"])
	assert.Len(t, page["records"], 250)
	next := page["nextRecordsUrl"].(string)
	assert.Regexp(t, `^/services/data/v58.0/query/01g\w{15}-250$`, next)
	var names []string
	for _, r := range page["records"].([]any) {
		names = append(names, obj(r)["LastName"].(string))
	}
	for next != "" {
		st, body = c.call("GET", next, nil)
		require.Equal(t, 200, st)
		page = obj(body)
		for _, r := range page["records"].([]any) {
			names = append(names, obj(r)["LastName"].(string))
		}
		next, _ = page["nextRecordsUrl"].(string)
		if next == "" {
			assert.Equal(t, true, page["done"])
		}
	}
	require.Len(t, names, 600)
	assert.Equal(t, "L0000", names[0])
	assert.Equal(t, "L0599", names[599])

	// The batch size header is honoured within 200..2000; fetching a page
	// twice gives the same page.
	st, body = c.call("GET", v+"/queryAll?q="+q("SELECT Id FROM Lead"), nil, "Sforce-Query-Options", "batchSize=200")
	require.Equal(t, 200, st)
	assert.Len(t, obj(body)["records"], 200)
	next = obj(body)["nextRecordsUrl"].(string)
	assert.Contains(t, next, "/queryAll/")
	_, b1 := c.call("GET", next, nil)
	_, b2 := c.call("GET", next, nil)
	assert.Equal(t, b1, b2)
	st, body = c.call("GET", v+"/query?q="+q("SELECT Id FROM Lead"), nil, "Sforce-Query-Options", "batchSize=5")
	require.Equal(t, 200, st)
	assert.Len(t, obj(body)["records"], 200)

	for _, bad := range []string{v + "/query/01gnope-250", v + "/query/" + strings.Split(next, "/")[5][:18] + "-x", v + "/query/" + strings.Split(next, "/")[5][:18] + "-9999"} {
		st, body = c.call("GET", bad, nil)
		assert.Equal(t, 400, st, bad)
		code, _ := restErr(t, body)
		assert.Equal(t, "INVALID_QUERY_LOCATOR", code)
	}
	// Old cursors are dropped once too many are open.
	first := ""
	for i := 0; i < maxCursors+1; i++ {
		_, body = c.call("GET", v+"/query?q="+q("SELECT Id FROM Lead"), nil)
		if i == 0 {
			first = obj(body)["nextRecordsUrl"].(string)
		}
	}
	st, _ = c.call("GET", first, nil)
	assert.Equal(t, 400, st)
}

func TestLikeMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"a%", "abc", true}, {"%c", "abc", true}, {"%b%", "abc", true}, {"a_c", "abc", true},
		{"a_c", "abbc", false}, {"ABC", "abc", true}, {`a\%`, "a%", true}, {`a\%`, "ab", false},
		{"", "", true}, {"%", "", true}, {"_", "", false}, {"é_", "Éa", true},
	} {
		assert.Equal(t, tc.want, likeMatch(tc.p, tc.s), "%s ~ %s", tc.p, tc.s)
	}
}

// The URI and headers of a request together hold at most 16,384 bytes: a
// longer URI is 414, a URI that fits but headers that do not are 431, and
// neither counts as an API call.
func TestRequestHeadLimit(t *testing.T) {
	srv, c := start(t)
	q := func(n int) string {
		return v + "/query?q=" + url.QueryEscape("SELECT Id FROM Account WHERE Name = '"+strings.Repeat("x", n)+"'")
	}
	res, _ := c.do("GET", q(100), nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	calls := srv.APICalls()

	res, body := c.do("GET", q(MaxRequestHead), nil)
	assert.Equal(t, http.StatusRequestURITooLong, res.StatusCode)
	assert.Contains(t, string(body), "414")

	// A URI just under the limit, pushed over it by its headers.
	path := q(100)
	path = q(100 + MaxRequestHead - 200 - len(path))
	require.Less(t, len(path), MaxRequestHead)
	res, _ = c.do("GET", path, nil)
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.StatusCode)

	res, _ = c.do("GET", q(100), nil, "X-Pad", strings.Repeat("p", MaxRequestHead))
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.StatusCode, "headers alone over the limit")
	assert.Equal(t, calls, srv.APICalls(), "refused requests are not API calls")
}
