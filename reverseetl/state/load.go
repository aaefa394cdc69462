package state

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
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

// spool is one file of rows waiting to be loaded. Rows are encoded into
// buf by hand (the format encoding/csv writes, see appendField) and
// compressed in pieces: the writeback's cost per row is a few appends.
type spool struct {
	// id names the spool's stage path and its rows in STATE_LOAD.
	id  string
	f   *os.File
	fw  *bufio.Writer
	zw  *gzip.Writer
	buf []byte
	// open says a row has fields and the next one needs a delimiter.
	open  bool
	rows  int64
	bytes int64
}

// spoolFlush is how much encoded text waits before it is compressed.
const spoolFlush = 256 << 10

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "retl-load-*.csv.gz")
	if err != nil {
		return nil, fmt.Errorf("load file: %w", err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	// The fastest level: the files live minutes, and compressing harder
	// cost more CPU than the whole rest of the writeback.
	// The compressor writes small pieces: buffered, they cost few writes.
	fw := bufio.NewWriterSize(f, 256<<10)
	zw, err := gzip.NewWriterLevel(fw, gzip.BestSpeed)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("load file: %w", err)
	}
	return &spool{id: hex.EncodeToString(id[:]), f: f, fw: fw, zw: zw, buf: make([]byte, 0, spoolFlush+4096)}, nil
}

// str adds a text field to the current row.
func (p *spool) str(v string) {
	if p.open {
		p.buf = append(p.buf, '|')
	}
	p.open = true
	p.buf = appendField(p.buf, v)
}

// own adds a field of retl's own making that needs no quotes (hex ids,
// timestamps, keywords), without looking.
func (p *spool) own(v string) {
	if p.open {
		p.buf = append(p.buf, '|')
	}
	p.open = true
	p.buf = append(p.buf, v...)
}

// sep starts a field whose text the caller appends to buf itself.
func (p *spool) sep() {
	if p.open {
		p.buf = append(p.buf, '|')
	}
	p.open = true
}

// int adds a number field to the current row.
func (p *spool) int(n int64) {
	if p.open {
		p.buf = append(p.buf, '|')
	}
	p.open = true
	p.buf = strconv.AppendInt(p.buf, n, 10)
}

// end ends the current row, compressing the text gathered when there is
// enough of it.
func (p *spool) end() error {
	p.buf = append(p.buf, '\n')
	p.open = false
	p.rows++
	if len(p.buf) >= spoolFlush {
		return p.flush()
	}
	return nil
}

func (p *spool) flush() error {
	p.bytes += int64(len(p.buf))
	_, err := p.zw.Write(p.buf)
	p.buf = p.buf[:0]
	return err
}

// size is the CSV text of the rows so far.
func (p *spool) size() int64 { return p.bytes + int64(len(p.buf)) }

// appendField appends v as encoding/csv writes a field with '|' as its
// delimiter: in quotes, its quotes doubled, when it holds the delimiter, a
// quote, a line break or starts with a space, or is \. (which ends data
// for some loaders); as it is otherwise. An empty field stays empty, which
// the file format reads as NULL.
func appendField[T string | []byte](b []byte, v T) []byte {
	if !fieldNeedsQuotes(v) {
		return append(b, v...)
	}
	b = append(b, '"')
	b = appendDoubled(b, v)
	return append(b, '"')
}

// appendDoubled appends v with each quote doubled, as inside a quoted field.
func appendDoubled[T string | []byte](b []byte, v T) []byte {
	for {
		i := indexQuote(v)
		if i < 0 {
			return append(b, v...)
		}
		b = append(b, v[:i+1]...)
		b = append(b, '"')
		v = v[i+1:]
	}
}

func indexQuote[T string | []byte](v T) int {
	switch x := any(v).(type) {
	case string:
		return strings.IndexByte(x, '"')
	case []byte:
		return bytes.IndexByte(x, '"')
	}
	return -1
}

// special marks the bytes that make a field need quotes anywhere in it.
var special = [256]bool{'|': true, '"': true, '\r': true, '\n': true}

func fieldNeedsQuotes[T string | []byte](v T) bool {
	if len(v) == 0 {
		return false
	}
	if len(v) == 2 && v[0] == '\\' && v[1] == '.' {
		return true
	}
	for i := 0; i < len(v); i++ {
		if special[v[i]] {
			return true
		}
	}
	if v[0] < utf8.RuneSelf {
		return v[0] == ' ' || v[0] == '\t' || v[0] == '\v' || v[0] == '\f'
	}
	r, _ := utf8.DecodeRuneInString(string(v[:min(len(v), utf8.UTFMax)]))
	return unicode.IsSpace(r)
}

// finish closes the compression and rewinds the file for its upload.
func (p *spool) finish() error {
	if err := errors.Join(p.flush(), p.zw.Close(), p.fw.Flush()); err != nil {
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

// spoolRows appends n rows to the spool of table and sync, row(i, p)
// writing the i-th with p's str and int (p.id and p.rows+1 name it), and
// hands the spool back (taken out of the store) when it is large enough to
// load now.
func (s *Store) spoolRows(table, syncName string, n int, row func(i int, p *spool)) (*spool, error) {
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
		row(i, p)
		if err := p.end(); err != nil {
			delete(s.spools.files, k)
			p.remove()
			return nil, fmt.Errorf("load file: %w", err)
		}
	}
	if p.size() < spoolBytes {
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
// RECORD_RESULTS, PRIOR_VALUES and the state.
func (s *Store) SpooledRows(syncName string) int64 {
	s.spools.mu.Lock()
	defer s.spools.mu.Unlock()
	var n int64
	for _, t := range []string{s.tResults, s.tPrior, s.tState} {
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

// writeState writes a row of STATE_LOAD: the spool's id, the row's place
// in it, then stateCols.
func (p *spool) writeState(syncName, key, hash, id, at, runID string) {
	p.own(p.id)
	p.int(p.rows + 1)
	for _, v := range [...]string{syncName, key, hash, id} {
		p.str(v)
	}
	p.own(at)
	p.str(runID)
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
	full, err := s.spoolRows(s.tState, syncName, len(rows), func(i int, p *spool) {
		p.writeState(syncName, rows[i].Key, rows[i].Hash, rows[i].ID, at, runID)
	})
	if err != nil {
		return err
	}
	if err := s.loadState(ctx, full); err != nil {
		return err
	}
	return s.gatherFields(ctx, runID, syncName, at, rows)
}

// FlushState implements reverseetl.StateGatherer: on Snowflake it loads
// the state GatherState gathered for the sync. On SQLite, where
// GatherState saves at once, there is nothing to do.
func (s *Store) FlushState(ctx context.Context, runID, syncName string) error {
	if err := s.loadState(ctx, s.takeSpool(s.tState, syncName)); err != nil {
		if p := s.takeSpool(s.tFieldState, syncName); p != nil {
			p.remove()
		}
		return err
	}
	return s.loadFields(ctx, s.takeSpool(s.tFieldState, syncName))
}
