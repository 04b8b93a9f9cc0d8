package esxi

import (
	"strings"
)

// Quote returns s as one word for a POSIX shell (the host's busybox ash):
// s in single quotes, with each single quote in s closed, escaped and
// reopened. Inside single quotes ash expands nothing ($, backquote,
// backslash, globs and newlines are all literal), so the word is exactly s:
//
//	Quote("it's") == `'it'\''s'`
//	Quote("")     == `''`
//
// A NUL byte cannot travel on a command line (ssh and sh -c end the string
// there), so callers must reject it first; the command builders do.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// checkText rejects values that cannot be passed on a command line at all.
func checkText(cmd, what, v string) error {
	if strings.IndexByte(v, 0) >= 0 {
		return argErr(cmd, what, v, "contains a NUL byte, which ends a shell command line")
	}
	return nil
}

// quotePath validates a host path and quotes it. Only absolute paths are
// accepted: a relative one would depend on the SSH session's working
// directory (and on CDPATH for cd), and could start with "-" and be read as
// an option.
func quotePath(cmd, what, p string) (string, error) {
	if err := checkText(cmd, what, p); err != nil {
		return "", err
	}
	if !strings.HasPrefix(p, "/") {
		return "", argErr(cmd, what, p, "is not an absolute path")
	}
	return Quote(p), nil
}

// quoteName validates a label, host name or snapshot name: one line, no
// control characters, not empty and not starting with "-" (tools such as
// esxcfg-nas and vim-cmd would take it for an option).
func quoteName(cmd, what, v string) (string, error) {
	if err := checkLine(cmd, what, v); err != nil {
		return "", err
	}
	if v == "" {
		return "", argErr(cmd, what, v, "is empty")
	}
	if v[0] == '-' {
		return "", argErr(cmd, what, v, "starts with '-' and would be read as an option")
	}
	return Quote(v), nil
}

// checkLine rejects control characters, which have no place in a datastore
// label, a host name or a snapshot name and would make logs ambiguous.
func checkLine(cmd, what, v string) error {
	if err := checkText(cmd, what, v); err != nil {
		return err
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return argErr(cmd, what, v, "contains a control character")
		}
	}
	return nil
}
