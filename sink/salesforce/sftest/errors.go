package sftest

import (
	"strings"
)

// apiError is one Salesforce error: the REST shape is
// {"message","errorCode","fields"}, the per-record shape in save results is
// {"statusCode","message","fields"}, and Bulk API 2.0 flattens it to
// "CODE:message:field1,field2 --".
type apiError struct {
	Code    string
	Message string
	Fields  []string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newErr(code, msg string, fields ...string) *apiError {
	if fields == nil {
		fields = []string{}
	}
	return &apiError{Code: code, Message: msg, Fields: fields}
}

// bulkString renders the error the way Bulk API 2.0 writes sf__Error.
func (e *apiError) bulkString() string {
	return e.Code + ":" + e.Message + ":" + strings.Join(e.Fields, ",") + " --"
}

type restError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

type saveError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func (e *apiError) save() saveError {
	f := e.Fields
	if f == nil {
		f = []string{}
	}
	return saveError{StatusCode: e.Code, Message: e.Message, Fields: f}
}

func (e *apiError) rest() restError {
	return restError{Message: e.Message, ErrorCode: e.Code, Fields: e.Fields}
}

var (
	errNotFound       = newErr("NOT_FOUND", "The requested resource does not exist")
	errEntityDeleted  = newErr("ENTITY_IS_DELETED", "entity is deleted")
	errInvalidCrossRf = newErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
	errRolledBack     = newErr("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records were valid and the request was using AllOrNone header")
)
