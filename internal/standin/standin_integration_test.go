package standin_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	_ "github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/internal/standin"
)

func TestFakesnowAnswersSelect(t *testing.T) {
	fs := standin.Fakesnow(t)
	assert.Equal(t, "127.0.0.1", fs.Host)

	// fakesnow needs the database and schema a DSN names to exist, so
	// create them through a connection that names neither.
	boot, err := sql.Open("snowflake", fs.DSN("", ""))
	require.NoError(t, err)
	defer boot.Close()
	ctx := context.Background()
	_, err = boot.ExecContext(ctx, "CREATE DATABASE retl_db")
	require.NoError(t, err)
	_, err = boot.ExecContext(ctx, "CREATE SCHEMA retl_db.retl_schema")
	require.NoError(t, err)

	db, err := sql.Open("snowflake", fs.DSN("retl_db", "retl_schema"))
	require.NoError(t, err)
	defer db.Close()
	var one int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&one))
	assert.Equal(t, 1, one)
	var dbName, schema string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT current_database(), current_schema()").Scan(&dbName, &schema))
	assert.Equal(t, "RETL_DB", dbName)
	assert.Equal(t, "RETL_SCHEMA", schema)
}

func TestMotoAnswersListSecrets(t *testing.T) {
	m := standin.Moto(t)
	assert.Equal(t, "us-east-1", m.Region)
	client := secretsmanager.NewFromConfig(m.Config())
	ctx := context.Background()

	out, err := client.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	require.NoError(t, err)
	assert.Empty(t, out.SecretList, "a new moto server starts empty")

	_, err = client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("retl/x"), SecretString: aws.String("v")})
	require.NoError(t, err)
	out, err = client.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	require.NoError(t, err)
	require.Len(t, out.SecretList, 1)
	assert.Equal(t, "retl/x", aws.ToString(out.SecretList[0].Name))
}

func TestServersAreSeparate(t *testing.T) {
	a, b := standin.Moto(t), standin.Moto(t)
	assert.NotEqual(t, a.Endpoint, b.Endpoint)
	ctx := context.Background()
	_, err := secretsmanager.NewFromConfig(a.Config()).CreateSecret(ctx,
		&secretsmanager.CreateSecretInput{Name: aws.String("only-in-a"), SecretString: aws.String("v")})
	require.NoError(t, err)
	out, err := secretsmanager.NewFromConfig(b.Config()).ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	require.NoError(t, err)
	assert.Empty(t, out.SecretList)
}

func TestNodeIsRecentEnough(t *testing.T) {
	bin := standin.Node(t)
	assert.NotEmpty(t, bin)
}

func TestMotoSetenvFeedsTheDefaultChain(t *testing.T) {
	m := standin.Moto(t)
	m.Setenv(t)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	require.NoError(t, err)
	assert.Equal(t, "us-east-1", cfg.Region)
	creds, err := cfg.Credentials.Retrieve(ctx)
	require.NoError(t, err)
	assert.Equal(t, m.AccessKeyID, creds.AccessKeyID)

	_, err = secretsmanager.NewFromConfig(cfg).ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	require.NoError(t, err, "the endpoint comes from AWS_ENDPOINT_URL")
}
