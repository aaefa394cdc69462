package state

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/retl-go/retl/reverseetl"
)

// On Snowflake, RECORD_RESULTS and the state are not written by
// statements per chunk of rows: rows wait in a gzip-compressed CSV file on
// disk (a spool) and are loaded once per sync, or once per spoolBytes of
// rows, by PUT into the store's stage and COPY INTO; the state is then
// applied by one MERGE from the loaded rows. A sync's statements therefore
// do not grow with its rows, each statement is a few hundred bytes, and the
// rows travel compressed.

// spoolBytes is the CSV text after which a spool is loaded while the sync
// still runs, so that a file stays a size Snowflake loads well.
var spoolBytes int64 = 256 << 20

const (
	stageName     = "RETL_LOAD"
	stateLoadName = "STATE_LOAD"
	// csvFormat is how the spools are written: fields apart by '|',
	// quoted when need be, an empty field is NULL, a backslash is text.
	// The delimiter is stated rather than the default so that no loader
	// guesses it from the values.
	csvFormat = "FILE_FORMAT = (TYPE = CSV FIELD_DELIMITER = '|' FIELD_OPTIONALLY_ENCLOSED_BY = '\"' ESCAPE_UNENCLOSED_FIELD = NONE COMPRESSION = GZIP)"
)

// stateLoadCols are those of STATE_LOAD: the state's, the load they came
// in and their order in it.
var stateLoadCols = append([]Column{{"LOAD_ID", Text}, {"SEQ", Int}}, stateCols...)

