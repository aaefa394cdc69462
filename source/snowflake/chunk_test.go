package snowflake

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	sf "github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/internal/standin"
)

// TestDriverChunkOnFakesnow checks the adapter over gosnowflake's Arrow
// batches with real ones: fetching, and finding the zone gosnowflake puts a
// timestamp in (fakesnow reports every zoned column as TIMESTAMP_TZ at
// offset 0, so that is the zone found here).
func TestDriverChunkOnFakesnow(t *testing.T) {
	QuietDriverLogs()
	fs := standin.Fakesnow(t)
	db, err := OpenDB(Settings{Account: "fakesnow", User: "fake", Password: "snow", Host: fs.Host, Port: fs.Port, Protocol: "http"})
	require.NoError(t, err)
	defer db.Close()
	conn, err := db.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()

	ctx := sf.WithArrowBatches(sf.WithHigherPrecision(sf.WithArrowBatchesTimestampOption(context.Background(), sf.UseOriginalTimestamp)))
	err = conn.Raw(func(dc any) error {
		rows, err := dc.(driver.QueryerContext).QueryContext(ctx,
			"select null::int as N, '2024-05-01T10:00:00+02:00'::timestamp_tz as TZ", nil)
		require.NoError(t, err)
		defer rows.Close()
		batches, err := rows.(sf.SnowflakeRows).GetArrowBatches()
		require.NoError(t, err)
		require.Len(t, batches, 1)
		ch := driverChunk{batches[0]}
		recs, err := ch.Fetch(context.Background())
		require.NoError(t, err)
		require.Len(t, recs, 1)
		assert.Equal(t, time.UTC, ch.Location(recs[0], 0), "no value to learn the zone from")
		loc := ch.Location(recs[0], 1)
		_, off := time.Date(2024, 5, 1, 0, 0, 0, 0, loc).Zone()
		assert.Zero(t, off)
		return nil
	})
	require.NoError(t, err)
}
