package sftest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkSetIfEmptyUpsert100k is the emulator's side of a 100,000-row
// upsert with one set_if_empty field: the current values are read with
// SOQL IN lists of 200 external ids, then the rows go up in Bulk jobs of
// 10,000. It reports the emulator's wall and CPU time.
func BenchmarkSetIfEmptyUpsert100k(b *testing.B) {
	const n, in = 100_000, 200
	for i := 0; i < b.N; i++ {
		srv := NewServer()
		c := &client{t: &testing.T{}, srv: srv, hc: http.DefaultClient}
		c.token = c.login()
		seedAccounts(b, srv, n)
		cpu0, t0 := cpuTime(), time.Now()
		for from := 0; from < n; from += in {
			keys := make([]string, 0, in)
			for k := from; k < from+in; k++ {
				keys = append(keys, fmt.Sprintf("'A-%d'", k))
			}
			st, _ := c.call("GET", v+"/query?q="+q("SELECT Id, External_Id__c, Phone FROM Account WHERE External_Id__c IN ("+strings.Join(keys, ",")+")"), nil)
			require.Equal(b, 200, st)
		}
		for from := 0; from < n; from += 10_000 {
			var data strings.Builder
			data.WriteString("External_Id__c,Phone\n")
			for k := from; k < from+10_000; k++ {
				fmt.Fprintf(&data, "A-%d,%d\n", k, k)
			}
			_, info := c.runJob(map[string]any{"object": "Account", "operation": "upsert", "externalIdFieldName": "External_Id__c"}, data.String())
			require.Equal(b, 0, num(info["numberRecordsFailed"]))
		}
		b.ReportMetric(time.Since(t0).Seconds(), "wall-s")
		b.ReportMetric((cpuTime() - cpu0).Seconds(), "cpu-s")
		srv.Close()
	}
}

// BenchmarkINQuery100k is one SOQL query with a 200-id IN list against
// 100,000 accounts, the read a set_if_empty upsert makes per 200 rows.
func BenchmarkINQuery100k(b *testing.B) {
	const n, in = 100_000, 200
	srv := NewServer()
	defer srv.Close()
	c := &client{t: &testing.T{}, srv: srv, hc: http.DefaultClient}
	c.token = c.login()
	seedAccounts(b, srv, n)
	keys := make([]string, 0, in)
	for k := 0; k < in; k++ {
		keys = append(keys, fmt.Sprintf("'A-%d'", k*(n/in)))
	}
	path := v + "/query?q=" + q("SELECT Id, External_Id__c, Phone FROM Account WHERE External_Id__c IN ("+strings.Join(keys, ",")+")")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, body := c.call("GET", path, nil)
		require.Equal(b, 200, st)
		require.Equal(b, in, num(obj(body)["totalSize"]))
	}
}

// BenchmarkCurrentValuesINvsQueryJob100k is the emulator's side of reading
// the current values of one set_if_empty field for 100,000 keys, two ways:
// SOQL IN lists of 545 external ids (what a URI of 16 KB holds), or one
// Bulk 2.0 query job over the object for the records whose field has a
// value, read in pages of 50,000. Each reports its wall, CPU and calls.
func BenchmarkCurrentValuesINvsQueryJob100k(b *testing.B) {
	const n, in = 100_000, 545
	srv := NewServer()
	defer srv.Close()
	c := &client{t: &testing.T{}, srv: srv, hc: http.DefaultClient}
	c.token = c.login()
	for i := 0; i < n; i++ {
		_, err := srv.Insert("Account", map[string]any{"Name": fmt.Sprint("Acct ", i), "External_Id__c": fmt.Sprint("A-", i), "Industry": "Tech"})
		require.NoError(b, err)
	}
	b.Run("in-lists", func(b *testing.B) {
		for b.Loop() {
			cpu0, t0, calls := cpuTime(), time.Now(), 0
			for from := 0; from < n; from += in {
				keys := make([]string, 0, in)
				for k := from; k < min(from+in, n); k++ {
					keys = append(keys, fmt.Sprintf("'A-%d'", k))
				}
				st, body := c.call("GET", v+"/query?q="+q("SELECT Id, External_Id__c, Industry FROM Account WHERE External_Id__c IN ("+strings.Join(keys, ",")+")"), nil)
				require.Equal(b, 200, st)
				require.Equal(b, len(keys), num(obj(body)["totalSize"]))
				calls++
			}
			b.ReportMetric(time.Since(t0).Seconds(), "wall-s")
			b.ReportMetric((cpuTime() - cpu0).Seconds(), "cpu-s")
			b.ReportMetric(float64(calls), "calls")
		}
	})
	b.Run("query-job", func(b *testing.B) {
		for b.Loop() {
			cpu0, t0, calls := cpuTime(), time.Now(), 0
			st, body := c.call("POST", v+"/jobs/query", map[string]any{"operation": "query",
				"query": "SELECT External_Id__c, Industry FROM Account WHERE External_Id__c != null AND Industry != null"})
			require.Equal(b, 200, st, "%v", body)
			id := obj(body)["id"].(string)
			calls++
			for state := ""; state != "JobComplete"; calls++ {
				_, body = c.call("GET", v+"/jobs/query/"+id, nil)
				state = obj(body)["state"].(string)
			}
			rows, locator := 0, ""
			for {
				path := v + "/jobs/query/" + id + "/results"
				if locator != "" {
					path += "?locator=" + locator
				}
				res, raw := c.do("GET", path, nil)
				require.Equal(b, 200, res.StatusCode)
				calls++
				page, err := strconv.Atoi(res.Header.Get("Sforce-NumberOfRecords"))
				require.NoError(b, err)
				require.Positive(b, len(raw))
				rows += page
				if locator = res.Header.Get("Sforce-Locator"); locator == "null" || locator == "" {
					break
				}
			}
			require.Equal(b, n, rows)
			b.ReportMetric(time.Since(t0).Seconds(), "wall-s")
			b.ReportMetric((cpuTime() - cpu0).Seconds(), "cpu-s")
			b.ReportMetric(float64(calls), "calls")
		}
	})
}
