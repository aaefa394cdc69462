package salesforce

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

// jsonNumber accepts exactly the numbers encoding/json accepts.
func FuzzJSONNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "12", "1.5", "-1.5e10", "1E+2", "01", "1.", ".5", "1e", "--1", "1 ", " 1", "1x", "-", "", "1.5\n", "0.0e-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var n json.Number
		want := json.Unmarshal([]byte(s), &n) == nil
		if len(s) > 0 && !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
			// Leading white space and quoted strings are refused before
			// either is asked.
			return
		}
		assert.Equal(t, want, jsonNumber(s), "%q", s)
	})
}
