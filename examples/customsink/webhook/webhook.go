// Package webhook is a destination other than Salesforce, written as
// another team would write one: it posts records as JSON to an HTTP
// endpoint. Its sync files carry only its own keys (url, key_field,
// batch_size, timeout, max_retries), which it registers and checks itself.
//
// The endpoint takes POST {"records": [{"key": "K", "fields": {...}}]}
// and answers 200 with {"results": [...]}, one per record in order: {"id":
// "...", "created": true|false} for a record it stored (created when its
// key was new), {"error": {"code": "...", "message": "..."}} for one it
// refused. A record is stored by its key, so sending it
// again stores it again, not twice: the sink retries a batch whose answer
// was lost (a 5xx, a dropped connection).
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// Type is the destination type of a sync file.
const Type = "webhook"

// Register registers the webhook sink and its check.
func Register(r *reverseetl.Registry) {
	r.RegisterSink(Type, New)
	r.RegisterSinkCheck(Type, Check)
}

// Config is the destination section.
type Config struct {
	// URL receives the batches (http only for loopback hosts).
	URL string `yaml:"url"`
	// KeyField is the mapped field whose value is each record's key.
	KeyField string `yaml:"key_field"`
	// BatchSize is the most records one request carries (default 100).
	BatchSize int `yaml:"batch_size"`
	// Timeout bounds one request (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetries is how often a batch whose answer was lost is sent again
	// (default 3).
	MaxRetries *int `yaml:"max_retries"`
}

// Codes of records the sink fails itself.
const (
	// CodeHTTP: the endpoint kept failing the request (the code ends with
	// its HTTP status) or could not be reached; the record may not be
	// stored.
	CodeHTTP = "WEBHOOK_HTTP"
	// CodeAnswer: the endpoint's answer did not give this record a result.
	CodeAnswer = "WEBHOOK_ANSWER"
)

// decode reads and checks a sync's destination section; its errors are
// config errors at their file, line and key.
func decode(s *config.Sync) (Config, error) {
	sec := s.Destination.Section
	var c Config
	if err := sec.Decode(&c); err != nil {
		return c, err
	}
	var errs config.Errors
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, sec.ErrorAt("url", "missing required key: the endpoint that receives the records"))
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		errs = append(errs, sec.ErrorAt("url", "want an absolute http(s) URL"))
	case u.Scheme == "http" && u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1":
		errs = append(errs, sec.ErrorAt("url", "http is allowed only for loopback hosts; use https"))
	}
	if c.KeyField == "" {
		errs = append(errs, sec.ErrorAt("key_field", "missing required key: the mapped field whose value is each record's key"))
	} else if !mapped(s, c.KeyField) {
		errs = append(errs, sec.ErrorAt("key_field", fmt.Sprintf("field %s is not mapped", c.KeyField)))
	}
	if c.BatchSize < 0 {
		errs = append(errs, sec.ErrorAt("batch_size", "must not be negative"))
	}
	if c.Timeout < 0 {
		errs = append(errs, sec.ErrorAt("timeout", "must not be negative"))
	}
	if c.MaxRetries != nil && *c.MaxRetries < 0 {
		errs = append(errs, sec.ErrorAt("max_retries", "must not be negative"))
	}
	// An endpoint that only receives cannot tell whether a field is empty:
	// set_if_empty is refused, not ignored.
	for i, m := range s.Mapping {
		if m.SetIfEmpty {
			errs = append(errs, &config.Error{Pos: m.Pos, Key: fmt.Sprintf("mapping[%d].set_if_empty", i),
				Msg: "the webhook destination cannot read current values; set_if_empty is not supported"})
		}
	}
	if len(errs) > 0 {
		return c, errs
	}
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxRetries == nil {
		n := 3
		c.MaxRetries = &n
	}
	return c, nil
}

func mapped(s *config.Sync, field string) bool {
	for _, m := range s.Mapping {
		if m.To == field {
			return true
		}
	}
	return false
}

// Check is the type's check of a sync file (config.WithCheck).
func Check(s *config.Sync) error {
	_, err := decode(s)
	return err
}

// New is the factory: it decodes the section and builds the sink without
// I/O.
func New(_ context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
	if b.Sync == nil {
		return nil, errors.New("webhook: no sync to build a sink for")
	}
	c, err := decode(b.Sync)
	if err != nil {
		return nil, err
	}
	return NewSink(c, &http.Client{Timeout: c.Timeout}), nil
}

// Sink posts records to the endpoint.
type Sink struct {
	cfg    Config
	client *http.Client
	// wait is the pause before retry n (n from 1); tests shorten it.
	wait func(n int) time.Duration
}

