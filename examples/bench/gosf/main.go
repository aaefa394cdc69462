// Command gosf loads rows into Account with go-salesforce v3's UpsertBulk,
// a second peer retl's Bulk benchmark is measured against (beside
// jsforce). It is a module of its own, so that retl never depends on
// go-salesforce.
//
//	gosf BASE_URL file.csv [more.csv ...]
//
// The rows of the CSV files (the benchmark writes them for both peers) are
// read into records, as a program handing go-salesforce its data would
// have them, and upserted by External_Id__c in jobs of 10,000 records (the
// library's largest batch). Each job is then polled with GetJobResults,
// every half second as the library polls, until it ends, and its results
// are read: UpsertBulk's own wait returns when the first of its jobs ends
// (v3.1.0 reads one answer from its channel of job ends). It prints one
// JSON line: wall seconds (login to results), rows written and failed, and
// the bytes this process wrote (sockets included).
package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/k-capehart/go-salesforce/v3"
)

// batch is go-salesforce's largest Bulk batch.
const batch = 10_000

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gosf:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) < 2 {
		return errors.New("usage: gosf BASE_URL FILE.csv...")
	}
	start := time.Now()
	sf, err := salesforce.Init(salesforce.Creds{Domain: args[0], Username: "demo@example.com", Password: "demo",
		ConsumerKey: "retl", ConsumerSecret: "retl"})
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	ok, failed := 0, 0
	for _, file := range args[1:] {
		recs, err := readRecords(file)
		if err != nil {
			return err
		}
		ids, err := sf.UpsertBulk("Account", "External_Id__c", recs, batch, false)
		if err != nil {
			return fmt.Errorf("upsert: %s", firstLine(err.Error()))
		}
		for _, id := range ids {
			res, err := wait(sf, id)
			if err != nil {
				return err
			}
			ok += len(res.SuccessfulRecords)
			failed += len(res.FailedRecords)
		}
	}
	wall := time.Since(start).Seconds()
	return json.NewEncoder(out).Encode(map[string]any{"wall": wall, "ok": ok, "failed": failed, "wchar": wchar()})
}

// wait polls a job until it ends and returns its results.
func wait(sf *salesforce.Salesforce, id string) (salesforce.BulkJobResults, error) {
	for {
		res, err := sf.GetJobResults(id)
		if err != nil {
			return res, fmt.Errorf("job %s: %w", id, err)
		}
		switch res.State {
		case "JobComplete":
			return res, nil
		case "Failed", "Aborted":
			return res, fmt.Errorf("job %s ended %s: %s", id, res.State, res.ErrorMessage)
		}
		time.Sleep(time.Second / 2)
	}
}

// readRecords reads a CSV file with a header into one map per row; an
// empty cell is left out, as it means "no value" in the file.
func readRecords(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var recs []map[string]any
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m := make(map[string]any, len(head))
		for i, v := range row {
			if v != "" {
				m[head[i]] = v
			}
		}
		recs = append(recs, m)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// wchar is the bytes this process passed to write system calls.
func wchar() uint64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
