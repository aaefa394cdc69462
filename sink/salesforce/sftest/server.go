// Package sftest runs an in-process emulator of the parts of Salesforce that
// retl talks to: OAuth and SOAP login, the REST sObject, sObject Collections,
// query and describe resources, and Bulk API 2.0 ingest jobs. It is to
// Salesforce what net/http/httptest is to an HTTP server: tests point a client
// at Server.URL and then inspect what the client did, or inject faults.
//
// See README.md in this directory for the defaults, the schema file format,
// the control API and what is not emulated.
package sftest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Default credentials of the emulated org.
const (
	DefaultUsername     = "demo@example.com"
	DefaultPassword     = "demo"
	DefaultClientID     = "retl"
	DefaultClientSecret = "retl"
)

const (
	orgID  = "00D5g000004DEMOEAY"
	userID = "0055g00000DEMOUAAX"
)

// Server is a running emulator. All methods are safe for concurrent use.
type Server struct {
	cfg config
	org *org
	hs  *httptest.Server
	url string

	mu            sync.Mutex
	sessions      map[string]*session
	faults        []*faultEntry
	faultSeq      int
	requests      []Request
	jobs          map[string]*job
	jobOrder      []*job
	failJobs      []string // error messages for the next jobs to fail
	queryJobs     map[string]*queryJob
	queryJobOrder []string
	cursors       map[string]*cursor
	cursorIDs     []string
	contention    bool
	owners        map[string]*job // parent record id -> in-progress job holding it; guarded by org.mu
	freed         chan struct{}   // closed when a job releases its parents; guarded by org.mu

	// running holds the start of each API request in progress, for the
	// concurrent long-running request limit.
	running map[*http.Request]time.Time

	apiCalls atomic.Int64
	closed   chan struct{}
	wg       sync.WaitGroup
}

type session struct {
	token   string
	user    string
	expires time.Time
}

// Request is one request the emulator answered (control requests excluded).
type Request struct {
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Query  string    `json:"query,omitempty"`
	Status int       `json:"status"` // 0 when the connection was dropped
	Time   time.Time `json:"time"`
	// AutoAssign is the request's Sforce-Auto-Assign header, which asks a
	// REST save to run assignment rules (TRUE, FALSE or a rule Id).
	AutoAssign string `json:"autoAssign,omitempty"`
}

// NewServer starts an emulator on a loopback port. It panics if an option is
// invalid (for example a schema file that does not parse), like
// httptest.NewServer does when it cannot listen; use Start to get the error.
func NewServer(opts ...Option) *Server {
	s, err := Start(opts...)
	if err != nil {
		panic("sftest: " + err.Error())
	}
	return s
}

// Start is NewServer returning errors instead of panicking.
func Start(opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	s := &Server{cfg: cfg, org: newOrg(), sessions: map[string]*session{}, jobs: map[string]*job{},
		cursors: map[string]*cursor{}, queryJobs: map[string]*queryJob{}, owners: map[string]*job{}, running: map[*http.Request]time.Time{}, closed: make(chan struct{}), freed: make(chan struct{}),
		contention: cfg.lockContention}
	for _, path := range cfg.schemaFiles {
		sf, err := loadSchemaFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := s.applySchema(sf); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	for _, data := range cfg.schemaYAML {
		sf, err := parseSchema(data)
		if err != nil {
			return nil, err
		}
		if err := s.applySchema(sf); err != nil {
			return nil, err
		}
	}
	if len(cfg.objects) > 0 {
		if err := s.org.define(cfg.objects...); err != nil {
			return nil, err
		}
	}
	if s.cfg.jwtPEM != nil {
		key, err := parsePublicKey(s.cfg.jwtPEM)
		if err != nil {
			return nil, err
		}
		s.cfg.jwtKey = key
	}
	hs := httptest.NewUnstartedServer(s)
	if cfg.addr != "" {
		ln, err := net.Listen("tcp", cfg.addr)
		if err != nil {
			hs.Listener.Close()
			return nil, err
		}
		hs.Listener.Close()
		hs.Listener = ln
	}
	// The URL is known before serving starts so handlers never race on it.
	addr := hs.Listener.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		// Listening on every interface: loopback is the address that works.
		host = "127.0.0.1"
	}
	s.url = "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
	s.hs = hs
	hs.Start()
	return s, nil
}

func (s *Server) applySchema(sf *schemaFile) error {
	var objs []Object
	for _, o := range sf.Objects {
		objs = append(objs, o.toObject())
	}
	if a := sf.Auth; a != nil {
		if a.Username != "" {
			s.cfg.username = a.Username
		}
		if a.Password != "" {
			s.cfg.password = a.Password
		}
		if a.ClientID != "" {
			s.cfg.clientID = a.ClientID
		}
		if a.ClientSecret != "" {
			s.cfg.clientSecret = a.ClientSecret
		}
		if a.JWTPublicKey != "" {
			s.cfg.jwtPEM = []byte(a.JWTPublicKey)
		}
	}
	return s.org.define(objs...)
}