// NewSink returns a sink for a decoded configuration.
func NewSink(c Config, client *http.Client) *Sink {
	return &Sink{cfg: c, client: client, wait: func(n int) time.Duration { return time.Duration(n) * 500 * time.Millisecond }}
}

var (
	_ sink.Batching  = (*Sink)(nil)
	_ sink.Describer = (*Sink)(nil)
)

// Batching implements sink.Batching: one request per batch, two at once.
func (s *Sink) Batching() (int, int) { return s.cfg.BatchSize, 2 }

// Describe implements sink.Describer.
func (s *Sink) Describe() sink.Description {
	return sink.Description{Label: "post " + s.cfg.URL, Identity: s.cfg.URL + " by " + s.cfg.KeyField, KeyField: s.cfg.KeyField}
}

// Close implements sink.Sink.
func (s *Sink) Close(context.Context) error {
	s.client.CloseIdleConnections()
	return nil
}

type wireRecord struct {
	Key    string         `json:"key"`
	Fields map[string]any `json:"fields"`
}

type wireResult struct {
	ID      string `json:"id"`
	Created bool   `json:"created"`
	Error   *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Write implements sink.Sink: one request per call, retried while its
// answer is lost; records get the endpoint's own result.
func (s *Sink) Write(ctx context.Context, records []sink.Record) ([]sink.Result, error) {
	res := make([]sink.Result, len(records))
	if len(records) == 0 {
		return res, nil
	}
	body, err := encode(records, s.cfg.KeyField)
	if err != nil {
		return nil, err
	}
	var answer []wireResult
	var last error
	for attempt := 0; ; attempt++ {
		answer, last = s.post(ctx, body)
		if last == nil || attempt >= *s.cfg.MaxRetries || !retryable(last) {
			break
		}
		select {
		case <-ctx.Done():
			last = ctx.Err()
		case <-time.After(s.wait(attempt + 1)):
			continue
		}
		break
	}
	if last != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		code := CodeHTTP
		var se *statusError
		var ae *answerError
		switch {
		case errors.As(last, &se):
			code += "_" + strconv.Itoa(se.status)
		case errors.As(last, &ae):
			code = CodeAnswer
		}
		for i := range res {
			res[i].Err = &sink.RecordError{Code: code, Message: last.Error()}
		}
		return res, nil
	}
	for i := range res {
		switch {
		case i >= len(answer):
			res[i].Err = &sink.RecordError{Code: CodeAnswer, Message: fmt.Sprintf("the answer holds %d results for %d records", len(answer), len(records))}
		case answer[i].Error != nil:
			res[i].Err = &sink.RecordError{Code: answer[i].Error.Code, Message: answer[i].Error.Message}
		default:
			res[i].ID, res[i].Created = answer[i].ID, answer[i].Created
		}
	}
	return res, nil
}

// encode builds the request body: each record's key and its fields, with
// absent fields left out and values in their JSON types.
func encode(records []sink.Record, keyField string) ([]byte, error) {
	out := struct {
		Records []wireRecord `json:"records"`
	}{Records: make([]wireRecord, len(records))}
	for i, r := range records {
		w := wireRecord{Fields: map[string]any{}}
		for j, f := range r.Layout.Fields {
			if j >= len(r.Values) {
				break
			}
			v := r.Values[j]
			switch v.Kind {
			case sink.Absent:
				continue
			case sink.Null:
				w.Fields[f] = nil
			case sink.Number:
				w.Fields[f] = json.Number(v.S)
			case sink.Bool:
				w.Fields[f] = v.S == "true"
			default:
				w.Fields[f] = v.S
			}
			if f == keyField && v.Kind != sink.Null {
				w.Key = v.S
			}
		}
		out.Records[i] = w
	}
	return json.Marshal(out)
}

type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("webhook: HTTP %d: %s", e.status, e.body)
}

// retryable: a 5xx, a 429 or a transport error, whose request the
// endpoint may not have applied; sending it again is safe (records are
// stored by key).
func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.status >= 500 || se.status == http.StatusTooManyRequests
	}
	var ae *answerError
	return !errors.As(err, &ae)
}

// answerError is a 200 whose body is not the expected answer.
type answerError struct{ err error }

func (e *answerError) Error() string { return "webhook: reading the answer: " + e.err.Error() }
func (e *answerError) Unwrap() error { return e.err }

func (s *Sink) post(ctx context.Context, body []byte) ([]wireResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("webhook: reading the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, &statusError{status: resp.StatusCode, body: string(bytes.TrimSpace(data[:min(len(data), 512)]))}
	}
	var a struct {
		Results []wireResult `json:"results"`
	}
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, &answerError{err}
	}
	return a.Results, nil
}
