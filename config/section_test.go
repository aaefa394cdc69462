package config

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type apiConfig struct {
	API       string        `yaml:"api"`
	BatchSize int           `yaml:"batch_size"`
	Timeout   time.Duration `yaml:"timeout"`
	Headers   []string      `yaml:"headers"`
	Retry     struct {
		Max int `yaml:"max"`
	} `yaml:"retry"`
}

func TestSectionDecode(t *testing.T) {
	s, err := NewSection("dest.yaml", "api: bulk\nbatch_size: 200\ntimeout: 30s\nheaders: [a, b]\nretry: {max: 3}\n")
	require.NoError(t, err)
	assert.False(t, s.IsZero())
	assert.Equal(t, []string{"api", "batch_size", "timeout", "headers", "retry"}, s.Keys())
	assert.Equal(t, Pos{File: "dest.yaml", Line: 1, Col: 1}, s.Pos())
	var c apiConfig
	require.NoError(t, s.Decode(&c))
	assert.Equal(t, "bulk", c.API)
	assert.Equal(t, 200, c.BatchSize)
	assert.Equal(t, 30*time.Second, c.Timeout)
	assert.Equal(t, []string{"a", "b"}, c.Headers)
	assert.Equal(t, 3, c.Retry.Max)

	keys := s.Keys()
	keys[0] = "changed"
	assert.Equal(t, "api", s.Keys()[0], "Keys returns a copy")
}

func TestSectionDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"unknown key", "api: bulk\nbach_size: 200\n", `dest.yaml:2:1: key "bach_size": unknown key; did you mean "batch_size"?`},
		{"unknown nested key", "retry:\n  maximum: 3\n", `dest.yaml:2:3: key "retry.maximum": unknown key`},
		{"wrong type", "batch_size: lots\n", `dest.yaml:1:13: key "batch_size": expected an integer, got a string`},
		{"wrong nested type", "retry: {max: [1]}\n", `dest.yaml:1:14: key "retry.max": expected an integer, got a list`},
		{"list expected", "headers: {a: b}\n", `dest.yaml:1:10: key "headers": expected a list, got a mapping`},
		{"duration", "timeout: soon\n", `dest.yaml:1:10: key "timeout": invalid value: time: invalid duration [value]`},
		{"duration of the wrong type", "timeout: [1]\n", `dest.yaml:1:10: key "timeout": expected a duration (such as 30s), got a list`},
		{"overflow", "batch_size: 1e300\n", `dest.yaml:1:13: key "batch_size": number is out of range for an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSection("dest.yaml", tt.yaml)
			require.NoError(t, err)
			var c apiConfig
			err = s.Decode(&c)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestSectionOfASync(t *testing.T) {
	p := loadFull(t)
	d := p.Sync("account_health").Destination.Section
	assert.Equal(t, "destination", d.Key())
	var strict struct {
		Object    string `yaml:"object"`
		Operation string `yaml:"operation"`
		MatchOn   string `yaml:"match_on"`
		API       string `yaml:"api"`
	}
	err := d.Decode(&strict)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "destination.batch_size", e.Key)
	assert.Equal(t, 15, e.Pos.Line)
	assert.Equal(t, "unknown key", e.Msg)
}

// failingUnmarshaler is a plugin type whose own check fails.
type failingUnmarshaler struct{}

func (failingUnmarshaler) UnmarshalYAML([]byte) error {
	return errors.New("bad value near s3cr3t-value")
}

func TestSectionDecodeCustomError(t *testing.T) {
	s, err := NewSection("c.yaml", "x: 1\n")
	require.NoError(t, err)
	s.red = &Redactor{}
	s.red.Add("s3cr3t-value")
	var v struct {
		X failingUnmarshaler `yaml:"x"`
	}
	err = s.Decode(&v)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "invalid value: bad value near [REDACTED]", e.Msg)
	assert.NotNil(t, errors.Unwrap(e))
}

// quotingUnmarshaler is a plugin type whose error quotes its input, as
// many UnmarshalText methods of the standard library do.
type quotingUnmarshaler struct{}

func (quotingUnmarshaler) UnmarshalText(b []byte) error {
	return fmt.Errorf("cannot parse %q as an address", string(b))
}

func TestSectionDecodeHidesQuotedValues(t *testing.T) {
	s, err := NewSection("c.yaml", "name: n\nhost: db-password-is-here\n")
	require.NoError(t, err)
	var v struct {
		Name string             `yaml:"name"`
		Host quotingUnmarshaler `yaml:"host"`
	}
	err = s.Decode(&v)
	require.Error(t, err)
	assert.Equal(t, `c.yaml:2:7: key "host": invalid value: cannot parse [value] as an address`, err.Error())
}

func TestZeroSection(t *testing.T) {
	var s Section
	assert.True(t, s.IsZero())
	assert.Empty(t, s.Keys())
	c := apiConfig{API: "rest"}
	require.NoError(t, s.Decode(&c))
	assert.Equal(t, "rest", c.API, "a zero section leaves v as it is")

	s, err := NewSection("e.yaml", "# nothing\n")
	require.NoError(t, err)
	assert.True(t, s.IsZero())
	assert.Equal(t, Pos{File: "e.yaml"}, s.Pos())
}

func TestNewSectionErrors(t *testing.T) {
	_, err := NewSection("e.yaml", "- a\n")
	assert.EqualError(t, err, "e.yaml:1:1: expected a mapping, got a list")
	_, err = NewSection("e.yaml", "a: [\n")
	var errs Errors
	require.ErrorAs(t, err, &errs)
	assert.Equal(t, "e.yaml", errs[0].Pos.File)
}

func TestSectionDecodeSuggestsTheNearestKey(t *testing.T) {
	type auth struct {
		ClientID string `yaml:"client_id"`
	}
	type Inner struct {
		BatchSize int `yaml:"batch_size"`
	}
	type opts struct {
		Inner         `yaml:",inline"`
		AutoThreshold int    `yaml:"auto_threshold"`
		Auth          auth   `yaml:"auth"`
		Items         []auth `yaml:"items"`
	}
	for _, tc := range []struct{ text, want string }{
		{"auto_treshold: 3\n", `f.yaml:1:1: key "auto_treshold": unknown key; did you mean "auto_threshold"?`},
		{"batch_sise: 3\n", `f.yaml:1:1: key "batch_sise": unknown key; did you mean "batch_size"?`},
		{"auth:\n  clientid: x\n", `f.yaml:2:3: key "auth.clientid": unknown key; did you mean "client_id"?`},
		{"items:\n  - client_di: x\n", `f.yaml:2:5: key "items[0].client_di": unknown key; did you mean "client_id"?`},
		{"zzz: 1\n", `f.yaml:1:1: key "zzz": unknown key`},
	} {
		s, err := NewSection("f.yaml", tc.text)
		require.NoError(t, err)
		var o opts
		err = s.Decode(&o)
		require.Error(t, err, tc.text)
		assert.Equal(t, tc.want, err.Error(), tc.text)
	}
}

func TestSectionErrorAt(t *testing.T) {
	s, err := NewSection("conn.yaml", "login_url: https://x.example\nauth: magic\n")
	require.NoError(t, err)
	e := s.ErrorAt("auth", `auth "magic": want jwt`)
	assert.Equal(t, `conn.yaml:2:7: key "auth": auth "magic": want jwt`, e.Error())
	// A key the section lacks: where the section starts.
	e = s.ErrorAt("client_id", "needed")
	assert.Equal(t, "conn.yaml:1:1", e.Pos.String())
	assert.Equal(t, "client_id", e.Key)
}
