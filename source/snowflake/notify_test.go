package snowflake

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notifier is the shape of an alert hook that EmailNotifier fits.
type notifier interface {
	Notify(ctx context.Context, subject, body string) error
}

var _ notifier = (*EmailNotifier)(nil)

func TestNotifyBindsEveryValue(t *testing.T) {
	db, stmts, args := captureDB(t, nil)
	n, err := NewEmailNotifier(db, "RETL_ALERTS", []string{"ops@example.com", "data@example.com"})
	require.NoError(t, err)
	// Quotes and a statement terminator stay data: nothing is spliced.
	subject := "retl: sync 'accounts' failed'); DROP TABLE x; --"
	body := "3 rows failed\nsee the report"
	require.NoError(t, n.Notify(context.Background(), subject, body))

	require.Equal(t, []string{"CALL SYSTEM$SEND_EMAIL(?, ?, ?, ?)"}, *stmts)
	require.Len(t, *args, 1)
	assert.Equal(t, []driver.NamedValue{
		{Ordinal: 1, Value: "RETL_ALERTS"},
		{Ordinal: 2, Value: "ops@example.com,data@example.com"},
		{Ordinal: 3, Value: subject},
		{Ordinal: 4, Value: body},
	}, (*args)[0])
}

func TestNotifyError(t *testing.T) {
	boom := errors.New("002003 (02000): SQL compilation error: Integration 'RETL_ALERTS' does not exist")
	db, _, _ := captureDB(t, boom)
	n, err := NewEmailNotifier(db, "RETL_ALERTS", []string{"ops@example.com"})
	require.NoError(t, err)
	err = n.Notify(context.Background(), "s", "b")
	assert.ErrorIs(t, err, boom)
	assert.EqualError(t, err, "snowflake email through integration RETL_ALERTS: "+boom.Error())
}

func TestNewEmailNotifierChecks(t *testing.T) {
	db, _, _ := captureDB(t, nil)
	cases := []struct {
		name        string
		integration string
		recipients  []string
		msg         string
	}{
		{"integration", " ", []string{"a@example.com"}, "no notification integration"},
		{"recipients", "I", nil, "no recipients"},
		{"empty recipient", "I", []string{"a@example.com", " "}, `recipient " " must be one non-empty address`},
		{"list in one", "I", []string{"a@example.com,b@example.com"}, "must be one non-empty address"},
	}
	for _, c := range cases {
		_, err := NewEmailNotifier(db, c.integration, c.recipients)
		assert.ErrorContains(t, err, c.msg, c.name)
	}
	_, err := NewEmailNotifier(nil, "I", []string{"a@example.com"})
	assert.ErrorContains(t, err, "no database")
}
