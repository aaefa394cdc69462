package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/retl-go/retl/reverseetl"
)

// help is what "retl <command> -h" prints besides the flags.
type help struct {
	synopsis string   // e.g. "retl run [flags]"
	about    string   // one paragraph on what the command does
	examples []string // command lines a user can copy
}

// parseFlags parses a command's flags. done is true when the command must
// stop at once with code: -h and --help print the usage on stdout (exit
// 0); a bad flag or a positional argument is a usage error (exit 2).
func parseFlags(fs *flag.FlagSet, args []string, h help, stdout, stderr io.Writer) (code int, done bool) {
	// The flag package prints its message, then calls Usage: keep the
	// error short and point at -h instead of dumping every flag.
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(stdout, fs, h)
		return exitOK, true
	}
	if err != nil {
		fmt.Fprintf(stderr, "run \"retl %s -h\" for its flags\n", fs.Name())
		return exitInvalid, true
	}
	// Go's flag parsing stops at the first argument that is not a flag:
	// "retl run a --only a" would silently drop "--only a".
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "retl %s: unexpected argument %q (flags only; see \"retl %s -h\")\n", fs.Name(), fs.Arg(0), fs.Name())
		return exitInvalid, true
	}
	return exitOK, false
}

// printHelp writes a command's usage: synopsis, description, every flag
// with its default, and examples.
func printHelp(w io.Writer, fs *flag.FlagSet, h help) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", h.synopsis, h.about)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintf(w, "\nflags:\n")
	}
	fs.VisitAll(func(f *flag.Flag) {
		kind, text := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if kind != "" {
			name += " " + kind
		}
		fmt.Fprintf(w, "  %s\n    \t%s", name, text)
		// A usage that explains its own default (e.g. "default: the
		// project's ...") says it better than the zero value would.
		if !strings.Contains(text, "(default") {
			def := f.DefValue
			if def == "" {
				def = "none"
			}
			fmt.Fprintf(w, " (default: %s)", def)
		}
		fmt.Fprintln(w)
	})
	if len(h.examples) > 0 {
		fmt.Fprintf(w, "\nexamples:\n")
		for _, e := range h.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// cmdVersion prints the module version and the VCS revision the binary
// was built from, as the Go toolchain recorded them.
func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	h := help{synopsis: "retl version", about: "Print the module version and the VCS revision this binary was built from.",
		examples: []string{"retl version"}}
	if code, done := parseFlags(fs, args, h, stdout, stderr); done {
		return code
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(stderr, "retl version: the binary carries no build information")
		return exitFailed
	}
	fmt.Fprintln(stdout, "retl", reverseetl.Version(info))
	return exitOK
}
