// Package sealed writes a plan to a file and applies exactly that plan
// later: `retl plan --out plan.json` and `retl apply plan.json`.
//
// A sealed plan holds, per sync and record, the operation (create or
// update), the key, the Salesforce Id, and each field the write would
// change with its current value (as text, the way the plan compares it)
// and its new value with its kind, so that apply sends the value itself,
// not a display string. It also holds the SHA-256 of the project file and
// of each sync file, the run id and the time.
//
// Apply sends the plan's records and nothing else: not the query's current
// rows, not on_removed. Before each batch is sent the sink plans it again
// (sink.Planner, which reads the current values) and every record whose
// planned current values no longer hold is not sent: it is skipped with
// SkipDrifted. A plan made from other configuration (ConfigError) or older
// than the allowed age (AgeError) is refused before anything is read.
//
// What cannot be sealed is refused when the plan is made, never guessed at
// apply: a sync writing a field the project lists in
// writeback.exclude_fields (its values must not reach a file), a sync with
// on_removed (apply removes nothing), and a delete sync. A value that holds
// a secret the project resolved refuses the whole file.
//
// Change detection works in apply as in a run: its state keeps the keys an
// insert created and the tokens keep_human_edits compares, so the next run
// goes on from what apply wrote.
package sealed

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// Version is the format of the file this package writes and reads.
const Version = 1

// SkipDrifted is the skip code of a planned record apply did not send
// because Salesforce no longer holds the values the plan was made from.
const SkipDrifted sink.SkipCode = "drifted"

// Operations of a planned record.
const (
	OpCreate = "create"
	OpUpdate = "update"
)

// File is a sealed plan.
type File struct {
	Version int       `json:"version"`
	RunID   string    `json:"run_id"`
	Created time.Time `json:"created"`
	// Project is the project file; File is "" when the embedded defaults
	// were used.
	Project Hashed `json:"project"`
	Syncs   []Sync `json:"syncs"`
}

// Hashed is a file and the SHA-256 of its bytes, in hex.
type Hashed struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// Sync is one sync's planned records.
type Sync struct {
	Name string `json:"name"`
	Hashed
	// KeyField is the record field that finds Salesforce's record (an
	// external id, Id); "" when every write creates a record.
	KeyField string   `json:"key_field,omitempty"`
	Records  []Record `json:"records"`
}

// Record is one planned write.
type Record struct {
	// Seq is the row's position in the plan's run of its sync, from 1.
	Seq int64  `json:"seq"`
	Op  string `json:"op"`
	Key string `json:"key"`
	// ID is Salesforce's Id of the record an update changes.
	ID string `json:"id,omitempty"`
	// KeyValue is the value of Sync.KeyField; nil when it has none.
	KeyValue *Value  `json:"key_value,omitempty"`
	Fields   []Field `json:"fields"`
	// KeptBack and KeptEdits are the fields the plan did not send
	// (set_if_empty, keep_human_edits); apply does not send them either.
	KeptBack  []string `json:"kept_back,omitempty"`
	KeptEdits []string `json:"kept_edits,omitempty"`
}

// Field is one field a planned write changes.
type Field struct {
	Name string `json:"field"`
	// Old is the value Salesforce held when the plan was made, as the
	// plan shows it ("" for empty or for a record to create).
	Old string `json:"old"`
	New Value  `json:"new"`
}

// Value is a sink.Value as the file holds it: its kind by name.
type Value struct {
	Kind string `json:"kind"`
	S    string `json:"value"`
}

func fromSink(v sink.Value) Value { return Value{Kind: v.Kind.String(), S: v.S} }

// sinkValue returns the value as a sink takes it.
func (v Value) sinkValue() (sink.Value, error) {
	for k := sink.Absent; k <= sink.DateTime; k++ {
		if k.String() == v.Kind {
			return sink.Value{Kind: k, S: v.S}, nil
		}
	}
	return sink.Value{}, fmt.Errorf("unknown value kind %q", v.Kind)
}

// Records counts the planned records of every sync.
func (f *File) Records() int {
	n := 0
	for _, s := range f.Syncs {
		n += len(s.Records)
	}
	return n
}

