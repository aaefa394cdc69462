package webhook

import "github.com/retl-go/retl/config"

// Keys document Config: the table of examples/customsink/README.md is
// generated from them, and a test holds them to Config's yaml keys.
var Keys = config.Keys{
	{Name: "url", Type: "URL", Default: "required", Meaning: "The endpoint; `https`, or `http` on a loopback host."},
	{Name: "key_field", Type: "field", Default: "required", Meaning: "The mapped field whose value is each record's key."},
	{Name: "batch_size", Type: "integer > 0", Default: "100", Meaning: "Records per request."},
	{Name: "timeout", Type: "duration", Default: "`30s`", Meaning: "One request's limit."},
	{Name: "max_retries", Type: "integer ≥ 0", Default: "3",
		Meaning: "How often a request whose answer was lost (5xx, 429, a dropped connection) is sent again; 0 for never."},
}