// spool is one file of rows waiting to be loaded.
type spool struct {
	// id names the spool's stage path and its rows in STATE_LOAD.
	id    string
	f     *os.File
	zw    *gzip.Writer
	cw    *csv.Writer
	rows  int64
	bytes int64
}

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "retl-load-*.csv.gz")
	if err != nil {
		return nil, fmt.Errorf("load file: %w", err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	zw := gzip.NewWriter(f)
	cw := csv.NewWriter(zw)
	cw.Comma = '|'
	return &spool{id: hex.EncodeToString(id[:]), f: f, zw: zw, cw: cw}, nil
}

func (p *spool) write(fields []string) error {
	for _, v := range fields {
		p.bytes += int64(len(v)) + 1
	}
	return p.cw.Write(fields)
}

// finish closes the compression and rewinds the file for its upload.
func (p *spool) finish() error {
	p.cw.Flush()
	if err := errors.Join(p.cw.Error(), p.zw.Close()); err != nil {
		return err
	}
	_, err := p.f.Seek(0, io.SeekStart)
	return err
}

func (p *spool) remove() {
	p.f.Close()
	os.Remove(p.f.Name())
}

// spools holds a store's spools, by table and sync.
type spools struct {
	mu    sync.Mutex
	files map[string]*spool
}

func spoolKey(table, syncName string) string { return table + "\x00" + syncName }

// spoolRows appends n rows to the spool of table and sync, row(i, spool
// id, position in the spool) giving the i-th, and hands the spool back
// (taken out of the store) when it is large enough to load now.
func (s *Store) spoolRows(table, syncName string, n int, row func(i int, id string, seq int64) []string) (*spool, error) {
	s.spools.mu.Lock()
	defer s.spools.mu.Unlock()
	if s.spools.files == nil {
		s.spools.files = map[string]*spool{}
	}
	k := spoolKey(table, syncName)
	p := s.spools.files[k]
	if p == nil {
		var err error
		if p, err = newSpool(); err != nil {
			return nil, err
		}
		s.spools.files[k] = p
	}
	for i := range n {
		p.rows++
		if err := p.write(row(i, p.id, p.rows)); err != nil {
			delete(s.spools.files, k)
			p.remove()
			return nil, fmt.Errorf("load file: %w", err)
		}
	}
	if p.bytes < spoolBytes {
		return nil, nil
	}
	delete(s.spools.files, k)
	return p, nil
}

// takeSpool takes the spool of table and sync out of the store, nil when
// it has none.
func (s *Store) takeSpool(table, syncName string) *spool {
	s.spools.mu.Lock()
	defer s.spools.mu.Unlock()
	k := spoolKey(table, syncName)
	p := s.spools.files[k]
	delete(s.spools.files, k)
	return p
}

// SpooledRows returns how many rows of the sync wait to be loaded into
// RECORD_RESULTS and the state.
func (s *Store) SpooledRows(syncName string) int64 {
	s.spools.mu.Lock()
	defer s.spools.mu.Unlock()
	var n int64
	for _, t := range []string{s.tResults, s.tState} {
		if p := s.spools.files[spoolKey(t, syncName)]; p != nil {
			n += p.rows
		}
	}
	return n
}

// load uploads the spool into the store's stage under a path of its own
// and copies it into table, by position. The file leaves the stage with the
// COPY (PURGE) and the disk in any case.
func (s *Store) load(ctx context.Context, p *spool, table string) error {
	defer p.remove()
	if err := p.finish(); err != nil {
		return fmt.Errorf("load file: %w", err)
	}
	if fi, err := p.f.Stat(); err == nil {
		s.counters.bytes.Add(fi.Size())
	}
	at := "@" + s.d.Table(s.schema, stageName) + "/" + p.id + "/"
	put := "PUT file:///" + p.id + ".csv.gz " + at + " AUTO_COMPRESS = FALSE SOURCE_COMPRESSION = GZIP OVERWRITE = TRUE"
	if _, err := s.exec(sf.WithFileStream(ctx, p.f), put); err != nil {
		return fmt.Errorf("upload to the stage: %w", err)
	}
	// By position: the files carry cols in the order the tables were made
	// with (fakesnow cannot name more than ten CSV columns).
	cp := "COPY INTO " + table + " FROM " + at + " " + csvFormat + " PURGE = TRUE"
	if _, err := s.exec(ctx, cp); err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	return nil
}

// loadResults loads a spool of RECORD_RESULTS rows.
func (s *Store) loadResults(ctx context.Context, p *spool) error {
	if p == nil {
		return nil
	}
	if err := s.load(ctx, p, s.tResults); err != nil {
		return fmt.Errorf("record results: %w", err)
	}
	return nil
}

// loadState loads a spool of state rows into STATE_LOAD, merges them into
// the state with one statement (the last row of a key wins; an empty
// Salesforce id keeps the stored one) and deletes them from STATE_LOAD.
func (s *Store) loadState(ctx context.Context, p *spool) error {
	if p == nil {
		return nil
	}
	if err := s.load(ctx, p, s.tStateLoad); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	id := p.id
	sel := "SELECT " + columnList(stateCols, "") + " FROM " + s.tStateLoad + " WHERE LOAD_ID = " + s.d.Literal(id) +
		" QUALIFY ROW_NUMBER() OVER (PARTITION BY SYNC, RECORD_KEY ORDER BY SEQ DESC) = 1"
	if _, err := s.exec(ctx, s.d.Upsert(s.tState, stateCols, stateKey, []string{"SALESFORCE_ID"}, sel)); err != nil {
		return fmt.Errorf("merge of the loaded state: %w", err)
	}
	if _, err := s.exec(ctx, "DELETE FROM "+s.tStateLoad+" WHERE LOAD_ID = "+s.d.Literal(id)); err != nil {
		return fmt.Errorf("clearing the loaded state: %w", err)
	}
	return nil
}

// loads says whether the store writes rows by loading files.
func (s *Store) loads() bool {
	_, ok := s.d.(snowflakeDialect)
	return ok
}

func (r *stateRow) fields(id string, seq int64) []string {
	return []string{id, strconv.FormatInt(seq, 10), r.Sync, r.Key, r.Hash, r.ID, r.WrittenAt, r.RunID}
}

func (r *resultRow) fields() []string {
	return []string{r.RunID, r.Sync, strconv.FormatInt(r.Seq, 10), r.Key, r.Operation, r.Outcome, r.ID,
		strconv.FormatBool(r.Created), r.ErrCode, r.ErrMessage, r.ErrFields, r.Reason, r.KeptBack, r.Values, r.RecordedAt}
}

// GatherState implements reverseetl.StateGatherer: on Snowflake the rows
// wait in a file until FlushState (or until the file is full), on SQLite
// they are saved at once.
func (s *Store) GatherState(ctx context.Context, runID, syncName string, rows []reverseetl.StateRow) error {
	if !s.loads() {
		return s.SaveState(ctx, runID, syncName, rows)
	}
	if err := s.ensure(ctx); err != nil {
		return err
	}
	if s.readOnly {
		return ErrReadOnly
	}
	at := s.stamp()
	full, err := s.spoolRows(s.tState, syncName, len(rows), func(i int, id string, seq int64) []string {
		r := stateRow{Sync: syncName, Key: rows[i].Key, Hash: rows[i].Hash, ID: rows[i].ID, WrittenAt: at, RunID: runID}
		return r.fields(id, seq)
	})
	if err != nil {
		return err
	}
	return s.loadState(ctx, full)
}

// FlushState implements reverseetl.StateGatherer: on Snowflake it loads
// the state GatherState gathered for the sync. On SQLite, where
// GatherState saves at once, there is nothing to do.
func (s *Store) FlushState(ctx context.Context, runID, syncName string) error {
	return s.loadState(ctx, s.takeSpool(s.tState, syncName))
}
