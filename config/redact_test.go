package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testSecret = "tiger-lily-42"

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

type credentials struct {
	User     string
	Password string
}

type lazy struct{}

func (lazy) LogValue() slog.Value { return slog.StringValue("lazy " + testSecret) }

func TestRedactorHandler(t *testing.T) {
	r := &Redactor{}
	r.Add(testSecret)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			var h slog.Handler = slog.NewTextHandler(&buf, nil)
			if format == "json" {
				h = slog.NewJSONHandler(&buf, nil)
			}
			log := slog.New(r.Handler(h))
			log.Info("connecting with "+testSecret,
				"password", testSecret,
				slog.Group("conn", "dsn", "user:"+testSecret+"@host", slog.Group("inner", "token", testSecret)),
				"err", fmt.Errorf("login failed for %s", testSecret),
				"stringer", stringer{"pw=" + testSecret},
				"bytes", []byte(testSecret),
				"struct", credentials{User: "u", Password: testSecret},
				"lazy", lazy{},
				"count", 3,
				"plain", "visible",
			)
			log.With("bound", testSecret).WithGroup("g").Warn("again", "k", testSecret)
			out := buf.String()
			assert.NotContains(t, out, testSecret)
			assert.Equal(t, 11, strings.Count(out, "[REDACTED]"), out)
			assert.Contains(t, out, "visible")
			assert.Contains(t, out, "3")
		})
	}
}

func TestRedactorHandlerKeepsValuesWithoutSecrets(t *testing.T) {
	r := &Redactor{}
	r.Add(testSecret)
	var buf bytes.Buffer
	slog.New(r.Handler(slog.NewJSONHandler(&buf, nil))).Info("m", "err", errors.New("plain"), "list", []int{1, 2})
	assert.Contains(t, buf.String(), `"err":"plain"`)
	assert.Contains(t, buf.String(), `"list":[1,2]`, "a value without secrets keeps its own encoding")
}

func TestRedactorHandlerWithoutSecrets(t *testing.T) {
	var buf bytes.Buffer
	h := (&Redactor{}).Handler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	assert.False(t, h.Enabled(context.Background(), slog.LevelInfo))
	assert.True(t, h.Enabled(context.Background(), slog.LevelWarn))
	slog.New(h).Warn("hello", "k", "v")
	assert.Contains(t, buf.String(), "msg=hello k=v")
}

func TestRedactorWriter(t *testing.T) {
	r := &Redactor{}
	var buf bytes.Buffer
	w := r.Writer(&buf)
	n, err := fmt.Fprintf(w, "before %s\n", testSecret)
	require.NoError(t, err)
	assert.Equal(t, len("before ")+len(testSecret)+1, n)
	r.Add(testSecret)
	n, err = fmt.Fprintf(w, "after %s\n", testSecret)
	require.NoError(t, err)
	assert.Equal(t, len("after ")+len(testSecret)+1, n, "the count is of the bytes given")
	assert.Equal(t, "before "+testSecret+"\nafter [REDACTED]\n", buf.String())
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRedactorWriterError(t *testing.T) {
	r := &Redactor{}
	r.Add(testSecret)
	_, err := r.Writer(failingWriter{}).Write([]byte(testSecret))
	assert.EqualError(t, err, "disk full")
}

func TestRedactor(t *testing.T) {
	r := &Redactor{}
	r.Add("abc", "secret", "secret-longer", "secret")
	assert.Equal(t, "abc [REDACTED] [REDACTED]", r.Redact("abc secret secret-longer"), "short values are not registered; longer ones win")
	var none *Redactor
	none.Add("x")
	assert.Equal(t, "secret", none.Redact("secret"))
	assert.True(t, none.empty())
}

// Short secrets (the emulator's "demo") are masked where they stand alone
// and leave ordinary words, names and paths that contain them intact;
// long ones go wherever they appear.
func TestRedactorShortSecretsStandAlone(t *testing.T) {
	r := &Redactor{}
	r.Add("demo", "retl", "s3cr3t-L0ng-Enough")
	for in, want := range map[string]string{
		"configs/demo.yaml":                   "configs/demo.yaml",
		"viktor@retl-demo.example":            "viktor@retl-demo.example",
		"/srv/retl/demo/x":                    "/srv/retl/demo/x",
		"demonstration retlx _demo demo_":     "demonstration retlx _demo demo_",
		"password=demo&username=retl":         "password=[REDACTED]&username=[REDACTED]",
		`{"password":"demo"}`:                 `{"password":"[REDACTED]"}`,
		"https://user:demo@host/":             "https://user:[REDACTED]@host/",
		"the password is demo.":               "the password is [REDACTED].",
		"demo":                                "[REDACTED]",
		"démo demo":                           "démo [REDACTED]",
		"xs3cr3t-L0ng-Enoughx.yaml":           "x[REDACTED]x.yaml",
		"<password>demo</password> retl-demo": "<password>[REDACTED]</password> retl-demo",
	} {
		assert.Equal(t, want, r.Redact(in), in)
	}
}

func TestMaskValue(t *testing.T) {
	assert.Equal(t, "a [X] b", MaskValue("a 42 b", "42", "[X]"))
	assert.Equal(t, "a 421 b", MaskValue("a 421 b", "42", "[X]"))
	assert.Equal(t, "aaa", MaskValue("aaa", "aa", "[X]"), "overlapping matches inside a word stay")
	assert.Equal(t, "[X] [X]", MaskValue("aa aa", "aa", "[X]"))
	assert.Equal(t, "text", MaskValue("text", "", "[X]"))
	assert.Equal(t, "[X]@[X]", MaskValue("12345678@12345678", "12345678", "[X]"))
}
