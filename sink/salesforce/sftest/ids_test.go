package sftest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIDSuffix(t *testing.T) {
	assert.Equal(t, "AAR", idSuffix("0015000000Gv7qJ"))
	assert.Equal(t, "AAA", idSuffix("001000000000000"))
}

func TestNormalizeID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"0015000000Gv7qJ", "0015000000Gv7qJAAR", true},
		{"0015000000Gv7qJAAR", "0015000000Gv7qJAAR", true},
		{"0015000000gv7qjAAR", "0015000000Gv7qJAAR", true}, // case lost, repaired from the suffix
		{"0015000000gv7qjaar", "0015000000Gv7qJAAR", true},
		{"0015000000Gv7qJBAR", "", false}, // suffix marks a digit as upper case
		{"0015000000Gv7q", "", false},
		{"0015000000Gv7q!", "", false},
		{"NotReal", "", false},
		{"", "", false},
	} {
		got, ok := normalizeID(tc.in)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestIDGen(t *testing.T) {
	var g idGen
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := g.next("a0A")
		require.Len(t, id, 18)
		require.Equal(t, "a0A", id[:3])
		n, ok := normalizeID(id[:15])
		require.True(t, ok)
		require.Equal(t, id, n)
		require.False(t, seen[id])
		seen[id] = true
	}
}
