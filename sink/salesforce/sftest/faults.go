package sftest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// FaultKind names a fault the emulator can inject.
type FaultKind string

// Fault kinds.
const (
	// FaultStatus answers with Status (default 503) and a Salesforce-style
	// error body instead of handling the request.
	FaultStatus FaultKind = "status"
	// FaultRateLimit answers 403 REQUEST_LIMIT_EXCEEDED for the daily
	// limit ("TotalRequests Limit exceeded.").
	FaultRateLimit FaultKind = "rateLimit"
	// FaultConcurrentLimit answers 403 REQUEST_LIMIT_EXCEEDED for the
	// concurrent long-running request limit ("ConcurrentRequests ...").
	FaultConcurrentLimit FaultKind = "concurrentLimit"
	// FaultDelay holds the request for Delay, then handles it normally.
	FaultDelay FaultKind = "delay"
	// FaultDropResponse handles the request, then closes the connection
	// halfway through writing the response.
	FaultDropResponse FaultKind = "dropResponse"
	// FaultDropRequest closes the connection while the request body is
	// still being read; nothing is handled.
	FaultDropRequest FaultKind = "dropRequest"
	// FaultMalformed handles the request and sends a corrupted body: JSON
	// cut in half, CSV with an unterminated quote.
	FaultMalformed FaultKind = "malformed"
	// FaultSessionExpired answers 401 INVALID_SESSION_ID.
	FaultSessionExpired FaultKind = "sessionExpired"
)

// Fault describes requests to disturb and how.
type Fault struct {
	// Kind defaults to FaultDelay when only Delay is set, else FaultStatus.
	Kind FaultKind `json:"kind"`
	// Method matches the HTTP method; empty matches any.
	Method string `json:"method,omitempty"`
	// Path matches when it occurs in the URL path, e.g. "/jobs/ingest/" or
	// "/batches"; empty matches any path.
	Path string `json:"path,omitempty"`
	// Status is the status FaultStatus answers with (default 503).
	Status int `json:"status,omitempty"`
	// Times is how many matching requests are disturbed; 0 means until
	// ClearFaults.
	Times int `json:"times,omitempty"`
	// Delay is how long FaultDelay holds each request.
	Delay time.Duration `json:"delay,omitempty"`
}

type faultEntry struct {
	Fault
	id   int
	left int // -1: unlimited
}

func validKind(k FaultKind) bool {
	switch k {
	case FaultStatus, FaultRateLimit, FaultConcurrentLimit, FaultDelay, FaultDropResponse, FaultDropRequest, FaultMalformed, FaultSessionExpired:
		return true
	}
	return false
}

func (f *faultEntry) matches(r *http.Request) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	return f.Path == "" || strings.Contains(r.URL.Path, f.Path)
}

func (s *Server) applyFaults(w *statusWriter, r *http.Request) (handled, dropped bool) {
	s.mu.Lock()
	var delay time.Duration
	var hit *faultEntry
	kept := s.faults[:0]
	for _, f := range s.faults {
		if f.matches(r) && (f.Kind == FaultDelay || hit == nil) {
			if f.Kind == FaultDelay {
				delay += f.Delay
			} else {
				hit = f
			}
			if f.left > 0 {
				f.left--
				if f.left == 0 {
					continue
				}
			}
		}
		kept = append(kept, f)
	}
	for i := len(kept); i < len(s.faults); i++ {
		s.faults[i] = nil
	}
	s.faults = kept
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-s.closed:
		}
		t.Stop()
	}
	if hit == nil {
		return false, false
	}
	switch hit.Kind {
	case FaultStatus:
		msg := newErr("SERVER_UNAVAILABLE", "Server temporarily unavailable, please retry later")
		if hit.Status != http.StatusServiceUnavailable {
			msg = newErr("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)")
		}
		writeErrors(w, hit.Status, msg)
		return true, false
	case FaultRateLimit:
		// As when the allocation is spent: the usage header says so.
		w.Header().Set("Sforce-Limit-Info", "api-usage="+strconv.Itoa(s.cfg.apiLimit)+"/"+strconv.Itoa(s.cfg.apiLimit))
		writeErrors(w, http.StatusForbidden, errDailyLimit)
		return true, false
	case FaultConcurrentLimit:
		writeErrors(w, http.StatusForbidden, errConcurrent)
		return true, false
	case FaultSessionExpired:
		writeErrors(w, http.StatusUnauthorized, errSession)
		return true, false
	case FaultDropRequest:
		n := r.ContentLength / 2
		if n <= 0 {
			n = 1
		}
		_, _ = io.CopyN(io.Discard, r.Body, n)
		// Logged before the connection closes, so a client that sees the
		// failure also sees the request in the log.
		s.logRequest(w, r, 0)
		s.hijackClose(w, nil)
		return true, true
	case FaultDropResponse, FaultMalformed:
		rec := httptest.NewRecorder()
		for k, v := range w.Header() {
			rec.Header()[k] = v
		}
		s.route(rec, r)
		res := rec.Result()
		body := rec.Body.Bytes()
		if hit.Kind == FaultMalformed {
			status := res.StatusCode
			if status == http.StatusNoContent || status == http.StatusCreated && len(body) == 0 {
				status = http.StatusOK
			}
			body = corrupt(res.Header.Get("Content-Type"), body)
			for k, v := range res.Header {
				w.Header()[k] = v
			}
			if w.Header().Get("Content-Type") == "" {
				w.Header().Set("Content-Type", "application/json;charset=UTF-8")
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return true, false
		}
		var head bytes.Buffer
		head.WriteString("HTTP/1.1 " + strconv.Itoa(res.StatusCode) + " " + http.StatusText(res.StatusCode) + "\r\n")
		res.Header.Set("Content-Length", strconv.Itoa(max(len(body), 2)))
		_ = res.Header.Write(&head)
		head.WriteString("\r\n")
		head.Write(body[:len(body)/2])
		s.logRequest(w, r, 0)
		s.hijackClose(w, head.Bytes())
		return true, true
	}
	return false, false
}

// corrupt damages a body so that a parser for its content type fails.
func corrupt(contentType string, body []byte) []byte {
	if strings.HasPrefix(contentType, "text/csv") {
		out := append([]byte(nil), body[:len(body)/2]...)
		return append(out, ",\"unterminated\n"...)
	}
	if len(body) < 2 {
		return []byte("{\"")
	}
	return append([]byte(nil), body[:len(body)/2]...)
}

func (s *Server) hijackClose(w http.ResponseWriter, partial []byte) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): the best we can do is abort the handler.
		panic(http.ErrAbortHandler)
	}
	if partial != nil {
		_, _ = buf.Write(partial)
		_ = buf.Flush()
	}
	_ = conn.Close()
}
