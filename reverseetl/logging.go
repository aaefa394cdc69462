package reverseetl

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
)

// LogHandler is the handler a program logs through: format "text" for
// people or "json" for CI, from level up. Give it to Runner.Handler, which
// puts the project's redactor in front of it, or wrap it with
// config.Redactor.Handler before logging anything a project resolved.
func LogHandler(w io.Writer, format string, level slog.Level) (slog.Handler, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("log format must be text or json, not %q", format)
}

// CaptureStdLog sends what libraries print on Go's standard logger to l,
// one debug record per line. simpleforce prints failed requests there,
// with the request's body: given the Runner's Logger, those lines are
// redacted and in the run's format like every other. The errors such
// lines describe reach retl's own messages anyway, hence debug.
func CaptureStdLog(l *slog.Logger) {
	log.SetFlags(0)
	log.SetOutput(stdLogWriter{l})
}

type stdLogWriter struct{ l *slog.Logger }

func (w stdLogWriter) Write(p []byte) (int, error) {
	w.l.Debug(strings.TrimRight(string(p), "\n"), "via", "log")
	return len(p), nil
}
