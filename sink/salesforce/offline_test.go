package salesforce

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
)

// An offline validation checks the connection's keys, not its values, and
// the sink it builds refuses to write.
func TestOfflineBuild(t *testing.T) {
	ctx := context.Background()
	dest := config.DestinationSpec{Object: "Account", Operation: config.Upsert, ExternalID: "External_Id__c"}
	b := buildContext(t, "${SF_LOGIN_URL}", "api: bulk\n", dest, nil)

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

	b = buildContext(t, "${SF_LOGIN_URL}", "api: sometimes\n", dest, nil)
	b.Offline = true
	_, err = New(ctx, b)
	assert.Error(t, err, "the sync's own section is still checked offline")
}
