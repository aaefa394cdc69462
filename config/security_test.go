package config

import (
	"context"
	"encoding/json"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// hostileSyncs are sync files of the largest accepted size built to make a
// parser work hard: deep nesting, aliases that expand, too many keys, one
// huge scalar, thousands of documents.
func hostileSyncs() map[string]string {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i, prev := 'b', 'a'; i <= 'h'; i, prev = i+1, i {
		bomb += string(i) + ": &" + string(i) + " [" + strings.TrimSuffix(strings.Repeat("*"+string(prev)+", ", 10), ", ") + "]\n"
	}
	var keys strings.Builder
	for i := 0; keys.Len() < MaxFileSize-100; i++ {
		keys.WriteString("k" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + ": 1\n")
	}
	n := MaxFileSize - 100
	return map[string]string{
		"flow nesting":   "key: " + strings.Repeat("[", n),
		"block nesting":  "key:\n" + strings.Repeat("- ", n/2) + "x\n",
		"unclosed flow":  strings.Repeat("{a: ", n/4),
		"alias bomb":     bomb,
		"many anchors":   strings.Repeat("- &a x\n", n/7),
		"many keys":      keys.String(),
		"long mapping":   "mapping:\n" + strings.Repeat("  - {from: A, to: B}\n", n/21),
		"huge scalar":    "name: " + strings.Repeat("x", n) + "\n",
		"many documents": strings.Repeat("---\n", n/4),
	}
}

// TestSecurityHostileConfigIsRefusedInBoundedMemory parses each hostile
// file: it fails with an error naming the file and what is wrong, and
// parsing allocates a bounded amount, whatever the file holds (measured:
// at most about 360 MiB for 1 MiB of single-character anchors; the bound
// leaves room for the YAML library to change).
func TestSecurityHostileConfigIsRefusedInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates hundreds of MiB")
	}
	const bound = 768 << 20
	for name, data := range hostileSyncs() {
		t.Run(name, func(t *testing.T) {
			require.LessOrEqual(t, len(data), MaxFileSize)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Parse(context.Background(), "", nil, map[string][]byte{"s.yaml": []byte(data)})
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			require.Error(t, err)
			first, _, _ := strings.Cut(err.Error(), "\n")
			assert.True(t, strings.HasPrefix(first, "s.yaml"), first)
			assert.Less(t, len(err.Error()), 4096, "the error stays readable")
			assert.Less(t, allocated, uint64(bound))
			t.Logf("%d bytes: %.0f MiB allocated; %s", len(data), float64(allocated)/(1<<20), first)
		})
	}
	// One byte more than the limit is refused before parsing.
	big := map[string][]byte{"s.yaml": []byte(strings.Repeat("[", MaxFileSize+1))}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse(context.Background(), "", nil, big)
	runtime.ReadMemStats(&after)
	assert.EqualError(t, err, "s.yaml: file is larger than 1 MiB")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20))
}
