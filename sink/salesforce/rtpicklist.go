package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/retl-go/retl/sink"
)

// A record type narrows the values of a picklist: Salesforce serves the
// values a record type has through the User Interface API ("Get Values
// for All Picklist Fields of a Record Type",
// /ui-api/object-info/{objectApiName}/picklist-values/{recordTypeId}),
// while the object's describe lists every value of the field. When a sync
// maps RecordTypeId (by Id, or by DeveloperName, which Screen turns into
// the Id first), the predictor reads, once per record type and run, the
// values of that record type, and fails a restricted picklist value the
// record type lacks with Salesforce's INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
// without sending it.

// rtPicklistCache keeps, per object and record type Id, the values of
// each picklist (by lower-case field name, each value lower-cased); nil
// for a record type whose values cannot be had (an object the User
// Interface API does not support, an unknown Id): its records are judged
// by the describe alone.
type rtPicklistCache struct {
	mu   sync.Mutex
	byRT map[string]map[string]map[string]bool
}

// recordTypePicklists returns the picklist values record type rtID has,
// read once per client.
func (c *apiClient) recordTypePicklists(ctx context.Context, object, rtID string) (map[string]map[string]bool, error) {
	rc := &c.rtPicks
	rc.mu.Lock()
	defer rc.mu.Unlock()
	key := strings.ToLower(object) + "/" + rtID
	if m, ok := rc.byRT[key]; ok {
		return m, nil
	}
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: c.dataPath("ui-api", "object-info", object, "picklist-values", rtID), idempotent: true})
	var m map[string]map[string]bool
	var ae *APIError
	switch {
	case errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500:
		// Not every object is served by the User Interface API, and an
		// unknown record type has no values: such records keep the
		// describe's judgement (and Salesforce refuses an unknown Id).
		c.log.Debug("salesforce: no picklist values per record type", "object", object, "record_type", rtID, "error", err)
	case err != nil:
		return nil, errorf("reading the picklist values of record type %s of %s: %w", rtID, object, err)
	default:
		var body struct {
			PicklistFieldValues map[string]struct {
				Values []struct {
					Value string `json:"value"`
				} `json:"values"`
			} `json:"picklistFieldValues"`
		}
		if err := json.Unmarshal(resp.body, &body); err != nil {
			return nil, errorf("reading the picklist values of record type %s of %s: %w", rtID, object, err)
		}
		m = make(map[string]map[string]bool, len(body.PicklistFieldValues))
		for f, pv := range body.PicklistFieldValues {
			set := make(map[string]bool, len(pv.Values))
			for _, v := range pv.Values {
				set[strings.ToLower(v.Value)] = true
			}
			m[strings.ToLower(f)] = set
		}
	}
	if rc.byRT == nil {
		rc.byRT = map[string]map[string]map[string]bool{}
	}
	rc.byRT[key] = m
	return m, nil
}

// predictRecordType fails a record whose restricted picklist holds a value
// its record type does not have. The record's RecordTypeId is an Id by
// now (nameRecordType); a record without one is judged by the describe.
func (s *sfSink) predictRecordType(ctx context.Context, p *screenPlan, r *sink.Record) (*sink.RecordError, error) {
	if p.rtype < 0 || p.rtype >= len(r.Values) || len(p.pred.restricted) == 0 {
		return nil, nil
	}
	v := r.Values[p.rtype]
	if v.IsEmpty() || !isRecordTypeID(v.S) {
		return nil, nil
	}
	values, err := s.c.recordTypePicklists(ctx, s.dest.Object, toID18(v.S))
	if err != nil || values == nil {
		return nil, err
	}
	for _, i := range p.pred.restricted {
		if i >= len(r.Values) || r.Values[i].IsEmpty() || r.Values[i].S == "" {
			continue
		}
		f := p.pred.cols[i].field
		set, ok := values[strings.ToLower(f.Name)]
		if !ok || set[strings.ToLower(r.Values[i].S)] {
			continue
		}
		return &sink.RecordError{Code: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", Predicted: true, Fields: []string{f.Name},
			Message: f.Label + ": bad value for restricted picklist field: " + r.Values[i].S}, nil
	}
	return nil, nil
}
