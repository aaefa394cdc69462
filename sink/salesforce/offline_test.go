package salesforce

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An offline validation checks the connection's keys, not its values, and
// the sink it builds refuses to write.
func TestOfflineBuild(t *testing.T) {
	ctx := context.Background()
	b := buildContext(t, "${SF_LOGIN_URL}", upsertAccount+"api: bulk\n", nil)

	_, err := New(ctx, b)
	require.Error(t, err, "online, an unresolved URL is refused")

	b.Offline = true
	s, err := New(ctx, b)
	require.NoError(t, err)
	_, err = s.Write(ctx, nil)
	assert.ErrorContains(t, err, "offline validation")
	assert.NoError(t, s.Close(ctx))

	b.Connection.Section = section(t, "login_url: ${SF_LOGIN_URL}\nlogin_urll: x\n")
	_, err = New(ctx, b)
	assert.ErrorContains(t, err, "login_urll", "unknown keys are still errors offline")

	b.Connection.Section = section(t, "login_url: ${SF_LOGIN_URL}\nauth: magic\n")
	_, err = New(ctx, b)
	assert.ErrorContains(t, err, `auth "magic"`, "literal values are still checked offline")

	b = buildContext(t, "${SF_LOGIN_URL}", upsertAccount+"api: sometimes\n", nil)
	b.Offline = true
	_, err = New(ctx, b)
	assert.Error(t, err, "the sync's own section is still checked offline")
}
