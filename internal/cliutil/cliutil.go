// Package cliutil holds what esxsink's programs share on the command
// line: the diagnostic logger every --log-level flag sets up.
package cliutil

import (
	"fmt"
	"io"
	"log/slog"
)

// NewLogger returns a text logger on w at the named level (debug, info,
// warn, error); the error names the --log-level flag it came from.
func NewLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
