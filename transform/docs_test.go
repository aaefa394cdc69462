package transform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
)

const expressionsPage = "../docs/expressions.md"

// fence matches a fenced block of the page: its language and its text.
var fence = regexp.MustCompile("(?ms)^```(\\w*)\n(.*?)^```")

// exampleLine is "key[ (type: T)]: code → result".
var exampleLine = regexp.MustCompile(`^(expr|when|filter)(?: \(type: (\w+)\))?: (.+?)\s+→\s+(.+)$`)

// TestExpressionsPage runs every example of docs/expressions.md, so that
// the page cannot drift from what the transformer does.
func TestExpressionsPage(t *testing.T) {
	doc, err := os.ReadFile(expressionsPage)
	require.NoError(t, err)
	blocks := fence.FindAllSubmatch(doc, -1)
	require.NotEmpty(t, blocks)
	counts := map[string]int{}
	for _, b := range blocks {
		lang, body := string(b[1]), string(b[2])
		counts[lang]++
		switch lang {
		case "expr":
			runExampleBlock(t, body)
		case "yaml":
			runYAMLExample(t, body)
		case "text":
			checkErrorExample(t, strings.TrimSpace(body))
		default:
			t.Errorf("fenced block of unknown kind %q: every example must be checked", lang)
		}
	}
	assert.GreaterOrEqual(t, counts["expr"], 8)
	assert.Equal(t, 1, counts["yaml"])
	assert.Equal(t, 2, counts["text"])
}

func runExampleBlock(t *testing.T, body string) {
	var cols []string
	var row []any
	n := 0
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "row: "); ok {
			cols, row = parseExampleRow(t, rest)
			continue
		}
		m := exampleLine.FindStringSubmatch(line)
		if !assert.NotNil(t, m, "example line %q", line) {
			continue
		}
		require.NotNil(t, cols, "example %q before any row: line", line)
		n++
		key, typ, code, want := m[1], config.FieldType(m[2]), m[3], m[4]
		t.Run(key+": "+code, func(t *testing.T) {
			assert.Equal(t, want, evalExample(t, key, typ, code, cols, row))
		})
	}
	assert.NotZero(t, n, "a block without examples:\n%s", body)
}

// parseExampleRow reads a row: a YAML flow map of columns in order.
// Integers are int64 and decimals source.Decimal, as the Snowflake source
// gives them; text in RFC 3339 is a timestamp.
func parseExampleRow(t *testing.T, text string) ([]string, []any) {
	var m yaml.MapSlice
	require.NoError(t, yaml.UnmarshalWithOptions([]byte(text), &m, yaml.UseOrderedMap()), "row %s", text)
	var cols []string
	var row []any
	for _, item := range m {
		cols = append(cols, fmt.Sprint(item.Key))
		var v any
		switch x := item.Value.(type) {
		case uint64:
			v = int64(x)
		case int64, bool, nil:
			v = x
		case float64:
			v = source.Decimal(strconv.FormatFloat(x, 'f', -1, 64))
		case string:
			v = x
			if ts, err := time.Parse(time.RFC3339, x); err == nil {
				v = ts
			}
		default:
			t.Fatalf("row value %v of type %T", x, x)
		}
		row = append(row, v)
	}
	return cols, row
}

// evalExample runs one example and renders its outcome as the page writes
// results.
func evalExample(t *testing.T, key string, typ config.FieldType, code string, cols []string, row []any) string {
	t.Helper()
	e := &config.Mapping{To: "Out__c", Type: typ, Pos: config.Pos{File: syncFile, Line: 3, Col: 5}}
	s := newSync(e)
	switch key {
	case "expr":
		e.Expr = code
	case "when":
		e.Value, e.HasValue, e.When = "set", true, code
	case "filter":
		e.Value, e.HasValue = "set", true
		s.Filter = code
	}
	m, err := Compile(s)
	if err != nil {
		var ce *CompileError
		require.ErrorAs(t, err, &ce)
		return "load error: " + ce.Msg
	}
	rec, err := m.Transform(Row{Columns: cols, Values: row})
	if code, _, skipped := SkipReason(err); skipped {
		require.Equal(t, sink.SkipFiltered, code)
		return "false"
	}
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			require.Equal(t, "Out__c", fe.Field)
			return "error: " + fe.Err.Error()
		}
		return "error: " + err.Error()
	}
	v := rec.Values[0]
	if key != "expr" {
		return strconv.FormatBool(v.Kind != sink.Absent)
	}
	switch v.Kind {
	case sink.Null:
		return "NULL"
	case sink.Text:
		return strconv.Quote(v.S)
	case sink.Absent:
		return "not sent"
	}
	return v.S
}

// runYAMLExample loads the page's YAML as part of a sync file and checks
// what it does to two rows.
func runYAMLExample(t *testing.T, fragment string) {
	file := "name: account_health\n" +
		"source: {type: snowflake, query: select 1}\n" +
		"destination: {type: salesforce, object: Account, operation: insert}\n" + fragment
	p, err := config.Parse(context.Background(), "", nil, map[string][]byte{"account_health.yaml": []byte(file)})
	require.NoError(t, err)
	require.Len(t, p.Syncs, 1)
	m, err := Compile(p.Syncs[0])
	require.NoError(t, err)
	cols := []string{"HEALTH_SCORE", "TIER"}

	rec, err := m.Transform(Row{Columns: cols, Values: []any{int64(42), "gold"}})
	require.NoError(t, err)
	assert.Equal(t, []sink.Value{text("At Risk"), text("red")}, rec.Values)

	rec, err = m.Transform(Row{Columns: cols, Values: []any{nil, nil}})
	require.NoError(t, err, "a NULL score neither fails the row nor is filtered")
	assert.Equal(t, []sink.Value{{}, text("red")}, rec.Values)

	_, err = m.Transform(Row{Columns: cols, Values: []any{int64(90), "internal"}})
	code, detail, skipped := SkipReason(err)
	assert.True(t, skipped)
	assert.Equal(t, sink.SkipFiltered, code)
	assert.Contains(t, detail, "is not true", "the detail names the filter")
}

// checkErrorExample makes the error shown on the page.
func checkErrorExample(t *testing.T, want string) {
	if strings.HasPrefix(want, "configs/") {
		s := &config.Sync{File: "configs/account_health.yaml", Name: "account_health"}
		for i := range 3 {
			s.Mapping = append(s.Mapping, &config.Mapping{From: fmt.Sprintf("C%d", i), To: fmt.Sprintf("F%d__c", i)})
		}
		s.Mapping = append(s.Mapping, &config.Mapping{Expr: "uper(TIER)", To: "Tier__c", Pos: config.Pos{File: s.File, Line: 18, Col: 5}})
		_, err := Compile(s)
		assert.EqualError(t, err, want)
		return
	}
	m := compile(t, newSync(entry(3, config.Mapping{Expr: "HEALTH_SCORE >= 80 ? 'green' : 'red'", To: "Score_Band__c"})))
	_, err := m.Transform(Row{Columns: []string{"HEALTH_SCORE"}, Values: []any{"n/a"}})
	assert.EqualError(t, err, want)
}
