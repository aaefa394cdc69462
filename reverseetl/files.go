package reverseetl

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// tempFile is the part of *os.File the writers of report files use, so
// that a test can make a write fail as a full disk does.
type tempFile interface {
	io.Writer
	Name() string
	Sync() error
	Close() error
}

// createTemp creates a new file (O_EXCL, mode 0600) in dir; a file of that
// name, or a symlink, is never reused.
var createTemp = func(dir, pattern string) (tempFile, error) { return os.CreateTemp(dir, pattern) }

// writeAtomic writes path anew: into a new temporary file beside it, then
// renamed over it. An existing file at path, or whatever a symlink there
// points to, is never opened or written; a failed write leaves it as it
// was and removes the temporary file.
func writeAtomic(path string, write func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := createTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	// The data reaches the disk before the name does, so a crash leaves
	// the old file or the whole new one.
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// WriteFile writes path anew, as WriteJSONFile writes the report: write
// fills a new temporary file (mode 0600) that is renamed over path, so a
// failed write leaves the previous file as it was. A path that is not a
// regular file of the current user is refused (ErrNotReplaceable). Check
// the path with CheckReportPath before the run writes anything.
func WriteFile(path string, write func(w io.Writer) error) error {
	if err := checkReplaceable(path); err != nil {
		return err
	}
	return writeAtomic(path, write)
}

// CheckReportPath checks, before a run writes anything anywhere, that the
// report can be written to path: an existing path must be a regular file
// of the current user (a symlink, a directory or another user's file is
// refused, not replaced), and its directory must take a new file.
func CheckReportPath(path string) error {
	if err := checkReplaceable(path); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := probeDir(dir); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	return nil
}

// ErrNotReplaceable says a report path holds something retl will not
// replace: a symlink, a directory, a device, or another user's file.
var ErrNotReplaceable = errors.New("not a regular file of this user")

func checkReplaceable(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w (it is %s)", ErrNotReplaceable, describeMode(st.Mode()))
	}
	if !ownedByCurrentUser(st) {
		return fmt.Errorf("%w (it belongs to another user)", ErrNotReplaceable)
	}
	return nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m.IsDir():
		return "a directory"
	default:
		return "not a regular file"
	}
}

// probeDir creates and removes a new file in dir.
func probeDir(dir string) error {
	f, err := createTemp(dir, ".retl-probe-*")
	if err != nil {
		return err
	}
	_ = f.Close()
	return os.Remove(f.Name())
}

// WriteFileAtomic writes path anew, as the report is written: into a new
// temporary file beside it, then renamed over it, so that a failed write
// leaves the previous file as it was.
func WriteFileAtomic(path string, write func(w io.Writer) error) error {
	return writeAtomic(path, write)
}
