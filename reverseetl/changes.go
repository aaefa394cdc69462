package reverseetl

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
)

// StateStore keeps change detection's state: for each sync and record key,
// the hash of the payload the destination last accepted and the id it gave
// the record.
type StateStore interface {
	// StoredHashes returns the stored hashes of keys of a sync. A key with
	// no state is absent from the map.
	StoredHashes(ctx context.Context, sync string, keys []string) (map[string]string, error)
	// SaveState records rows the destination accepted.
	SaveState(ctx context.Context, runID, sync string, rows []StateRow) error
}

// StateGatherer is optionally implemented by a StateStore that writes
// state faster in bulk (a warehouse loading files): the Engine hands it a
// sync's accepted rows with GatherState instead of SaveState, and calls
// FlushState once the sync's last write was answered, before the sync
// finishes, for it to write what it gathered.
type StateGatherer interface {
	GatherState(ctx context.Context, runID, sync string, rows []StateRow) error
	FlushState(ctx context.Context, runID, sync string) error
}

// StateRow is the state of one row the destination accepted.
type StateRow struct {
	Key  string
	Hash string
	// ID is the destination's id of the record, "" when it gave none.
	ID string
	// Fields holds, by field name, the tokens of the values the
	// destination holds for the fields the sink tracks (keep_human_edits,
	// see FieldStateStore); nil when it tracks none.
	Fields map[string]string
}

// ChangeQuery asks a StatePushdown to compare a sync's rows in the
// warehouse.
type ChangeQuery struct {
	Sync string
	// Connection is the project connection the source reads from.
	Connection string
	Query      string
	// KeyColumn is the sync's key column.
	KeyColumn   string
	Fingerprint string
	// Full keeps every row (retl run --full) and still adds the columns.
	Full bool
}

// Columns a StatePushdown's query adds to the rows. Every column whose name
// starts with PushdownPrefix is removed before the transformer sees a row.
const (
	PushdownPrefix = "__RETL_"
	// HashColumn holds the row's hash; NULL on the row that only carries
	// UnchangedColumn when no row changed.
	HashColumn = "__RETL_HASH"
	// KeyColumn holds the row's record key as text.
	KeyColumn = "__RETL_KEY"
	// UnchangedColumn holds, on every row, how many rows were unchanged.
	UnchangedColumn = "__RETL_UNCHANGED"
)

// StatePushdown is optionally implemented by a StateStore that lives in the
// warehouse a source reads from: the comparison then runs there, and
// unchanged rows never leave it.
type StatePushdown interface {
	// WrapQuery returns the query to run instead of q.Query, and false when
	// the store cannot compare for this source (another connection, or a
	// database that cannot hash a row). The query returns the changed rows
	// with HashColumn, KeyColumn and UnchangedColumn added; when no row
	// changed, one row whose HashColumn is NULL.
	WrapQuery(ctx context.Context, q ChangeQuery) (string, bool, error)
}

