package salesforce

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Layers of the package each name their step; the label comes once, at
// the front, and the chain keeps every layer for errors.Is and errors.As.
func TestErrorsSaySalesforceOnce(t *testing.T) {
	api := &APIError{StatusCode: 400, Code: "invalid_grant", Message: "authentication failure", Method: "POST", Path: "/services/oauth2/token"}
	login := &loginError{errorf("login (password): %w", api)}
	err := errorf("describe %s: %w", "Account", login)
	assert.Equal(t, "salesforce: describe Account: login (password): POST /services/oauth2/token: 400 invalid_grant: authentication failure", err.Error())
	assert.ErrorIs(t, err, ErrLogin)
	var got *APIError
	require.ErrorAs(t, err, &got)
	assert.Same(t, api, got)
	assert.Equal(t, "describe Account: login (password): POST /services/oauth2/token: 400 invalid_grant: authentication failure", unlabelledText(err))

	// Two wrapped errors, one of them the package's sentinel.
	err = errorf("%w: reading job %s: %w", ErrOutcomeUnknown, "750x", errors.New("connection reset"))
	assert.Equal(t, "salesforce: request sent but its outcome is unknown: reading job 750x: connection reset", err.Error())
	assert.ErrorIs(t, err, ErrOutcomeUnknown)

	// An error of another package keeps its text; a leaf has no chain.
	assert.Equal(t, "salesforce: x: boom", errorf("x: %w", errors.New("boom")).Error())
	assert.Equal(t, "boom", unlabelledText(errors.New("boom")))
	leaf := newError("no sync")
	assert.Equal(t, "salesforce: no sync", leaf.Error())
	assert.Nil(t, errors.Unwrap(leaf))

	// Scrubbing keeps both forms free of the secret.
	sc := scrubError(errorf("login: %w", errors.New("bad token s3cr3t-token")), []string{"s3cr3t-token"})
	assert.Equal(t, "salesforce: login: bad token [REDACTED]", sc.Error())
	assert.Equal(t, "salesforce: step: login: bad token [REDACTED]", errorf("step: %w", sc).Error())

	// A value check names its key, with the label outside files.
	ke := keyErrorf("api", "api %q: want bulk, rest or auto", "fast")
	assert.Equal(t, `salesforce: api "fast": want bulk, rest or auto`, ke.Error())
}

func TestNotSentErrorKeepsOneLabel(t *testing.T) {
	err := errorf("write: %w", nothingSent(errorf("upload: %w", errors.New("refused"))))
	assert.Equal(t, "salesforce: write: upload: refused", err.Error())
	var ns *notSentError
	assert.ErrorAs(t, err, &ns)
}
