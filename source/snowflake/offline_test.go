package snowflake

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
)

// Offline, values may be unresolved references: a key that is not a PEM
// passes, an unknown key does not.
func TestOfflineBuild(t *testing.T) {
	conn := "account: ${SNOWFLAKE_ACCOUNT}\nuser: retl\nauthenticator: jwt\nprivate_key: ${aws-sm:sf#key}\n"
	_, err := buildWith(t, reverseetl.BuildContext{RunID: "r", Sync: syncOf(t, "select 1", ""), Connection: connectionOf(t, Type, conn)})
	require.Error(t, err, "online, the key must be a PEM")

	_, err = buildWith(t, reverseetl.BuildContext{RunID: "r", Sync: syncOf(t, "select 1", ""), Connection: connectionOf(t, Type, conn), Offline: true})
	require.NoError(t, err)

	s, err := DecodeSettings(connectionOf(t, Type, conn))
	require.NoError(t, err)
	assert.Equal(t, "${SNOWFLAKE_ACCOUNT}", s.Account)

	_, err = DecodeSettings(connectionOf(t, Type, conn+"acount: x\n"))
	assert.ErrorContains(t, err, "acount")

	_, err = DecodeSettings(connectionOf(t, Type, "account: x\nuser: retl\nauthenticator: jwt\nprivate_key: not a pem\n"))
	assert.Error(t, err, "a literal key is still parsed offline")
}
