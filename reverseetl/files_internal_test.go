package reverseetl

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
)

// fullDisk is a temporary file that takes limit bytes, then fails as a
// full disk does.
type fullDisk struct {
	*os.File
	left int
}

func (f *fullDisk) Write(p []byte) (int, error) {
	if len(p) > f.left {
		n, _ := f.File.Write(p[:f.left])
		f.left = 0
		return n, syscall.ENOSPC
	}
	f.left -= len(p)
	return f.File.Write(p)
}

// withFullDisk makes new files take limit bytes until the test ends.
func withFullDisk(t *testing.T, limit int) {
	old := createTemp
	createTemp = func(dir, pattern string) (tempFile, error) {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		return &fullDisk{File: f, left: limit}, nil
	}
	t.Cleanup(func() { createTemp = old })
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteJSONFileOnAFullDiskKeepsThePreviousReport(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.json")
	rep := &Report{RunID: "r1", Syncs: []*SyncReport{{Name: "s", Status: Succeeded, Read: 3}}}
	require.NoError(t, WriteJSONFile(path, rep))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	withFullDisk(t, 40)
	rep.RunID = "r2"
	err = WriteJSONFile(path, rep)
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.ErrorContains(t, err, "the previous file, if any, is unchanged")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	assert.Equal(t, []string{"run.json"}, entries(t, dir), "no temporary file is left")
}

func TestFailedRowsCSVOnAFullDiskLeavesNoShortFile(t *testing.T) {
	withFullDisk(t, 300)
	dir := t.TempDir()
	c := &FailedRowsCSV{Dir: dir, RunID: "r"}
	require.NoError(t, c.Check())
	layout := sink.NewLayout([]string{"Name"}, nil)
	s := &config.Sync{Name: "s"}
	var errs int
	for i := range 10 {
		outs := make([]Outcome, 30)
		for j := range outs {
			outs[j] = Outcome{Seq: int64(i*30 + j + 1), Key: "k", Kind: RowFailed, Err: &sink.RecordError{Code: "STRING_TOO_LONG", Message: "too long"},
				Record: &sink.Record{Layout: layout, Values: []sink.Value{sink.TextValue("a name")}}}
		}
		if err := c.Outcomes(context.Background(), s, outs); err != nil {
			assert.ErrorIs(t, err, syscall.ENOSPC)
			errs++
		}
	}
	assert.Equal(t, 10, errs, "every chunk after the failure is refused too")
	rep := &SyncReport{}
	c.SyncFinished(context.Background(), s, rep)
	assert.Empty(t, rep.Warnings, "the Engine has the error from Outcomes")
	assert.Empty(t, c.Paths())
	require.Contains(t, c.Failures(), "s")
	assert.ErrorIs(t, c.Failures()["s"], syscall.ENOSPC)
	assert.Empty(t, entries(t, filepath.Join(dir, "r")), "the short file is removed")
	c.RunFinished(context.Background(), &Report{})
	assert.Empty(t, entries(t, dir), "the empty run directory Check made is removed")
}

// A file whose last rows fail only when the sync finishes (the buffer's
// final flush) is reported on the sync.
func TestFailedRowsCSVFailingAtTheEnd(t *testing.T) {
	withFullDisk(t, 200)
	dir := t.TempDir()
	c := &FailedRowsCSV{Dir: dir, RunID: "r"}
	s := &config.Sync{Name: "s"}
	outs := []Outcome{{Seq: 1, Key: "k", Kind: RowFailed, Err: &sink.RecordError{Code: "E", Message: "m"}}}
	require.NoError(t, c.Outcomes(context.Background(), s, outs))
	// Fill the limit with rows the csv.Writer still buffers.
	ff := c.files["s"]
	for range 50 {
		require.NoError(t, ff.w.Write([]string{"1", "k", "E", "m", ""}))
	}
	rep := &SyncReport{}
	c.SyncFinished(context.Background(), s, rep)
	require.Len(t, rep.Warnings, 1)
	assert.Contains(t, rep.Warnings[0], "failed rows file:")
	assert.Empty(t, c.Paths())
	assert.Empty(t, entries(t, filepath.Join(dir, "r")))
}

func TestCheckReportPath(t *testing.T) {
	dir := t.TempDir()
	assert.NoError(t, CheckReportPath(filepath.Join(dir, "new.json")))
	mine := filepath.Join(dir, "mine.json")
	require.NoError(t, os.WriteFile(mine, []byte("{}"), 0o644))
	assert.NoError(t, CheckReportPath(mine))

	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("keep"), 0o600))
	link := filepath.Join(dir, "link.json")
	require.NoError(t, os.Symlink(target, link))
	err := CheckReportPath(link)
	assert.ErrorIs(t, err, ErrNotReplaceable)
	assert.ErrorContains(t, err, "a symlink")
	assert.ErrorIs(t, WriteJSONFile(link, &Report{}), ErrNotReplaceable, "the writer refuses it too")
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "keep", string(b))

	assert.ErrorContains(t, CheckReportPath(dir), "a directory")
	notDir := filepath.Join(mine, "run.json")
	assert.ErrorIs(t, CheckReportPath(notDir), syscall.ENOTDIR)
	assert.Error(t, CheckReportPath(filepath.Join(dir, "missing", "run.json")))

	if os.Getuid() == 0 {
		theirs := filepath.Join(dir, "theirs.json")
		require.NoError(t, os.WriteFile(theirs, []byte("theirs"), 0o644))
		require.NoError(t, os.Chown(theirs, 4242, 4242))
		err := CheckReportPath(theirs)
		assert.ErrorIs(t, err, ErrNotReplaceable)
		assert.ErrorContains(t, err, "belongs to another user")
		assert.ErrorIs(t, WriteJSONFile(theirs, &Report{}), ErrNotReplaceable)
		b, err := os.ReadFile(theirs)
		require.NoError(t, err)
		assert.Equal(t, "theirs", string(b), "nothing is written into another user's file")
	}

	// A directory that takes no file is found before the run.
	c := &FailedRowsCSV{Dir: mine, RunID: "r"}
	assert.ErrorIs(t, c.Check(), syscall.ENOTDIR)
}

// The report replaces an existing file with a new one of mode 0600.
func TestWriteJSONFileReplacesWithAPrivateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.json")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	require.NoError(t, os.Chmod(path, 0o644))
	require.NoError(t, WriteJSONFile(path, &Report{RunID: "r"}))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	assert.Equal(t, []string{"run.json"}, entries(t, dir))
}
