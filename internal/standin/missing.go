package standin

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// installHint names the command that installs the Python and npm stand-ins.
const installHint = "run `make standins` (or scripts/standins) at the repository root"

// notInstalled reports a stand-in whose binary is absent.
type notInstalled struct {
	name string // "fakesnow"
	hint string // how to install it
	err  error  // what the lookup said
}

func (e *notInstalled) Error() string {
	return fmt.Sprintf("%s not installed: %s (%v)", e.name, e.hint, e.err)
}

func (e *notInstalled) Unwrap() error { return e.err }

// Unavailable skips the test because a stand-in it needs is missing, or
// fails it when the environment has CI=true: in CI every stand-in must be
// there, and a skip would hide that. The message should say how to install
// what is missing.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	fail(t, fmt.Errorf(format, args...))
}

func fail(t testing.TB, err error) {
	t.Helper()
	fatal, msg := decide(os.Getenv("CI"), err)
	if fatal {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// decide says whether a missing stand-in fails the test (under CI) or skips
// it, and with which message. ci is the CI environment variable's value; any
// value strconv.ParseBool reads as true counts.
func decide(ci string, err error) (fatal bool, msg string) {
	msg = err.Error()
	if on, perr := strconv.ParseBool(ci); perr == nil && on {
		return true, msg + " [CI=true: missing stand-ins fail instead of skipping]"
	}
	return false, msg
}
