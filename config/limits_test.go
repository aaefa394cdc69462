package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func nestedFlow(depth int) string {
	return "key: " + strings.Repeat("{a: ", depth) + "1" + strings.Repeat("}", depth) + "\n"
}

func TestLimits(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i, prev := 'b', 'a'; i <= 'h'; i, prev = i+1, i {
		bomb += string(i) + ": &" + string(i) + " [" + strings.TrimSuffix(strings.Repeat("*"+string(prev)+", ", 10), ", ") + "]\n"
	}
	tests := []struct {
		name string
		data string
		want string
	}{
		{"too large", strings.Repeat("#", MaxFileSize+1), "s.yaml: file is larger than 1 MiB"},
		{"just under the size limit", "# " + strings.Repeat("x", MaxFileSize-3) + "\n", "s.yaml: file is empty; a sync needs source, destination and mapping"},
		{"too deep in flow style", "key: " + strings.Repeat("[", 100000), "s.yaml:1:69: nesting is deeper than 32 levels"},
		{"too deep in block style", "key:\n" + strings.Repeat("- ", 100000) + "x\n", "s.yaml:2:129: nesting is deeper than 32 levels"},
		{"too deep for the decoder", nestedFlow(40), `s.yaml:1:130: key "key.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a": nesting is deeper than 32 levels`},
		{"aliases that expand without bound", bomb, `s.yaml:5:36: key "e[7]": document is larger than 100000 nodes once its aliases are expanded`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := loadErrors(t, "", map[string]string{"s.yaml": tt.data})
			require.Len(t, lines, 1)
			assert.Equal(t, tt.want, lines[0])
		})
	}
}

func TestDepthLimitAllowsDeepEnough(t *testing.T) {
	// The document's root is level 1; 31 levels of nesting under it fit.
	_, errs, ok := parseFile("s.yaml", []byte(nestedFlow(31)))
	assert.True(t, ok)
	assert.Empty(t, errs)
	_, errs, ok = parseFile("s.yaml", []byte(nestedFlow(32)))
	assert.False(t, ok)
	assert.Len(t, errs, 1)
}

func TestLoadRefusesLargeFileUnread(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.yaml"))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(64<<20))
	require.NoError(t, f.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ok.yaml"), []byte(minimalSync), 0o644))
	_, err = Load(context.Background(), dir)
	assert.EqualError(t, err, filepath.Join(dir, "big.yaml")+": file is larger than 1 MiB")
}

func TestLoadReportsUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(dir, "gone.yaml"), filepath.Join(dir, "dangling.yaml")))
	require.NoError(t, os.Symlink(dir, filepath.Join(dir, "loop.yaml")))
	_, err := Load(context.Background(), dir)
	var errs Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 2)
	assert.Equal(t, filepath.Join(dir, "dangling.yaml")+": cannot open the file: no such file or directory", errs[0].Error())
	assert.Equal(t, filepath.Join(dir, "loop.yaml")+": not a regular file", errs[1].Error())
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{validSync, minimalSync, nestedFlow(40), "a: &a [*a]\n", "- - - x\n", "{a: [b, {c: d}]}\n", "x: \"${A}$${B}\"\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Any input gives a project or errors, never a panic.
		_, _ = Parse(context.Background(), "retl.yaml", data, map[string][]byte{"s.yaml": data}, mapEnv(map[string]string{"A": "1"}))
	})
}

func TestManyKeys(t *testing.T) {
	var b strings.Builder
	for i := range 1001 {
		b.WriteString("k" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + ": 1\n")
	}
	lines := loadErrors(t, "", map[string]string{"s.yaml": b.String()})
	assert.Equal(t, []string{"s.yaml:1001:1: a mapping has more than 1000 keys"}, lines)
}

func TestErrorsPerFileAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(validSync)
	for i := range 30 {
		b.WriteString("unknown_" + string(rune('a'+i%26)) + strings.Repeat("z", i/26) + ": 1\n")
	}
	lines := loadErrors(t, "", map[string]string{"s.yaml": b.String(), "t.yaml": validSync + "x: 1\n"})
	require.Len(t, lines, 22)
	assert.Equal(t, "s.yaml: and 10 more errors", lines[20])
	assert.Equal(t, `t.yaml:12:1: key "x": unknown key`, lines[21])
}

func TestParserPanicIsContained(t *testing.T) {
	orig := parseTokens
	t.Cleanup(func() { parseTokens = orig })
	parseTokens = func(token.Tokens) (*ast.File, error) { panic("parser bug") }
	lines := loadErrors(t, "", map[string]string{"s.yaml": validSync})
	assert.Equal(t, []string{"s.yaml: invalid YAML: the YAML parser failed on this file"}, lines)
}

// panickyUnmarshaler stands for a plugin type with a bug.
type panickyUnmarshaler struct{}

func (*panickyUnmarshaler) UnmarshalYAML([]byte) error { panic("plugin bug") }

func TestDecoderPanicIsContained(t *testing.T) {
	s, err := NewSection("c.yaml", "x: 1\n")
	require.NoError(t, err)
	var v struct {
		X panickyUnmarshaler `yaml:"x"`
	}
	assert.EqualError(t, s.Decode(&v), "c.yaml:1:1: invalid value")
}