// URL is the base URL: login URL and instance URL at once.
func (s *Server) URL() string { return s.url }

// Close stops background job processing and the HTTP server.
func (s *Server) Close() {
	select {
	case <-s.closed:
		return
	default:
	}
	close(s.closed)
	s.hs.CloseClientConnections()
	s.hs.Close()
	s.wg.Wait()
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
	start  time.Time
	logged bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP makes Server an http.Handler, for mounting it elsewhere.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/__sftest/") {
		s.control(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w, start: time.Now()}
	defer func() {
		if !sw.logged {
			s.logRequest(sw, r, sw.status)
		}
	}()
	if status := headTooLarge(r); status != 0 {
		// Refused in front of the API, before a call is counted.
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		sw.WriteHeader(status)
		fmt.Fprintf(sw, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
		return
	}
	if strings.HasPrefix(r.URL.Path, "/services/data/v") {
		n := s.apiCalls.Add(1)
		sw.Header().Set("Sforce-Limit-Info", "api-usage="+strconv.FormatInt(n, 10)+"/"+strconv.Itoa(s.cfg.apiLimit))
		if !s.startRunning(r) {
			writeErrors(sw, http.StatusForbidden, errConcurrent)
			return
		}
		defer s.stopRunning(r)
	}
	if handled, _ := s.applyFaults(sw, r); handled {
		return
	}
	s.route(sw, r)
}

// MaxRequestHead is the most bytes Salesforce takes for the URI and the
// headers of one request together (help article 000386264).
const MaxRequestHead = 16_384

// headTooLarge is the status Salesforce answers for a request whose URI
// alone (414) or URI and headers together (431) exceed MaxRequestHead, or
// 0. The request line and each header are counted as they travel.
func headTooLarge(r *http.Request) int {
	uri := len(r.RequestURI)
	if uri > MaxRequestHead {
		return http.StatusRequestURITooLong
	}
	n := len(r.Method) + 1 + uri + 1 + len(r.Proto) + 2
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	if n > MaxRequestHead {
		return http.StatusRequestHeaderFieldsTooLarge
	}
	return 0
}

// Salesforce's answers for its two request limits (API Request Limits and
// Allocations): the one code, told apart by the message.
var (
	errConcurrent = newErr("REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests (Concurrent API Requests) Limit exceeded.")
	errDailyLimit = newErr("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
)

// startRunning admits an API request unless the requests that have been
// running for longRunning or longer already reach the concurrent limit.
func (s *Server) startRunning(r *http.Request) bool {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	long := 0
	for _, t := range s.running {
		if now.Sub(t) >= s.cfg.longRunning {
			long++
		}
	}
	if long >= s.cfg.concurrentLimit {
		return false
	}
	s.running[r] = now
	return true
}

func (s *Server) stopRunning(r *http.Request) {
	s.mu.Lock()
	delete(s.running, r)
	s.mu.Unlock()
}

// logRequest records a request once; status 0 marks a dropped connection.
func (s *Server) logRequest(sw *statusWriter, r *http.Request, status int) {
	sw.logged = true
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status, Time: sw.start,
		AutoAssign: r.Header.Get("Sforce-Auto-Assign")})
	s.mu.Unlock()
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/services/oauth2/token":
		s.handleToken(w, r)
	case strings.HasPrefix(p, "/services/Soap/u/"):
		s.handleSOAPLogin(w, r)
	case p == "/services/data" || p == "/services/data/":
		s.handleVersions(w, r)
	case strings.HasPrefix(p, "/services/data/v"):
		s.handleData(w, r)
	case strings.HasPrefix(p, "/id/"):
		s.handleIdentity(w, r)
	default:
		writeErrors(w, http.StatusNotFound, errNotFound)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeErrors(w http.ResponseWriter, status int, errs ...*apiError) {
	out := make([]restError, len(errs))
	for i, e := range errs {
		out[i] = e.rest()
	}
	writeJSON(w, status, out)
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) newSession(user string) *session {
	ss := &session{token: orgID[:15] + "!AQ" + randomToken(72), user: user, expires: time.Now().Add(s.cfg.sessionTTL)}
	s.mu.Lock()
	s.sessions[ss.token] = ss
	s.mu.Unlock()
	return ss
}

// authenticate checks the Authorization header ("Bearer" or "OAuth").
func (s *Server) authenticate(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	var tok string
	switch {
	case strings.HasPrefix(h, "Bearer "):
		tok = strings.TrimPrefix(h, "Bearer ")
	case strings.HasPrefix(h, "OAuth "):
		tok = strings.TrimPrefix(h, "OAuth ")
	default:
		// The Bulk API (1.0 and SOAP) style header is accepted as well.
		tok = r.Header.Get("X-SFDC-Session")
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[tok]
	return ss != nil && time.Now().Before(ss.expires)
}

var errSession = newErr("INVALID_SESSION_ID", "Session expired or invalid")
