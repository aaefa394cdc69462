package salesforce

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/retl-go/retl/sink"
)

// Bulk API 2.0 job states.
const (
	stateOpen           = "Open"
	stateUploadComplete = "UploadComplete"
	stateJobComplete    = "JobComplete"
	stateFailed         = "Failed"
	stateAborted        = "Aborted"
)

// jobInfo is the part of a Bulk API 2.0 job the writer reads.
type jobInfo struct {
	ID                     string `json:"id"`
	State                  string `json:"state"`
	ContentURL             string `json:"contentUrl"`
	ErrorMessage           string `json:"errorMessage"`
	NumberRecordsProcessed int    `json:"numberRecordsProcessed"`
	NumberRecordsFailed    int    `json:"numberRecordsFailed"`
}

func (s *sfSink) bulkOperation() string {
	if s.dest.Operation == HardDelete {
		return "hardDelete"
	}
	return string(s.dest.Operation)
}

// runJobs runs jobs concurrently and fills out. A job whose requests fail
// fails its own records; only a fatal error ends the Write.
func (s *sfSink) runJobs(ctx context.Context, bl *bulkLayout, jobs []*jobPlan, out []sink.Result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.runJob(ctx, bl, j, out)
			if err == nil {
				return
			}
			if errors.Is(err, ErrLogin) {
				once.Do(func() { first = err; cancel() })
				return
			}
			r := s.jobFailure(ctx, err)
			for _, ri := range j.idx {
				out[ri] = r
			}
		}()
	}
	wg.Wait()
	return first
}

func (s *sfSink) jobPath(id string, rest ...string) string {
	return s.c.dataPath(append([]string{"jobs", "ingest", id}, rest...)...)
}

// runJob takes a job slot and runs one job from creation to its results.
// Once the job may have processed records, a stop or a lost job is
// salvaged: the job is aborted and its results read, so that every
// record it wrote is reported written. Failures before that are
// notSentErrors: no record was written.
func (s *sfSink) runJob(ctx context.Context, bl *bulkLayout, j *jobPlan, out []sink.Result) error {
	select {
	case s.jobSlots <- struct{}{}:
	case <-ctx.Done():
		return nothingSent(ctx.Err())
	}
	defer func() { <-s.jobSlots }()

	var id string
	for attempt := 0; ; attempt++ {
		var err error
		id, err = s.createAndUpload(ctx, j)
		if err == nil {
			break
		}
		if id != "" {
			// Not UploadComplete: the job processes nothing.
			s.abort(id)
		}
		if ctx.Err() != nil {
			return nothingSent(ctx.Err())
		}
		if !errors.Is(err, ErrOutcomeUnknown) || attempt >= s.c.cfg.maxRetries {
			return nothingSent(err)
		}
		// A job takes one upload, and one whose upload may have landed
		// cannot be told apart from one whose did not: it was aborted
		// before processing anything, and a new job takes the rows.
		s.log.Info("salesforce: upload interrupted; starting a new job", "job", id, "error", err)
		if err := s.c.sleep(ctx, backoff(s.c.cfg.retryBase, attempt)); err != nil {
			return err
		}
	}
	if err := s.setState(ctx, id, stateUploadComplete); err != nil {
		var ae *APIError
		if errors.Is(err, ErrLogin) || (errors.As(err, &ae) && !errors.Is(err, ErrOutcomeUnknown)) {
			// Refused: the job stays Open and processes nothing.
			s.abort(id)
			return nothingSent(err)
		}
		// The change may have landed and the job be processing.
		return s.salvage(ctx, bl, j, id, err, out)
	}
	final, err := s.poll(ctx, id, len(j.idx))
	if err != nil {
		if errors.Is(err, ErrLogin) {
			s.abort(id)
			return err
		}
		return s.salvage(ctx, bl, j, id, err, out)
	}
	if err := s.collect(ctx, bl, j, final, out); err != nil {
		if errors.Is(err, ErrLogin) {
			return err
		}
		if ctx.Err() == nil {
			// The job ran; what it wrote cannot be read.
			return errorf("%w: reading the results of job %s: %w", ErrOutcomeUnknown, id, err)
		}
		// Stopped while reading the results: read them again.
		return s.salvage(ctx, bl, j, id, err, out)
	}
	return nil
}

// createAndUpload creates a job and uploads its CSV. It returns the job
// id once the job exists, even when the upload fails.
func (s *sfSink) createAndUpload(ctx context.Context, j *jobPlan) (string, error) {
	spec := map[string]string{
		"object": s.dest.Object, "operation": s.bulkOperation(),
		"contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA",
	}
	if s.dest.Operation == Upsert {
		spec["externalIdFieldName"] = s.dest.ExternalID
	}
	rule, err := s.bulkAssignment(ctx)
	if err != nil {
		return "", errorf("creating a Bulk job: %w", err)
	}
	if rule != "" {
		spec["assignmentRuleId"] = rule
	}
	body, _ := json.Marshal(spec)
	// Creating a job writes no record: a lost or unreadable answer leaves
	// at most an empty Open job, which Salesforce discards, so a retry is safe.
	var info jobInfo
	for try := 0; ; try++ {
		resp, err := s.c.do(ctx, &request{method: http.MethodPost, path: s.c.dataPath("jobs", "ingest"), body: body, ctype: "application/json", idempotent: true})
		if err != nil {
			return "", errorf("creating a Bulk job: %w", err)
		}
		if err := json.Unmarshal(resp.body, &info); err == nil && info.ID != "" {
			break
		}
		if try == 1 {
			return "", errors.New("creating a Bulk job: the answer holds no job id")
		}
	}
	s.addJob(info.ID)
	upload := s.jobPath(info.ID, "batches")
	if info.ContentURL != "" {
		upload = "/" + strings.TrimPrefix(info.ContentURL, "/")
	}
	req := &request{method: http.MethodPut, path: upload, body: j.body, ctype: "text/csv", single: true}
	if s.dest.Options.GzipUploads {
		z, err := gzipBody(j.body)
		if err != nil {
			return info.ID, errorf("compressing job %s: %w", info.ID, err)
		}
		req.body, req.header = z, http.Header{"Content-Encoding": {"gzip"}}
		s.noteUpload(len(j.body), len(z))
	}
	req.timeout = uploadTimeout(s.c.cfg.Timeout, len(req.body))
	if _, err := s.c.do(ctx, req); err != nil {
		return info.ID, errorf("uploading job %s: %w", info.ID, err)
	}
	return info.ID, nil
}

