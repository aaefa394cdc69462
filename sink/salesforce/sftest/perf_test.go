//go:build unix

package sftest

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func contactCSV(rows int, accounts int) []byte {
	var b bytes.Buffer
	b.Grow(rows * 80)
	b.WriteString("FirstName,LastName,Email,Phone,External_Id__c,Account.External_Id__c\n")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&b, "First%d,Last%d,user%d@example.com,+1 555 %07d,C-%d,A-%d\n", i, i, i, i, i, i%accounts)
	}
	return b.Bytes()
}

// runBulk uploads data as one insert job and returns how long processing
// took, from UploadComplete to JobComplete.
func runBulk(tb testing.TB, srv *Server, c *client, data []byte) time.Duration {
	st, res := c.call("POST", ingest, map[string]any{"object": "Contact", "operation": "insert"})
	require.Equal(tb, 200, st)
	id := obj(res)["id"].(string)
	req, _ := http.NewRequest("PUT", srv.URL()+ingest+"/"+id+"/batches", bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(tb, err)
	resp.Body.Close()
	require.Equal(tb, 201, resp.StatusCode)
	t0 := time.Now()
	st, _ = c.call("PATCH", ingest+"/"+id, map[string]any{"state": "UploadComplete"})
	require.Equal(tb, 200, st)
	for {
		j := srv.jobs[id].snapshot()
		if j.State == StateJobComplete {
			require.Equal(tb, 0, j.NumberRecordsFailed)
			return time.Since(t0)
		}
		require.NotEqual(tb, StateFailed, j.State, j.ErrorMessage)
		time.Sleep(2 * time.Millisecond)
	}
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func seedAccounts(tb testing.TB, srv *Server, n int) {
	for i := 0; i < n; i++ {
		_, err := srv.Insert("Account", map[string]any{"Name": fmt.Sprint("Acct ", i), "External_Id__c": fmt.Sprint("A-", i)})
		require.NoError(tb, err)
	}
}

// TestBulkThroughput guards the processing rate: the emulator must not be
// the bottleneck of bulk loads. Only meaningful without the race detector.
func TestBulkThroughput(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("throughput is measured without -race and -short")
	}
	srv, c := start(t)
	seedAccounts(t, srv, 1000)
	const rows = 300_000
	data := contactCSV(rows, 1000)
	cpu0 := cpuTime()
	d := runBulk(t, srv, c, data)
	cpu := cpuTime() - cpu0
	t.Logf("%d rows in %v wall, %v CPU: %.0f rows/s, %.0f rows per CPU second", rows, d, cpu, float64(rows)/d.Seconds(), float64(rows)/cpu.Seconds())
	// CPU time, not wall time, so a busy machine does not fail the test.
	assert.Greater(t, float64(rows)/cpu.Seconds(), 100_000.0)
	_, failed := c.resultRows(srv.Jobs()[0].ID, "failedResults")
	assert.Len(t, failed, 1)
}

// TestBulkMemory checks that a large job keeps only what it must: the
// stored records and one result file, the upload being released once every
// row is processed.
func TestBulkMemory(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("memory is measured without -race and -short")
	}
	srv, c := start(t)
	seedAccounts(t, srv, 100)
	data := contactCSV(500_000, 100)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	runBulk(t, srv, c, data)
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	t.Logf("CSV %d MB, heap grew %.0f MB (%.0f bytes a row) for 500k stored records and their results",
		len(data)>>20, grown/(1<<20), grown/500_000)
	j := srv.jobs[srv.Jobs()[0].ID]
	j.mu.Lock()
	assert.Nil(t, j.data, "the upload is released")
	// Every cell quoted: at most two bytes more per cell than the upload.
	assert.Less(t, len(j.succ.buf), 2*len(data)+500_000*32, "one result row per input row")
	j.mu.Unlock()
	// About 700 bytes a row today (record, values, Id, indexes, result).
	assert.Less(t, grown/500_000, 1200.0)
}

func BenchmarkBulkInsert1M(b *testing.B) {
	data := contactCSV(1_000_000, 1000)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		srv := NewServer()
		c := &client{t: &testing.T{}, srv: srv, hc: http.DefaultClient}
		c.token = c.login()
		seedAccounts(b, srv, 1000)
		d := runBulk(b, srv, c, data)
		b.ReportMetric(1_000_000/d.Seconds(), "rows/s")
		srv.Close()
	}
}
