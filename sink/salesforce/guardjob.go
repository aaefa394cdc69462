package salesforce

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// set_if_empty reads current values with SOQL IN lists, one call per few
// hundred keys. For a sync that covers much of its object, one Bulk 2.0
// query job for the records whose guarded fields hold a value is far
// cheaper in calls and time: on the emulator, reading 100,000 keys took
// 184 IN calls and 2.5 s, and one query job 5 calls and 0.05 s. Which is
// cheaper depends on how many keys the sync reads against how many records
// the job would, which a streaming sync learns only as it goes; so the
// choice is made as on a ski rental: keys are read by IN lists until their
// number, times jobRatio, reaches the count of records the job would read;
// then one job reads them all, and later batches are answered from it.
// The cost is at most about twice the cheaper way's.

// jobRatio is how many records a query job reads for the cost of reading
// one key by IN lists: 20, well under what the emulator shows (50), as a
// job also waits in Salesforce's queue.
const jobRatio = 20

// jobMinKeys is how many keys a sync reads by IN lists before a query job
// is considered: below it IN lists always cost few calls.
var jobMinKeys = 5_000

// jobPage, when above 0, is the records a page of the job's results holds
// (Salesforce's maxRecords); tests make pages small.
var jobPage = 0

// countTimeout bounds the count that decides for the job.
var countTimeout = 30 * time.Second

// jobGate is a reader's choice between IN lists and one Bulk query job for
// current values, and the job's answer once it ran.
type jobGate[T any] struct {
	mu sync.Mutex
	// read counts keys read by IN lists; counted says whether candidates
	// holds the count of records a job would read (-1: it cannot be had,
	// and IN lists stay).
	read       int
	counted    bool
	candidates int
	// answer, once set, answers every later read; failed says the job
	// failed and IN lists stay.
	answer *T
	failed bool
}

// use returns the job's answer, running the job when it is due; false
// when IN lists are to read these keys. IN lists read until the keys they
// read reach a twentieth of the records the job would read (count, taken
// once and given up after countTimeout); a number key, a count that fails
// and a job that fails keep IN lists, which are never wrong. what names
// the reader in logs.
func (g *jobGate[T]) use(ctx context.Context, s *sfSink, what, keyField string, keys int,
	count func(context.Context) (int, error), run func(n int) (*T, error)) (*T, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.answer != nil {
		return g.answer, true
	}
	if g.failed || g.read+keys < jobMinKeys {
		g.read += keys
		return nil, false
	}
	if !g.counted {
		g.counted = true
		g.candidates = -1
		// A number key comes back as Salesforce writes numbers (1001.0),
		// which IN lists match by value: those keep IN lists.
		if numeric, err := s.c.numericField(ctx, s.dest.Object, keyField); err != nil || numeric {
			g.read += keys
			return nil, false
		}
		// A count over a large object may take Salesforce long: past
		// countTimeout it is given up, and IN lists stay.
		cctx, cancel := context.WithTimeout(ctx, countTimeout)
		n, err := count(cctx)
		cancel()
		if err == nil {
			g.candidates = n
		} else {
			s.log.Debug("salesforce: "+what+" reads by IN lists: counting the records a query job would read failed", "error", err)
		}
	}
	if g.candidates < 0 || (g.read+keys)*jobRatio < g.candidates {
		g.read += keys
		return nil, false
	}
	a, err := run(g.candidates)
	if err != nil {
		g.failed = true
		s.log.Warn("salesforce: "+what+": the query job for current values failed; reading by IN lists", "error", err)
		return nil, false
	}
	g.answer = a
	return a, true
}

// filledSet holds, for each record the job read, which guarded fields
// hold a value, by the hash of its key as Salesforce compares keys: folded
// to lower case unless the field is matched as written.
type filledSet struct {
	seed    maphash.Seed
	fold    bool
	entries []filledEntry
}

type filledEntry struct {
	h    uint64
	mask uint64
}

// find returns which guarded fields of the record with key k hold a
// value, and whether the job read that record.
func (f *filledSet) find(k string) (uint64, bool) {
	if f.fold {
		k = strings.ToLower(k)
	}
	h := maphash.String(f.seed, k)
	i, ok := slices.BinarySearchFunc(f.entries, h, func(e filledEntry, h uint64) int { return cmp.Compare(e.h, h) })
	if !ok {
		return 0, false
	}
	return f.entries[i].mask, true
}

