package esxi

import (
	"errors"
	"fmt"
)

// ErrInvalidArgument is wrapped by every error a command builder returns: the
// value cannot be put on an ESXi command line safely, so no command was built.
var ErrInvalidArgument = errors.New("invalid argument for an ESXi command")

// ParseError reports output or file text that does not have the structure a
// parser expects.
type ParseError struct {
	Source string // what was being parsed: "getallvms", ".vmx", "esxcli csv" ...
	Line   int    // 1-based line of the problem; 0 when it is not on one line
	Reason string
	// Err, when set, is the kind of problem a caller can act on (for
	// instance ErrAmbiguousPath: retry with the host's datastore names).
	Err error
}

// Unwrap returns Err.
func (e *ParseError) Unwrap() error { return e.Err }

// Error implements error.
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("esxi: %s line %d: %s", e.Source, e.Line, e.Reason)
	}
	return fmt.Sprintf("esxi: %s: %s", e.Source, e.Reason)
}

func parseErr(source string, line int, format string, args ...any) error {
	return &ParseError{Source: source, Line: line, Reason: fmt.Sprintf(format, args...)}
}

func argErr(cmd, what, value, reason string) error {
	return fmt.Errorf("esxi: %s: %s %q %s: %w", cmd, what, clip(value), reason, ErrInvalidArgument)
}

// clip shortens text quoted in error messages so that a binary file fed to a
// parser does not flood the terminal or the custody log.
func clip(s string) string {
	const max = 72
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
