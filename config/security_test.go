package config

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A secret is taken out of text also as requests encode it: an error that
// echoes a JSON login body or a form shows it escaped.
func TestSecurityRedactorTakesEncodedForms(t *testing.T) {
	const secret = `pw&<"Snow\flake> +/é`
	r := &Redactor{}
	r.Add(secret)
	goJSON, _ := json.Marshal(secret)
	forms := []string{
		secret,
		string(goJSON[1 : len(goJSON)-1]), // Go's encoder: & < > as \u00XX
		`pw&<\"Snow\\flake> +/é`,          // other encoders escape quotes and backslashes only
		url.QueryEscape(secret),           // a form body
		url.PathEscape(secret),            // a URL path
	}
	for _, f := range forms {
		assert.Equal(t, "x [REDACTED] y", r.Redact("x "+f+" y"), f)
	}
	// Values too short to redact stay short in every encoding.
	r.Add("a&b")
	assert.Equal(t, "a&b a%26b", r.Redact("a&b a%26b"))
}
