package state_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	sf "github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl/state"
)

// TestMeasureWriteback compares, on fakesnow, the ways of writing 2,000
// record results: the store's one JSON array per statement, multi-row
// INSERTs with bound values, and gosnowflake's array binding. It only runs
// with RETL_MEASURE=1, as it takes a minute and only prints figures.
func TestMeasureWriteback(t *testing.T) {
	if os.Getenv("RETL_MEASURE") == "" {
		t.Skip("set RETL_MEASURE=1 to measure")
	}
	const n = 2000
	w := fakesnowWarehouse(t)
	st, err := state.New(w.db, state.Snowflake, state.Options{})
	require.NoError(t, err)
	wb := st.Writeback("measure")
	ctx := context.Background()
	outs := outcomes(n)
	report := func(what string, d time.Duration) {
		t.Logf("%-44s %5d rows in %7.2fs = %6.0f rows/s", what, n, d.Seconds(), n/d.Seconds())
	}

	start := time.Now()
	for i := 0; i < n; i += 500 {
		require.NoError(t, wb.Outcomes(ctx, writebackSync(), outs[i:i+500]))
	}
	report("JSON array per statement (500 rows)", time.Since(start))

	_, results, _, _ := st.Tables()
	cols := "RUN_ID, SYNC, SEQ, RECORD_KEY, OPERATION, OUTCOME, SALESFORCE_ID, CREATED, VALUES_JSON, RECORDED_AT"
	row := func(i int) []any {
		return []any{"multi", "people", int64(i), fmt.Sprint(i), "upsert", "written", "003x", true, `{"Ext__c":"1"}`, "2024-05-01 10:00:00"}
	}
	for _, per := range []int{100, 500} {
		start = time.Now()
		for i := 0; i < n; i += per {
			var args []any
			tuples := make([]string, 0, per)
			for j := i; j < i+per; j++ {
				tuples = append(tuples, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, row(j)...)
			}
			_, err := w.db.Exec("INSERT INTO "+results+" ("+cols+") VALUES "+strings.Join(tuples, ", "), args...)
			require.NoError(t, err)
		}
		report(fmt.Sprintf("multi-row INSERT, bound values (%d rows)", per), time.Since(start))
	}

	for _, per := range []int{500, 2000} {
		start = time.Now()
		for i := 0; i < n; i += per {
			var run, syncs, keys, ops, kinds, ids, values, at []string
			var seqs []int64
			var created []bool
			for j := i; j < i+per; j++ {
				run, syncs, keys, ops = append(run, "array"), append(syncs, "people"), append(keys, fmt.Sprint(j)), append(ops, "upsert")
				kinds, ids, values, at = append(kinds, "written"), append(ids, "003x"), append(values, `{"Ext__c":"1"}`), append(at, "2024-05-01 10:00:00")
				seqs, created = append(seqs, int64(j)), append(created, true)
			}
			_, err := w.db.Exec("INSERT INTO "+results+" ("+cols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				sf.Array(&run), sf.Array(&syncs), sf.Array(&seqs), sf.Array(&keys), sf.Array(&ops), sf.Array(&kinds),
				sf.Array(&ids), sf.Array(&created), sf.Array(&values), sf.Array(&at))
			require.NoError(t, err)
		}
		report(fmt.Sprintf("gosnowflake array binding (%d rows)", per), time.Since(start))
	}
}

// TestMeasureLookupMemory prints what comparing in retl holds: the stored
// hashes of one look-up (1,000 keys) whatever the size of the state, and,
// for scale, what holding a million keys' hashes would take.
func TestMeasureLookupMemory(t *testing.T) {
	if os.Getenv("RETL_MEASURE") == "" {
		t.Skip("set RETL_MEASURE=1 to measure")
	}
	// Keys like the ones a CRM uses and SHA-256 hashes in hex, each string
	// its own allocation as when read from the database.
	const n = 1_000_000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m := make(map[string]string)
	for i := range n {
		m[fmt.Sprintf("ACCT-%07d", i)] = fmt.Sprintf("%064x", i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(m)
	perKey := (after.HeapAlloc - before.HeapAlloc) / n
	t.Logf("1,000,000 keys held at once: %d MB (%d bytes a key)", perKey*n>>20, perKey)
	t.Logf("one look-up of 1,000 keys: about %d KB, whatever the size of the state", perKey*1000>>10)
}
