package reverseetl_test

import (
	"log"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/retl-go/retl/reverseetl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogHandler(t *testing.T) {
	var b strings.Builder
	h, err := reverseetl.LogHandler(&b, "json", slog.LevelWarn)
	require.NoError(t, err)
	l := slog.New(h)
	l.Info("not shown")
	l.Warn("shown", "k", 1)
	assert.Equal(t, 1, strings.Count(b.String(), "\n"))
	assert.Contains(t, b.String(), `"msg":"shown","k":1`)

	b.Reset()
	h, err = reverseetl.LogHandler(&b, "text", slog.LevelDebug)
	require.NoError(t, err)
	reverseetl.CaptureStdLog(slog.New(h))
	t.Cleanup(func() { log.SetOutput(os.Stderr); log.SetFlags(log.LstdFlags) })
	log.Printf("from a library: %d\n", 7)
	assert.Contains(t, b.String(), `level=DEBUG msg="from a library: 7" via=log`+"\n")
	assert.Equal(t, 1, strings.Count(b.String(), "\n"), "one record per line, the newline trimmed")

	_, err = reverseetl.LogHandler(&b, "xml", slog.LevelInfo)
	assert.EqualError(t, err, `log format must be text or json, not "xml"`)
}