// Sync returns the planned sync of that name, or nil.
func (f *File) Sync(name string) *Sync {
	for i := range f.Syncs {
		if f.Syncs[i].Name == name {
			return &f.Syncs[i]
		}
	}
	return nil
}

// Write writes f to path as indented JSON, anew (reverseetl.WriteFileAtomic).
func (f *File) Write(path string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("plan file: %w", err)
	}
	err = reverseetl.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("plan file %s: %w", path, err)
	}
	return nil
}

// Read reads a plan file and checks that every value in it can be sent.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plan file: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("plan file %s: %w", path, err)
	}
	if f.Version != Version {
		return nil, fmt.Errorf("plan file %s: version %d, this retl reads version %d", path, f.Version, Version)
	}
	for _, s := range f.Syncs {
		for _, r := range s.Records {
			if r.Op != OpCreate && r.Op != OpUpdate {
				return nil, fmt.Errorf("plan file %s: sync %s, record %s: unknown operation %q", path, s.Name, r.Key, r.Op)
			}
			vals := make([]Value, 0, len(r.Fields)+1)
			for _, fl := range r.Fields {
				vals = append(vals, fl.New)
			}
			if r.KeyValue != nil {
				vals = append(vals, *r.KeyValue)
			}
			for _, v := range vals {
				if _, err := v.sinkValue(); err != nil {
					return nil, fmt.Errorf("plan file %s: sync %s, record %s: %w", path, s.Name, r.Key, err)
				}
			}
		}
	}
	return &f, nil
}

// HashFile returns a file's path and the SHA-256 of its bytes; an empty
// path hashes to "".
func HashFile(path string) (Hashed, error) {
	if path == "" {
		return Hashed{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Hashed{}, err
	}
	sum := sha256.Sum256(b)
	return Hashed{File: path, SHA256: hex.EncodeToString(sum[:])}, nil
}

// ConfigError says a plan was made from other configuration than the
// project loaded now: File's bytes differ, the sync is gone, or the file
// cannot be read to tell (Err).
type ConfigError struct {
	Sync string // "" for the project file
	File string
	Why  string
	Err  error
}

func (e *ConfigError) Unwrap() error { return e.Err }

func (e *ConfigError) Error() string {
	what := "the project file"
	if e.Sync != "" {
		what = "sync " + e.Sync
	}
	if e.File != "" {
		what += " (" + e.File + ")"
	}
	return fmt.Sprintf("plan made from other configuration: %s %s; make a new plan", what, e.Why)
}

// AgeError says a plan is older than allowed.
type AgeError struct {
	Age, Max time.Duration
}

func (e *AgeError) Error() string {
	return fmt.Sprintf("plan made %s ago, more than --max-age %s; make a new plan", e.Age.Round(time.Second), e.Max)
}

// Check refuses a plan made from other configuration than p, or whose
// files cannot be read to tell (ConfigError), or older than maxAge at now
// (AgeError); maxAge 0 allows any age. Every error is one of the two.
func (f *File) Check(p *config.Project, now time.Time, maxAge time.Duration) error {
	if maxAge > 0 {
		if age := now.Sub(f.Created); age > maxAge {
			return &AgeError{Age: age, Max: maxAge}
		}
	}
	h, err := HashFile(p.File)
	if err != nil {
		return &ConfigError{File: p.File, Why: "cannot be read", Err: err}
	}
	if h.SHA256 != f.Project.SHA256 {
		return &ConfigError{File: p.File, Why: "has changed since the plan"}
	}
	for _, ps := range f.Syncs {
		s := p.Sync(ps.Name)
		if s == nil {
			return &ConfigError{Sync: ps.Name, File: ps.File, Why: "is no longer in the configuration"}
		}
		h, err := HashFile(s.File)
		if err != nil {
			return &ConfigError{Sync: s.Name, File: s.File, Why: "cannot be read", Err: err}
		}
		if h.SHA256 != ps.SHA256 {
			return &ConfigError{Sync: s.Name, File: s.File, Why: "has changed since the plan"}
		}
	}
	return nil
}

// NotSealableError says why a sync cannot be written to a plan file.
type NotSealableError struct {
	Sync, Why string
}

func (e *NotSealableError) Error() string {
	return fmt.Sprintf("sync %s cannot be sealed in a plan file: %s", e.Sync, e.Why)
}