// uploadRate is the slowest link an upload is given time for: 256 KB a
// second, about 2 Mbit/s.
const uploadRate = 256 << 10

// uploadTimeout bounds an upload of n bytes: the client's timeout plus a
// second for every uploadRate bytes, so that a 100 MB upload gets 2m +
// 400s rather than having to travel at 7 Mbit/s to finish inside 2m.
func uploadTimeout(base time.Duration, n int) time.Duration {
	return base + time.Duration(n/uploadRate)*time.Second
}

// gzipBody compresses an upload. The fastest level: CSV compresses well
// even so, and the upload, not the CPU, is what takes time.
func gzipBody(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(b) / 4)
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// setState moves a job to UploadComplete. The PATCH is retried; if a retry
// is refused because the first attempt did land, the job's state shows it.
func (s *sfSink) setState(ctx context.Context, id, state string) error {
	body := []byte(`{"state":"` + state + `"}`)
	_, err := s.c.do(ctx, &request{method: http.MethodPatch, path: s.jobPath(id), body: body, ctype: "application/json", idempotent: true})
	if err == nil {
		return nil
	}
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500 && ae.StatusCode != http.StatusUnauthorized {
		if info, gerr := s.jobInfo(ctx, id); gerr == nil && info.State != stateOpen {
			return nil
		}
	}
	return errorf("closing job %s: %w", id, err)
}

func (s *sfSink) jobInfo(ctx context.Context, id string) (*jobInfo, error) {
	for try := 0; ; try++ {
		resp, err := s.c.do(ctx, &request{method: http.MethodGet, path: s.jobPath(id), idempotent: true})
		if err != nil {
			return nil, err
		}
		var info jobInfo
		err = json.Unmarshal(resp.body, &info)
		if err == nil {
			return &info, nil
		}
		// An answer damaged on the way is asked for again, a few times.
		if try == 2 {
			return nil, errorf("job %s: decoding its state: %w", id, err)
		}
	}
}

// poll waits for a job of rows records to end, polling often at first
// and then less, up to poll_max_wait between polls.
func (s *sfSink) poll(ctx context.Context, id string, rows int) (*jobInfo, error) {
	opt := s.dest.Options
	start := time.Now()
	wait := opt.pollStart
	for {
		info, err := s.jobInfo(ctx, id)
		if err != nil {
			return nil, errorf("polling job %s: %w", id, err)
		}
		switch info.State {
		case stateJobComplete, stateFailed, stateAborted:
			return info, nil
		}
		if err := sleepCtx(ctx, nextPoll(wait, time.Since(start), info.NumberRecordsProcessed, rows, opt.pollStart/10)); err != nil {
			return nil, err
		}
		wait = min(wait*3/2, opt.PollMaxWait)
	}
}

// nextPoll is the pause before the next poll of a job that has processed
// done of its rows after elapsed. Once the job reports progress, the pause
// is about what the rest should take at the rate seen so far, rather than
// a backoff step that can overshoot the end by half the time spent; it is
// never below a twentieth of elapsed or floor, so a job that slows near
// its end costs few extra polls.
func nextPoll(wait, elapsed time.Duration, done, rows int, floor time.Duration) time.Duration {
	if done <= 0 || done >= rows {
		return wait
	}
	rest := time.Duration(float64(elapsed) * float64(rows-done) / float64(done))
	return min(wait, max(rest, elapsed/20, floor))
}

// abort stops a job that will not be finished, with a context of its own
// since the Write's may be done.
func (s *sfSink) abort(id string) {
	ctx, cancel := context.WithTimeout(withCallCounter(context.Background(), &s.calls), 10*time.Second)
	defer cancel()
	body := []byte(`{"state":"` + stateAborted + `"}`)
	if _, err := s.c.do(ctx, &request{method: http.MethodPatch, path: s.jobPath(id), body: body, ctype: "application/json", idempotent: true}); err != nil {
		s.log.Warn("salesforce: aborting a Bulk job failed", "job", id, "error", err)
	}
}

// results streams a result file of a job into read.
func (s *sfSink) results(ctx context.Context, id, kind string, read func(io.Reader) error) error {
	_, err := s.c.do(ctx, &request{method: http.MethodGet, path: s.jobPath(id, kind+"/"), accept: "text/csv", idempotent: true, read: read})
	if err != nil {
		return errorf("job %s %s: %w", id, kind, err)
	}
	return nil
}
