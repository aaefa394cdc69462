package salesforce

import (
	"strings"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
)

// Operation is what a sync does to the object's records.
type Operation string

const (
	Insert     Operation = "insert"
	Update     Operation = "update"
	Upsert     Operation = "upsert"
	Delete     Operation = "delete"
	HardDelete Operation = "hard_delete"
)

// destSection is a sync's destination section as this sink reads it: every key
// besides type and connection, decoded strictly.
//
// match_on is the one key that says how records are found: the external id
// field of an upsert (or Id), the field whose value finds the Id of an
// update or delete (Id, mapped, when absent).
type destSection struct {
	Object    string    `yaml:"object"`
	Operation Operation `yaml:"operation"`
	MatchOn   string    `yaml:"match_on"`
	Options   `yaml:",inline"`
}

// DestinationOf decodes a sync's destination section and checks it, and
// its fit with the rest of the sync (the mapping gives the fields that
// find records; on_removed needs an upsert), without I/O. Its errors are
// config.Errors, each at its file, line and key.
func DestinationOf(s *config.Sync) (Destination, error) {
	at := s.Destination.Section
	var sec destSection
	if err := decodeSection(at, &sec); err != nil {
		return Destination{}, err
	}
	d := Destination{Object: sec.Object, Operation: sec.Operation, MatchOn: sec.MatchOn, Options: sec.Options}
	if d.Operation == Upsert {
		d.ExternalID, d.MatchOn = sec.MatchOn, ""
	}
	var errs config.Errors
	add := func(err error) {
		if ore, ok := err.(*onRemovedError); ok {
			errs = append(errs, &config.Error{Pos: ore.pos, Key: "on_removed", Msg: ore.unlabelled()})
			return
		}
		switch e := atKey(at, err).(type) {
		case *config.Error:
			errs = append(errs, e)
		case config.Errors:
			errs = append(errs, e...)
		default:
			errs = append(errs, &config.Error{Pos: at.Pos(), Key: at.Key(), Msg: unlabelledText(err), Err: err})
		}
	}
	checked := d
	if d.Object == "" {
		add(keyErrorf("object", "missing required key: the Salesforce object, such as Account"))
		checked.Object = "Object" // check the other keys all the same
	}
	if err := checked.check(); err != nil {
		add(err)
	}
	for _, err := range d.fit(s) {
		add(err)
	}
	if len(errs) > 0 {
		return Destination{}, errs
	}
	return d, nil
}

// fit checks that the mapping gives the operation what it needs to find
// or create records, and that on_removed has an upsert.
func (d *Destination) fit(s *config.Sync) []error {
	mapped := func(field string) bool {
		for _, m := range s.Mapping {
			if strings.EqualFold(m.To, field) {
				return true
			}
		}
		return false
	}
	var errs []error
	switch d.Operation {
	case Upsert:
		if d.ExternalID != "" && len(s.Mapping) > 0 && !mapped(d.ExternalID) {
			errs = append(errs, keyErrorf("match_on", "field %s is not mapped; upsert finds records by its mapped value", d.ExternalID))
		}
	case Update, Delete, HardDelete:
		if d.MatchOn == "" && len(s.Mapping) > 0 && !mapped("Id") {
			errs = append(errs, keyErrorf("operation", "%s needs a mapping to Id or destination.match_on", d.Operation))
		}
	}
	if d.MatchOn != "" && len(s.Mapping) > 0 && !mapped(d.MatchOn) {
		errs = append(errs, keyErrorf("match_on", "field %s is not mapped; records are matched on its mapped value", d.MatchOn))
	}
	if s.OnRemoved != nil && d.Operation != "" && d.Operation != Upsert {
		errs = append(errs, &onRemovedError{pos: s.OnRemoved.Pos, op: d.Operation})
	}
	return errs
}

// onRemovedError is placed at the sync's on_removed section.
type onRemovedError struct {
	pos config.Pos
	op  Operation
}

func (e *onRemovedError) Error() string { return label + e.unlabelled() }
func (e *onRemovedError) unlabelled() string {
	return "on_removed applies to upsert syncs, not " + string(e.op)
}

// Check is the sink type's check of a sync file for config.WithCheck.
func Check(s *config.Sync) error {
	_, err := DestinationOf(s)
	return err
}

var _ reverseetl.SinkCheck = Check
