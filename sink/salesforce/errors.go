package salesforce

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/retl-go/retl/sink"
)

// APIError is an error answer from Salesforce: the top-level REST shape
// [{"errorCode","message","fields"}], an OAuth {"error","error_description"}
// or, for answers that are neither, the HTTP status. Callers branch on it
// with errors.As; it never holds a token or a credential.
type APIError struct {
	StatusCode int
	// Code is Salesforce's errorCode (or OAuth error), such as
	// INVALID_SESSION_ID or invalid_grant; HTTP_<status> when the body had none.
	Code    string
	Message string
	Fields  []string
	// Method and Path name the request, without its query string.
	Method, Path string
}

func (e *APIError) Error() string { return label + e.unlabelled() }

func (e *APIError) unlabelled() string {
	var b strings.Builder
	if e.Method != "" {
		b.WriteString(e.Method + " " + e.Path + ": ")
	}
	b.WriteString(strconv.Itoa(e.StatusCode) + " " + e.Code)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.Fields) > 0 {
		b.WriteString(" (fields: " + strings.Join(e.Fields, ", ") + ")")
	}
	return b.String()
}

// RecordError converts the error to a per-record error with the same code.
func (e *APIError) RecordError() *sink.RecordError {
	return &sink.RecordError{Code: e.Code, Message: e.Message, Fields: e.Fields}
}

// Codes of the per-record errors the sink itself reports.
const (
	// CodeOutcomeUnknown: the request may or may not have been applied (its
	// answer was lost), and resending it could write the record twice.
	CodeOutcomeUnknown = "RETL_OUTCOME_UNKNOWN"
	// CodeAPIBudget: the run's api_budget was spent before the record was
	// sent.
	CodeAPIBudget = "RETL_API_BUDGET"
	// CodeJobFailed: the Bulk job holding the record failed as a whole.
	CodeJobFailed = "JOB_FAILED"
	// CodeJobAborted: the Bulk job holding the record was aborted.
	CodeJobAborted = "JOB_ABORTED"
	// CodeUnprocessed: the Bulk job ended before it processed the record.
	CodeUnprocessed = "UNPROCESSED"
	// CodeRequestFailed: the request carrying the record failed after retries.
	CodeRequestFailed = "RETL_REQUEST_FAILED"
)

// ErrOutcomeUnknown is wrapped by errors of requests that were sent but
// whose answer was lost, when the request is not safe to resend.
var ErrOutcomeUnknown = newError("request sent but its outcome is unknown")

// parseAPIError builds an APIError from an error answer.
func parseAPIError(status int, body []byte, method, path string) *APIError {
	e := &APIError{StatusCode: status, Method: method, Path: path}
	var list []struct {
		ErrorCode string   `json:"errorCode"`
		Message   string   `json:"message"`
		Fields    []string `json:"fields"`
	}
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	var fault struct {
		Code    string `xml:"Body>Fault>faultcode"`
		Message string `xml:"Body>Fault>faultstring"`
	}
	switch {
	case json.Unmarshal(body, &list) == nil && len(list) > 0 && list[0].ErrorCode != "":
		e.Code, e.Message, e.Fields = list[0].ErrorCode, list[0].Message, list[0].Fields
		// Several errors: keep the first's code and all messages.
		for _, x := range list[1:] {
			e.Message += "; " + x.ErrorCode + ": " + x.Message
		}
	case json.Unmarshal(body, &oauth) == nil && oauth.Error != "":
		e.Code, e.Message = oauth.Error, oauth.Description
	case xml.Unmarshal(body, &fault) == nil && fault.Code != "":
		// A SOAP fault: faultcode is "sf:INVALID_LOGIN".
		e.Code = fault.Code[strings.IndexByte(fault.Code, ':')+1:]
		e.Message = fault.Message
	default:
		e.Code = "HTTP_" + strconv.Itoa(status)
		e.Message = snippet(body)
	}
	return e
}

// snippet keeps a short, printable start of a body that is not a
// Salesforce error (a proxy's HTML page, for example).
func snippet(b []byte) string {
	const max = 200
	s := string(b)
	if !utf8.ValidString(s) {
		return ""
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// parseBulkError splits Bulk API 2.0's sf__Error cell,
// "CODE:message:field1,field2 --", into a RecordError. The message may
// itself hold colons, so fields are only what follows the last colon and
// looks like a list of field names.
func parseBulkError(s string) *sink.RecordError {
	s = strings.TrimSpace(s)
	s = strings.TrimSpace(strings.TrimSuffix(s, "--"))
	code, rest, ok := strings.Cut(s, ":")
	if !ok || !isErrorCode(code) {
		return &sink.RecordError{Code: "UNKNOWN_ERROR", Message: s}
	}
	e := &sink.RecordError{Code: code, Message: rest}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && looksLikeFields(rest[i+1:]) {
		e.Message = rest[:i]
		for _, f := range strings.Split(rest[i+1:], ",") {
			if f = strings.TrimSpace(f); f != "" {
				e.Fields = append(e.Fields, f)
			}
		}
	}
	e.Message = strings.TrimSpace(e.Message)
	return e
}

func isErrorCode(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func looksLikeFields(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == ',' || r == '.' || r == ' ') {
			return false
		}
	}
	return true
}

// scrub removes secrets from a message, for errors whose text comes from
// places we do not control (a login server's answer, a transport error).
// A secret is also removed as it was encoded in the login form or a URL,
// since an answer that echoes the request shows it that way.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			msg = strings.ReplaceAll(msg, form, "[REDACTED]")
		}
	}
	return msg
}

// scrubbedError carries an error whose text had secrets removed, keeping the
// chain for errors.Is/As.
type scrubbedError struct {
	msg, bare string // with and without the package's label
	err       error
}

func (e *scrubbedError) Error() string      { return e.msg }
func (e *scrubbedError) unlabelled() string { return e.bare }
func (e *scrubbedError) Unwrap() error      { return e.err }

func scrubError(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := scrub(msg, secrets)
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, bare: scrub(unlabelledText(err), secrets), err: err}
}

// maxMessage bounds a record error's message. Salesforce quotes the
// rejected value in some messages (STRING_TOO_LONG), and a report keeps
// the messages of up to a thousand failed rows.
const maxMessage = 1024

// clipMessage cuts a message longer than maxMessage on a rune boundary;
// the result is a new string, so the long text can be freed.
func clipMessage(msg string) string {
	if len(msg) <= maxMessage {
		return msg
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + fmt.Sprintf("… (%d bytes cut)", len(msg)-cut)
}

func recordErr(code, format string, args ...any) *sink.RecordError {
	return &sink.RecordError{Code: code, Message: fmt.Sprintf(format, args...)}
}
