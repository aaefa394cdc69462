package config

import (
	"context"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReferenceExamples keeps the examples of REFERENCE.md loadable.
func TestReferenceExamples(t *testing.T) {
	doc, err := os.ReadFile("REFERENCE.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	require.Len(t, blocks, 2)
	sync, project := blocks[0][1], blocks[1][1]
	env := map[string]string{"SNOWFLAKE_ACCOUNT": "a", "SF_CLIENT_SECRET": "b", "SLACK_WEBHOOK_URL": "https://hooks.example.com/x"}
	p, err := Parse(context.Background(), "retl.yaml", project,
		map[string][]byte{"account_health.yaml": sync, "accounts.yaml": []byte(validSync)},
		mapEnv(env), WithResolver("aws-sm", fakeSM(map[string]string{"prod/retl/snowflake#password": "pw-value"})))
	require.NoError(t, err)
	s := p.Sync("account_health")
	require.NotNil(t, s)
	assert.Len(t, s.Mapping, 7)
	assert.Equal(t, []string{"object", "operation", "match_on", "api"}, s.Destination.Section.Keys())
}