// currentByJob answers a guard's read from the query job when the choice
// falls on it, running the job the first time. It returns false when IN
// lists are to read these keys. names are the guarded fields, at most 64.
func (s *sfSink) currentByJob(ctx context.Context, keyField string, keys, names []string) (*filledSet, bool) {
	if s.dest.Operation != Upsert || s.dest.upsertByID() || len(names) > 64 {
		return nil, false
	}
	rule := s.keyRule()
	if rule != keyFold && rule != keyExact {
		return nil, false
	}
	seen := map[string]bool{strings.ToLower(keyField): true}
	for _, n := range names {
		if seen[strings.ToLower(n)] {
			// A field named twice, or the key: IN lists read those.
			return nil, false
		}
		seen[strings.ToLower(n)] = true
	}
	return s.gj.use(ctx, s, "set_if_empty", keyField, len(keys),
		func(ctx context.Context) (int, error) { return s.countFilled(ctx, keyField, names) },
		func(n int) (*filledSet, error) { return s.readFilled(ctx, keyField, names, n, rule == keyFold) })
}

// filledWhere is the condition of the records a job reads: with a key, and
// a value in at least one guarded field.
func filledWhere(keyField string, names []string) string {
	conds := make([]string, len(names))
	for i, n := range names {
		conds[i] = n + " != null"
	}
	return keyField + " != null AND (" + strings.Join(conds, " OR ") + ")"
}

func (s *sfSink) countFilled(ctx context.Context, keyField string, names []string) (int, error) {
	return s.countWhere(ctx, filledWhere(keyField, names))
}

type queryJobInfo struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	ErrorMessage string `json:"errorMessage"`
}

// readFilled runs one Bulk 2.0 query job for the records with a key and a
// guarded value, and gathers which of their guarded fields hold one.
func (s *sfSink) readFilled(ctx context.Context, keyField string, names []string, size int, fold bool) (*filledSet, error) {
	soql := "SELECT " + keyField + ", " + strings.Join(names, ", ") + " FROM " + s.dest.Object + " WHERE " + filledWhere(keyField, names)
	// Room for the records counted, so that the lists are not copied as
	// they grow.
	f := &filledSet{seed: maphash.MakeSeed(), fold: fold, entries: make([]filledEntry, 0, size)}
	if err := s.queryJob(ctx, soql, f.add); err != nil {
		return nil, err
	}
	slices.SortFunc(f.entries, func(a, b filledEntry) int { return cmp.Compare(a.h, b.h) })
	return f, nil
}

// queryJob runs one Bulk 2.0 query job and hands each page of its CSV
// results to add.
func (s *sfSink) queryJob(ctx context.Context, soql string, add func(io.Reader) error) error {
	body, _ := json.Marshal(map[string]string{"operation": "query", "query": soql}) // strings: it cannot fail
	resp, err := s.c.do(ctx, &request{method: http.MethodPost, path: s.c.dataPath("jobs", "query"), body: body, ctype: "application/json", idempotent: true})
	if err != nil {
		return fmt.Errorf("creating the query job: %w", err)
	}
	var info queryJobInfo
	if err := json.Unmarshal(resp.body, &info); err != nil || info.ID == "" {
		return fmt.Errorf("creating the query job: no job in the answer")
	}
	path := s.c.dataPath("jobs", "query", info.ID)
	opt := s.dest.Options
	for wait := opt.pollStart; ; wait = min(wait*3/2, opt.PollMaxWait) {
		resp, err := s.c.do(ctx, &request{method: http.MethodGet, path: path, idempotent: true})
		if err != nil {
			return fmt.Errorf("query job %s: %w", info.ID, err)
		}
		if err := json.Unmarshal(resp.body, &info); err != nil {
			return fmt.Errorf("query job %s: decoding its state: %w", info.ID, err)
		}
		if info.State == stateJobComplete {
			break
		}
		if info.State == stateFailed || info.State == stateAborted {
			return fmt.Errorf("query job %s: %s %s", info.ID, info.State, info.ErrorMessage)
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
	}
	for locator := ""; ; {
		q := url.Values{}
		if locator != "" {
			q.Set("locator", locator)
		}
		if jobPage > 0 {
			q.Set("maxRecords", strconv.Itoa(jobPage))
		}
		resp, err := s.c.do(ctx, &request{method: http.MethodGet, path: path + "/results", query: q, accept: "text/csv", idempotent: true,
			read: add})
		if err != nil {
			return fmt.Errorf("query job %s results: %w", info.ID, err)
		}
		locator = resp.header.Get("Sforce-Locator")
		if locator == "" || locator == "null" {
			return nil
		}
	}
}

// add reads one page of results: a header, then the key and the guarded
// fields of each record, every cell quoted. An empty cell is null.
func (f *filledSet) add(r io.Reader) error {
	return eachResultRow(r, func(row []string) error {
		var mask uint64
		for i, cell := range row[1:] {
			if !isEmptyValue(cell) {
				mask |= 1 << i
			}
		}
		if mask == 0 {
			return nil
		}
		k := row[0]
		if f.fold {
			k = strings.ToLower(k)
		}
		f.entries = append(f.entries, filledEntry{maphash.String(f.seed, k), mask})
		return nil
	})
}

// eachResultRow calls fn with each row of one page of a query job's CSV
// results, after its header. The row is reused between calls.
func eachResultRow(r io.Reader, fn func(row []string) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	if _, err := cr.Read(); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}
