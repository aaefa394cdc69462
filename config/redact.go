package config

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Redactor replaces known secret values in text. It is safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// minSecretLen keeps very short values (which would match everywhere) out.
const minSecretLen = 4

// SubstringMin is the length from which a value is replaced wherever it
// appears. A shorter one (a demo password such as "demo") is replaced only
// where it stands alone, so that ordinary text that happens to contain it
// ("demo.yaml", "viktor@retl-demo.example") keeps its meaning.
const SubstringMin = 8

// Add registers secret values.
func (r *Redactor) Add(values ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, raw := range values {
		if len(raw) < minSecretLen {
			continue
		}
		for _, v := range encodings(raw) {
			if !slices.Contains(r.secrets, v) {
				r.secrets = append(r.secrets, v)
			}
		}
	}
	// Longest first, so a secret containing another is replaced whole.
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// encodings lists a secret as it is and as requests carry it: escaped in
// JSON (with and without Go's escaping of <, > and &) and in URLs. A server
// that echoes a request in its error shows the secret that way.
func encodings(v string) []string {
	out := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	var b strings.Builder
	for _, html := range []bool{true, false} {
		b.Reset()
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(v) == nil {
			q := strings.TrimSuffix(b.String(), "\n")
			out = append(out, q[1:len(q)-1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Redact returns s with every registered secret replaced by [REDACTED].
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, v := range r.secrets {
		s = MaskValue(s, v, "[REDACTED]")
	}
	return s
}

// MaskValue returns s with v replaced by mask. A value of SubstringMin
// bytes or more is replaced wherever it appears. A shorter one is replaced
// only where it stands alone: not joined to a letter, digit or _ on
// either side, nor to a '.', '-' or '/' that continues the word (as in
// "demo.yaml", "retl-demo", "/srv/demo/"). So "password=demo&",
// "\"demo\"", "user:demo@host" and "is demo." are masked.
func MaskValue(s, v, mask string) string {
	if v == "" || !strings.Contains(s, v) {
		return s
	}
	if len(v) >= SubstringMin {
		return strings.ReplaceAll(s, v, mask)
	}
	var b strings.Builder
	done := 0 // s[:done] is in b
	for from := 0; from < len(s); {
		i := strings.Index(s[from:], v)
		if i < 0 {
			break
		}
		i += from
		j := i + len(v)
		if joinsLeft(s[:i]) || joinsRight(s[j:]) {
			from = i + 1
			continue
		}
		b.WriteString(s[done:i])
		b.WriteString(mask)
		done, from = j, j
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

func wordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func connector(r rune) bool { return r == '.' || r == '-' || r == '/' }

// joinsLeft reports whether the text before a match continues its word.
func joinsLeft(before string) bool {
	r, n := utf8.DecodeLastRuneInString(before)
	if n == 0 {
		return false
	}
	if wordRune(r) {
		return true
	}
	if !connector(r) {
		return false
	}
	r2, n2 := utf8.DecodeLastRuneInString(before[:len(before)-n])
	return n2 > 0 && wordRune(r2)
}

// joinsRight reports whether the text after a match continues its word.
func joinsRight(after string) bool {
	r, n := utf8.DecodeRuneInString(after)
	if n == 0 {
		return false
	}
	if wordRune(r) {
		return true
	}
	if !connector(r) {
		return false
	}
	r2, n2 := utf8.DecodeRuneInString(after[n:])
	return n2 > 0 && wordRune(r2)
}

// empty reports whether no secret is registered, for fast paths.
func (r *Redactor) empty() bool {
	if r == nil {
		return true
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.secrets) == 0
}

// Handler wraps h so that registered secrets are redacted from every
// record's message and attributes, groups included, before h sees them. A
// string, error, fmt.Stringer or other value whose printed form holds a
// secret is replaced by its redacted text. Attributes bound with WithAttrs
// are redacted when bound, with the secrets known then.
func (r *Redactor) Handler(h slog.Handler) slog.Handler {
	return &redactHandler{r: r, h: h}
}

type redactHandler struct {
	r *Redactor
	h slog.Handler
}

func (x *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return x.h.Enabled(ctx, l)
}

func (x *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	if x.r.empty() {
		return x.h.Handle(ctx, rec)
	}
	out := slog.NewRecord(rec.Time, rec.Level, x.r.Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(x.r.attr(a))
		return true
	})
	return x.h.Handle(ctx, out)
}

func (x *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = x.r.attr(a)
	}
	return &redactHandler{r: x.r, h: x.h.WithAttrs(red)}
}

func (x *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{r: x.r, h: x.h.WithGroup(name)}
}

func (r *Redactor) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, r.Redact(v.String()))
	case slog.KindGroup:
		group := v.Group()
		out := make([]slog.Attr, len(group))
		for i, g := range group {
			out[i] = r.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		var text string
		switch x := v.Any().(type) {
		case error:
			text = x.Error()
		case fmt.Stringer:
			text = x.String()
		case []byte:
			text = string(x)
		default:
			text = fmt.Sprintf("%+v", x)
		}
		// Only a value that shows a secret is replaced, so that handlers
		// keep formatting the others their own way.
		if red := r.Redact(text); red != text {
			return slog.String(a.Key, red)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// Writer returns a writer that redacts registered secrets from each Write
// before passing it to w. A secret split across two Writes is not caught,
// so it suits writers that get whole messages, as log handlers write them.
func (r *Redactor) Writer(w io.Writer) io.Writer {
	return &redactWriter{r: r, w: w}
}

type redactWriter struct {
	r *Redactor
	w io.Writer
}

func (x *redactWriter) Write(p []byte) (int, error) {
	if x.r.empty() {
		return x.w.Write(p)
	}
	if _, err := io.WriteString(x.w, x.r.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
