package config

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWritebackExcludeFields(t *testing.T) {
	project := []byte("connections: {wh: {type: snowflake}}\nwriteback: {connection: wh, exclude_fields: [Email, Phone]}\n")
	p, err := Parse(context.Background(), "retl.yaml", project, nil)
	require.NoError(t, err)
	require.NotNil(t, p.Writeback)
	assert.Equal(t, []string{"Email", "Phone"}, p.Writeback.ExcludeFields)
	assert.Equal(t, "all", p.Writeback.Results)

	_, err = Parse(context.Background(), "retl.yaml", []byte("connections: {wh: {type: snowflake}}\nwriteback: {connection: wh, exclude_fields: Email}\n"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `key "writeback.exclude_fields"`)
}