// Fingerprint identifies what a sync makes of a row: its mapping, key,
// filter, null policy and destination (its type, connection and identity,
// sink.Description.Identity). It is part of every row's hash, so that
// changing any of them sends every row again; a sink's tuning options are
// not part of it.
func Fingerprint(s *config.Sync, identity string) string {
	type mapping struct {
		From, To, Expr, When, Type, Format, Null string
		Value                                    string
		HasValue, SetIfEmpty                     bool
		// Truncate is left out when false, so that fingerprints made
		// before the key existed stay the same.
		Truncate bool `json:",omitempty"`
	}
	var fp struct {
		Version                            int
		Mapping                            []mapping
		Key, Filter, NullPolicy, ChangeKey string
		Type, Connection, Destination      string
	}
	fp.Version = 1
	for _, m := range s.Mapping {
		fp.Mapping = append(fp.Mapping, mapping{From: m.From, To: m.To, Expr: m.Expr, When: m.When,
			Type: string(m.Type), Format: m.Format, Null: string(m.Null), Value: fmt.Sprintf("%T:%#v", m.Value, m.Value),
			HasValue: m.HasValue, SetIfEmpty: m.SetIfEmpty, Truncate: m.Truncate})
	}
	fp.Key, fp.Filter, fp.NullPolicy = s.Key, s.Filter, string(s.NullPolicy)
	if s.ChangeDetection != nil {
		fp.ChangeKey = s.ChangeDetection.Key
	}
	fp.Type, fp.Connection, fp.Destination = s.Destination.Type, s.Destination.Connection, identity
	b, _ := json.Marshal(fp) // plain strings and bools: it cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// RecordHash is the hash change detection compares for a record: SHA-256
// over the fingerprint and each field's name, kind and value, length
// prefixed so that no two payloads share an encoding.
func RecordHash(fingerprint string, r *sink.Record) string {
	h := sha256.New()
	var buf []byte
	put := func(s string) {
		buf = binary.AppendUvarint(buf[:0], uint64(len(s)))
		h.Write(buf)
		h.Write([]byte(s))
	}
	put(fingerprint)
	for i, f := range r.Layout.Fields {
		v := sink.Value{}
		if i < len(r.Values) {
			v = r.Values[i]
		}
		put(f)
		h.Write([]byte{byte(v.Kind)})
		put(v.S)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// KeyText is a key column's value as the text state is kept under; "" for
// NULL, which keeps no state.
func KeyText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case source.Decimal:
		return string(x)
	case source.Date:
		return string(x)
	case source.TimeOfDay:
		return string(x)
	case source.JSON:
		return string(x)
	case *big.Int:
		return x.String()
	case *source.ValueError:
		return x.Raw
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return hex.EncodeToString(x)
	}
	return fmt.Sprint(v)
}

// alreadyInserted is why a row of an insert sync with change detection
// whose key Salesforce already accepted from the sync is skipped: insert
// cannot update the record it made, and sending the row again would make a
// second one.
var alreadyInserted = skipWhy{sink.SkipAlreadyInserted, "already inserted (insert does not update; use upsert)"}

// unchangedInState is why a row whose hash the state already holds is skipped.
var unchangedInState = skipWhy{sink.SkipUnchanged, "unchanged since the last run"}

// stateLookup is how many records wait for one look-up of their stored
// hashes: it bounds the memory of comparing in retl, whatever the size of
// the state.
const stateLookup = 1000

// changeStage is one sync's change detection: it drops rows whose hash
// matches the stored one and saves the state of rows the destination
// accepts, once their results are known.
type changeStage struct {
	store    StateStore
	rec      *recorder
	runID    string
	sync     string
	keyCol   string
	fp       string
	full     bool
	plan     bool
	pushdown bool
	// insert: the sync inserts, so a key the state holds is never sent
	// again, changed or not, --full or not.
	insert bool

	// keys and hashes are those of the rows of the batch being transformed.
	keys, hashes []string
	// counted says the warehouse's unchanged count was taken.
	counted bool
	// held are records waiting for their stored hashes.
	held []heldRecord

	// saved counts the rows of state handed to the store.
	saved atomic.Int64

	mu sync.Mutex
	// pending is the state of records sent and not yet answered, by Seq.
	pending map[int64]StateRow

	// seen holds the keys the query returned, for on_removed: all of them
	// when retl compares, the changed rows' when the warehouse does.
	// wrote holds the destination ids this run's results name (under mu).
	// connection and query are the source's, for the warehouse.
	seen              map[string]struct{}
	wrote             map[string]struct{}
	connection, query string

	// edits is keep_human_edits, nil when the sink tracks no field.
	edits *editTracking
}

type heldRecord struct {
	rec       sink.Record
	key, hash string
}

// newChangeStage sets up change detection for a sync, nil when it has none.
// When the store lives in the warehouse the source reads, the source's
// query is wrapped so that the warehouse compares.
func (e *Engine) newChangeStage(ctx context.Context, s *config.Sync, desc sink.Description, src source.Source, rec *recorder, opts RunOptions) (*changeStage, error) {
	if s.ChangeDetection == nil {
		return nil, nil
	}
	if e.state == nil {
		return nil, errors.New("change_detection needs the warehouse state: configure writeback in the project file")
	}
	c := &changeStage{store: e.state, rec: rec, runID: e.runID, sync: s.Name, keyCol: s.ChangeDetection.Key,
		fp: Fingerprint(s, desc.Identity), full: opts.Full, plan: opts.Plan, pending: map[int64]StateRow{}, connection: s.Source.Connection,
		insert: desc.CreatesOnly}
	if s.OnRemoved != nil {
		c.seen = map[string]struct{}{}
		c.wrote = map[string]struct{}{}
	}
	pd, ok := e.state.(StatePushdown)
	qr, ok2 := src.(source.QueryRewriter)
	if !ok || !ok2 {
		return c, nil
	}
	c.query = qr.Query()
	q, ok, err := pd.WrapQuery(ctx, ChangeQuery{Sync: s.Name, Connection: s.Source.Connection, Query: qr.Query(),
		KeyColumn: c.keyCol, Fingerprint: c.fp, Full: c.full})
	switch {
	case err != nil:
		// Comparing in retl still works if the state can be read later.
		rec.writebackFailed("change detection in the warehouse: " + err.Error())
	case ok:
		qr.SetQuery(q)
		c.pushdown = true
	}
	return c, nil
}

// prepare notes the keys (and, from the warehouse, the hashes) of a batch's
// rows. From the warehouse it also takes the unchanged count and removes
// the columns and the row it added.
func (c *changeStage) prepare(b source.Batch) (source.Batch, error) {
	if c == nil {
		return b, nil
	}
	c.keys, c.hashes = c.keys[:0], c.hashes[:0]
	if !c.pushdown {
		k := findColumn(b.Columns, c.keyCol)
		if k < 0 {
			return b, fmt.Errorf("key: column %q not in the query's result (columns: %s)", c.keyCol, strings.Join(b.Columns, ", "))
		}
		for _, row := range b.Rows {
			c.keys = append(c.keys, KeyText(row[k]))
		}
		c.seeKeys(c.keys)
		return b, nil
	}
	hc, kc, uc := findColumn(b.Columns, HashColumn), findColumn(b.Columns, KeyColumn), findColumn(b.Columns, UnchangedColumn)
	if hc < 0 || kc < 0 || uc < 0 {
		return b, fmt.Errorf("change detection: the warehouse's result lacks %s, %s or %s", HashColumn, KeyColumn, UnchangedColumn)
	}
	// The added columns come last; anything else is copied without them.
	var keep []int
	tail := true
	for i, name := range b.Columns {
		if !strings.HasPrefix(strings.ToUpper(name), PushdownPrefix) {
			tail = tail && i == len(keep)
			keep = append(keep, i)
		}
	}
	rows := b.Rows[:0]
	for _, row := range b.Rows {
		if !c.counted {
			c.counted = true
			if n, err := strconv.ParseInt(KeyText(row[uc]), 10, 64); err == nil && n > 0 {
				c.rec.unchangedNotRead(n)
			}
		}
		if row[hc] == nil {
			continue // the row that only carries the count
		}
		c.keys = append(c.keys, KeyText(row[kc]))
		c.hashes = append(c.hashes, KeyText(row[hc]))
		c.seeKeys(c.keys[len(c.keys)-1:])
		if tail {
			rows = append(rows, row[:len(keep):len(keep)])
			continue
		}
		out := make([]any, len(keep))
		for j, i := range keep {
			out[j] = row[i]
		}
		rows = append(rows, out)
	}
	cols := make([]string, len(keep))
	for j, i := range keep {
		cols[j] = b.Columns[i]
	}
	return source.Batch{Columns: cols, Rows: rows}, nil
}

// findColumn finds a column by its exact name, else the first that differs
// only in case.
func findColumn(cols []string, name string) int {
	folded := -1
	for i, c := range cols {
		if c == name {
			return i
		}
		if folded < 0 && strings.EqualFold(c, name) {
			folded = i
		}
	}
	return folded
}

// admit takes the record of the batch's i-th row towards the sink. With
// change detection in retl, or for an insert sync, it waits in held until
// its stored hash is known.
func (t *transformStage) admit(r sink.Record, i int) error {
	c := t.cd
	if c != nil {
		key := c.keys[i]
		if c.pushdown && !c.insert {
			c.track(r.Seq, key, c.hashes[i])
		} else {
			h := heldRecord{rec: r, key: key}
			if c.pushdown {
				// The warehouse found the row changed or new; whether
				// its key was inserted before is in the state.
				h.hash = c.hashes[i]
			} else {
				h.hash = RecordHash(c.fp, &r)
			}
			c.held = append(c.held, h)
			if len(c.held) >= stateLookup {
				return t.releaseHeld()
			}
			return nil
		}
	}
	t.buf = append(t.buf, r)
	if len(t.buf) >= t.batch {
		return t.send(false)
	}
	return nil
}

// releaseHeld looks up the stored hashes of the held records, skips those
// that match as unchanged, and for an insert sync those whose key the
// state holds, and passes the others on.
func (t *transformStage) releaseHeld() error {
	c := t.cd
	if c == nil || len(c.held) == 0 {
		return nil
	}
	held := c.held
	var stored map[string]string
	switch {
	case c.insert:
		// Sending a row whose key may have been inserted could make a
		// second record: without the state, nothing is sent.
		var err error
		if stored, err = c.lookup(t.ctx, held); err != nil {
			return fmt.Errorf("change detection: reading the state of an insert sync: %w", err)
		}
	case !c.full:
		stored = c.stored(t.ctx, held)
	}
	c.held = nil
	for i, h := range held {
		old, known := stored[h.key]
		known = known && h.key != ""
		switch {
		case known && old == h.hash && !c.full:
			t.rec.skip(h.rec.Seq, "", unchangedInState, &h.rec)
			continue
		case known && c.insert:
			t.rec.skip(h.rec.Seq, "", alreadyInserted, &h.rec)
			continue
		}
		c.track(h.rec.Seq, h.key, h.hash)
		if !known && stored != nil {
			c.noteFresh(h.rec.Seq)
		}
		t.buf = append(t.buf, h.rec)
		if len(t.buf) >= t.batch {
			if err := t.send(false); err != nil {
				c.held = held[i+1:] // abandon gives them their outcome
				return err
			}
		}
	}
	return nil
}

// stored returns the stored hashes of the held records' keys. When the
// state cannot be read every record is sent, which is never wrong for a
// sync that finds its records by a key.
func (c *changeStage) stored(ctx context.Context, held []heldRecord) map[string]string {
	m, err := c.lookup(ctx, held)
	if err != nil {
		if ctx.Err() == nil {
			c.rec.writebackFailed("reading change-detection state: " + err.Error() + " (rows are sent as changed)")
		}
		return nil
	}
	return m
}

// lookup reads the stored hashes of the held records' keys.
func (c *changeStage) lookup(ctx context.Context, held []heldRecord) (map[string]string, error) {
	seen := make(map[string]bool, len(held))
	keys := make([]string, 0, len(held))
	for _, h := range held {
		if h.key != "" && !seen[h.key] {
			seen[h.key] = true
			keys = append(keys, h.key)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return c.store.StoredHashes(ctx, c.sync, keys)
}

// track remembers the state to save for a record once it is accepted.
func (c *changeStage) track(seq int64, key, hash string) {
	if (c.plan && c.edits == nil) || key == "" {
		// A plan keeps keys only to read the fields' tokens by.
		return
	}
	c.mu.Lock()
	c.pending[seq] = StateRow{Key: key, Hash: hash}
	c.mu.Unlock()
}

// abandon gives the held records an outcome when the sync stops.
func (c *changeStage) abandon(rec *recorder, reason skipWhy) {
	if c == nil || len(c.held) == 0 {
		return
	}
	recs := make([]sink.Record, len(c.held))
	for i, h := range c.held {
		recs[i] = h.rec
	}
	c.held = nil
	rec.skipAll(recs, reason)
}

// wrap saves the state of the records each write's results say the
// destination accepted, and notes the ids they name for on_removed. A
// plan saves nothing.
func (c *changeStage) wrap(w writeFunc) writeFunc {
	if c == nil || (c.plan && c.wrote == nil && c.edits == nil) {
		return w
	}
	return func(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
		var res []sink.Result
		var err error
		send := recs
		if c.edits != nil {
			send, err = c.expect(ctx, recs)
			if err != nil {
				res, err = editStateFailed(len(recs), err), nil
			}
		}
		if res == nil {
			res, err = w(ctx, send)
		}
		if err == nil && len(res) == len(recs) {
			c.noteIDs(res)
		}
		if c.plan {
			c.forget(recs)
			return res, err
		}
		rows := c.accepted(recs, res, err)
		if len(rows) == 0 {
			return res, err
		}
		// Saved by the drain, in the run's context without its cancel
		// (the destination has accepted the rows), within a bound that
		// grows with the rows; a state job is never dropped.
		c.saved.Add(int64(len(rows)))
		c.rec.drain.put(drainJob{rows: len(rows), state: true, do: func(ctx context.Context, d *drain) {
			save := c.store.SaveState
			if g, ok := c.store.(StateGatherer); ok {
				save = g.GatherState
			}
			if serr := save(ctx, c.runID, c.sync, rows); serr != nil {
				d.warn("saving change-detection state: "+serr.Error()+" (those rows are sent again next run)", true)
			}
		}})
		return res, err
	}
}

// flush has the store write the state it gathered for the sync, when it
// gathers (StateGatherer), through the drain like every save. Its bound
// grows with the rows saved in the run.
func (c *changeStage) flush() {
	if c == nil || c.plan {
		return
	}
	f, ok := c.store.(StateGatherer)
	if !ok {
		return
	}
	c.rec.drain.put(drainJob{rows: int(c.saved.Load()), state: true, do: func(ctx context.Context, d *drain) {
		if err := f.FlushState(ctx, c.runID, c.sync); err != nil {
			d.warn("saving change-detection state: "+err.Error()+" (those rows are sent again next run)", true)
		}
	}})
}

// accepted returns the state of the records written without error, or
// skipped because the destination already holds their values (they are
// as current as if written), and forgets every record of the call.
func (c *changeStage) accepted(recs []sink.Record, res []sink.Result, err error) []StateRow {
	ok := err == nil && len(res) == len(recs)
	var rows []StateRow
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range recs {
		st, tracked := c.pending[recs[i].Seq]
		if !tracked {
			continue
		}
		delete(c.pending, recs[i].Seq)
		var fields map[string]string
		if c.edits != nil {
			fields = c.edits.fields(&recs[i], wroteOf(res, i))
		}
		if ok && res[i].Err == nil && (res[i].Skipped == "" || res[i].Skipped == sink.SkipUnchanged) {
			st.ID = res[i].ID
			st.Fields = fields
			rows = append(rows, st)
		}
	}
	return rows
}

// wroteOf is result i's Wrote, nil when there is no such result.
func wroteOf(res []sink.Result, i int) []string {
	if i < len(res) {
		return res[i].Wrote
	}
	return nil
}

// forget drops what a plan kept of records it answered.
func (c *changeStage) forget(recs []sink.Record) {
	if c.edits == nil {
		return
	}
	c.mu.Lock()
	for i := range recs {
		delete(c.pending, recs[i].Seq)
	}
	c.mu.Unlock()
}
