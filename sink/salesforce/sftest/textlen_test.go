package sftest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Text length counts UTF-16 code units, as Salesforce does: a character
// outside the Basic Multilingual Plane counts twice.
func TestTextLengthInUTF16(t *testing.T) {
	_, c := start(t)
	create := func(city string) (int, any) {
		return c.call(http.MethodPost, v+"/sobjects/Account", map[string]any{"Name": "x", "BillingCity": city})
	}
	status, body := create(strings.Repeat("x", 38) + "😀")
	assert.Equal(t, http.StatusCreated, status, "%v", body)
	status, body = create(strings.Repeat("é", 40))
	assert.Equal(t, http.StatusCreated, status, "%v", body)
	status, body = create(strings.Repeat("x", 39) + "😀")
	assert.Equal(t, http.StatusBadRequest, status)
	code, _ := restErr(t, body)
	assert.Equal(t, "STRING_TOO_LONG", code)
}
