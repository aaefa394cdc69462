package salesforce

import "fmt"

// The package's errors say "salesforce: " once, at the front. Each layer
// (a request, a login, a describe, a preflight) names what it was doing,
// and an error it wraps loses its own label in the message, not in the
// chain: errors.Is and errors.As still see every layer.

// labelled is implemented by the package's errors: their message without
// the label.
type labelled interface {
	error
	unlabelled() string
}

// sfError is an error of this package.
type sfError struct {
	msg string // without the label
	err error  // the wrapped chain, nil for a leaf
}

func (e *sfError) Error() string      { return label + e.msg }
func (e *sfError) unlabelled() string { return e.msg }
func (e *sfError) Unwrap() error      { return e.err }

const label = "salesforce: "

// newError is errors.New for the package's errors.
func newError(msg string) error { return &sfError{msg: msg} }

// errorf is fmt.Errorf for the package's errors: %w keeps the chain, and a
// wrapped error of this package is printed without its label.
func errorf(format string, args ...any) error {
	for i, a := range args {
		if l, ok := a.(labelled); ok {
			args[i] = bare{l}
		}
	}
	e := fmt.Errorf(format, args...)
	return &sfError{msg: e.Error(), err: e}
}

// bare shows a labelled error without its label, keeping it in the chain.
type bare struct{ l labelled }

func (b bare) Error() string { return b.l.unlabelled() }
func (b bare) Unwrap() error { return b.l }

// unlabelledText is err's message without the package's label, for
// messages that quote it after their own words.
func unlabelledText(err error) string {
	if l, ok := err.(labelled); ok {
		return l.unlabelled()
	}
	return err.Error()
}
