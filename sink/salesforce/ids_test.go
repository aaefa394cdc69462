package salesforce

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestID18(t *testing.T) {
	cases := map[string]string{
		"001A0000006Vm9r":    "001A0000006Vm9rIAC",
		"001A0000006Vm9rIAC": "001A0000006Vm9rIAC",
		"003000000000001":    "003000000000001AAA",
		"short":              "short",
		"001A0000006Vm9!":    "001A0000006Vm9!",
	}
	for in, want := range cases {
		assert.Equal(t, want, toID18(in), in)
	}
}
