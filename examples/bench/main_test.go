package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary serve as the bench's worker process, as
// the bench binary does.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "-worker" {
		if err := runWorker(os.Args[2], os.Stdout); err != nil {
			os.Stderr.WriteString("bench worker: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A small run end to end: the emulator as a child, retl through the
// Engine in a worker, jsforce when it is installed, and the tables.
func TestBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the emulator")
	}
	var out bytes.Buffer
	require.NoError(t, run([]string{"--rows", "3000", "--rest-rows", "500", "--dest", "bulk_batch_size: 1000"}, &out, io.Discard))
	text := out.String()
	t.Log(text)
	assert.Contains(t, text, "| bulk | 3,000 | retl |")
	assert.Contains(t, text, "| rest | 500 | retl |")
	if _, err := os.Stat("../../sink/salesforce/sftest/jsforcecheck/node_modules/jsforce"); err == nil {
		assert.Contains(t, text, "| bulk | 3,000 | jsforce |")
		assert.Contains(t, text, "| rest | 500 | jsforce |")
	}
}

func TestParseRows(t *testing.T) {
	n, err := parseRows("100_000, 1000000,")
	require.NoError(t, err)
	assert.Equal(t, []int{100000, 1000000}, n)
	_, err = parseRows("ten")
	assert.Error(t, err)
	n, err = parseRows("")
	require.NoError(t, err)
	assert.Empty(t, n)
}

func TestSyncYAMLDest(t *testing.T) {
	y := string(syncYAML("bulk", 10, "R", "bulk_batch_size: 500, max_jobs_in_flight: 3"))
	assert.True(t, strings.Contains(y, "\n  bulk_batch_size: 500\n  max_jobs_in_flight: 3\n"), y)
}

func TestProcessingUnion(t *testing.T) {
	at := func(ms int) string { return "2026-01-01T00:00:0" + string(rune('0'+ms/1000)) + ".000+0000" }
	before := map[string]jobInfo{"old": {ID: "old"}}
	after := map[string]jobInfo{
		"old": {ID: "old"},
		"a":   {ID: "a", State: "JobComplete", SystemModstamp: at(3000), TotalProcessingTime: 2000, NumberRecordsProcessed: 5},
		"b":   {ID: "b", State: "JobComplete", SystemModstamp: at(4000), TotalProcessingTime: 2000, NumberRecordsProcessed: 5},
		"c":   {ID: "c", State: "JobComplete", SystemModstamp: at(8000), TotalProcessingTime: 1000, NumberRecordsProcessed: 5},
	}
	busy, sum, rows, err := processing(before, after)
	require.NoError(t, err)
	assert.Equal(t, "4s", busy.String(), "1-4 s and 7-8 s")
	assert.Equal(t, "5s", sum.String())
	assert.Equal(t, 15, rows)
}

// A small production path end to end: fakesnow and the emulator as
// children, every stage through a worker, the table printed.
func TestBenchProdSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts fakesnow and the emulator")
	}
	if _, err := os.Stat("../../.venv/bin/fakesnow"); err != nil {
		t.Skip("fakesnow is not installed (make standins)")
	}
	var out bytes.Buffer
	require.NoError(t, run([]string{"--prod-rows", "500"}, &out, io.Discard))
	text := out.String()
	t.Log(text)
	for _, stage := range []string{"| 500 | no writeback | 500 |", "| 500 | change detection, first run | 500 |",
		"| 500 | unchanged rerun | 0 |", "| 500 | 1 % changed | 5 |", "| 500 | first run, one set_if_empty field | 500 |"} {
		assert.Contains(t, text, stage)
	}
}
