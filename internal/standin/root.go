package standin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

var rootOnce = sync.OnceValues(func() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("standin: working directory: %w", err)
	}
	return findRoot(wd)
})

// Root returns the repository root: the nearest directory at or above the
// working directory that holds go.mod. Tests run in their package's
// directory, so this finds the checkout the test was built from.
func Root() (string, error) {
	return rootOnce()
}

// findRoot walks up from dir to the first directory holding go.mod.
func findRoot(dir string) (string, error) {
	start := dir
	for {
		_, err := os.Stat(filepath.Join(dir, "go.mod"))
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("standin: looking for go.mod: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("standin: no go.mod in %s or any directory above it", start)
		}
		dir = parent
	}
}
