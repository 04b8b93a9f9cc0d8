package nfssink

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// validName checks a single path component sent by a client. Evidence
// files keep the names the host gave them, so anything that could escape
// the evidence folder, confuse a shell or a report, or not survive a copy
// to another file system is refused rather than rewritten.
func validName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("name %q is reserved", name)
	case len(name) > maxName:
		return fmt.Errorf("name is %d bytes, limit %d", len(name), maxName)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("name %q contains a path separator or NUL", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("name %q contains control character %U", name, r)
		}
	}
	return nil
}

// isLockFile reports whether name is an ESXi NFSv3 lock file (.lck-<id>),
// the only kind of file clients may remove.
func isLockFile(name string) bool {
	return strings.HasPrefix(name, ".lck-")
}

// joinRel joins a relative directory and a validated name.
func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
