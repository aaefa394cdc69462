package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/internal/standin"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/review"
)

// plan --html and run --html write the review page beside the usual
// output; the page has what the printout has.
func TestReviewPage(t *testing.T) {
	s := newDemoSetup(t, "", nil)
	page := filepath.Join(s.dir, "plan.html")
	r := retl(t, "plan", "--configs", s.configs, "--only", "accounts", "--html", page)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "review page written to "+page+"\n")
	b, err := os.ReadFile(page)
	require.NoError(t, err)
	html := string(b)
	assert.Contains(t, html, "<h1>retl plan</h1>")
	assert.Contains(t, html, `<a href="#sync-1">accounts</a>`)
	assert.Regexp(t, `<th>Record key</th><th>Id</th><th>Field</th>`, html)
	assert.Contains(t, html, "A plan: nothing was written.")

	runPage := filepath.Join(s.dir, "run.html")
	r = retl(t, "run", "--configs", s.configs, "--only", "accounts", "--html", runPage)
	require.Equal(t, exitOK, r.code, r.stderr)
	b, err = os.ReadFile(runPage)
	require.NoError(t, err)
	assert.Contains(t, string(b), "<h1>retl run</h1>")
	assert.Regexp(t, `<dt>API calls</dt><dd>[1-9]`, string(b))
}

// A page path retl will not replace stops the run before anything is
// sent; a page that cannot be written after the run exits 5.
func TestReviewPageErrors(t *testing.T) {
	s := newDemoSetup(t, "", nil)
	s.env.Server().ResetRequests()
	r := retl(t, "run", "--configs", s.configs, "--only", "accounts", "--html", s.dir)
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, "--html: report "+s.dir+": "+reverseetl.ErrNotReplaceable.Error())
	assert.Empty(t, s.env.Server().Requests(), "nothing reached Salesforce")

	full := errors.New("no space left on device")
	writeHTMLFile = func(string, *reverseetl.Report, review.Options) error { return full }
	t.Cleanup(func() { writeHTMLFile = review.WriteHTMLFile })
	r = retl(t, "run", "--configs", s.configs, "--only", "accounts", "--html", filepath.Join(s.dir, "run.html"))
	assert.Equal(t, exitFiles, r.code)
	assert.Contains(t, r.stderr, "no space left on device")
	assert.NotContains(t, r.stdout, "review page written")
}

// The demo's plan page, rendered by a real browser, shows what a
// reviewer needs. RETL_REVIEW_SCREENSHOT=FILE keeps the screenshot (the
// one in docs/ is made so).
func TestReviewPageInBrowser(t *testing.T) {
	// RETL_CHROMIUM names another browser command, as for scripts/standins.
	browser, err := exec.LookPath(cmp.Or(os.Getenv("RETL_CHROMIUM"), "chromium"))
	if err != nil {
		standin.Unavailable(t, "chromium not installed: run `make standins` at the repository root (it installs Debian's chromium with apt-get) (%v)", err)
	}
	s := newDemoSetup(t, "", nil)
	page := filepath.Join(s.dir, "plan.html")
	r := retl(t, "plan", "--configs", s.configs, "--html", page)
	require.Equal(t, exitOK, r.code, r.stderr)

	dom := chromium(t, browser, "--dump-dom", "file://"+page)
	text := visibleText(dom)
	for _, want := range []string{
		"retl plan", "4 of 4 syncs would succeed",
		// The overview: sync, status, read, create, update, delete, unchanged, kept back, fail, skipped.
		"accounts succeeded 50 40 7 0 3 7 0 0", "contacts succeeded 120 112 5 0 0 5 3 0",
		"read 50 would create 40 would update 7 unchanged 3 kept back 7 would fail 0 skipped 0",
		"Field changes Record key Id Field Old value New value",
		"Would fail, by code Code Records Fields Examples INVALID_EMAIL_ADDRESS 1 Email C-0077",
		"Kept back Field Why Records CSM_Email__c set_if_empty: Salesforce holds a value 7",
	} {
		assert.Contains(t, text, want)
	}
	assert.Regexp(t, `A-004 0015g0000000004AAA NumberOfEmployees \d+ \d+`, text, "an update's key, Id, field, old and new value")

	shot := filepath.Join(s.dir, "plan.png")
	chromium(t, browser, "--screenshot="+shot, "--window-size=1280,3800", "--hide-scrollbars", "file://"+page)
	png, err := os.ReadFile(shot)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "a PNG")
	if keep := os.Getenv("RETL_REVIEW_SCREENSHOT"); keep != "" {
		require.NoError(t, os.WriteFile(keep, png, 0o644))
	}
}

// chromium runs the headless browser once and returns its standard
// output.
func chromium(t *testing.T, browser string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// --no-sandbox: the sandbox needs user namespaces, which containers
	// (and root) often lack.
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + t.TempDir()}, args...)
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, browser, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Run(), "%s", errOut.String())
	return out.String()
}

var (
	headOrTag = regexp.MustCompile(`(?s)<head>.*?</head>|<[^>]+>`)
	spaces    = regexp.MustCompile(`\s+`)
)

// visibleText is a DOM's text with each element's bounds as a space.
func visibleText(dom string) string {
	t := headOrTag.ReplaceAllString(dom, " ")
	t = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#39;", "'").Replace(t)
	return strings.TrimSpace(spaces.ReplaceAllString(t, " "))
}
