package nfssink

import (
	"fmt"
	"strings"
	"unicode"
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
		switch {
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("name %q contains control character %U", name, r)
		case unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			// Bidirectional overrides (U+202E), zero-width characters
			// and line separators can make a name look like another
			// in a listing or a report.
			return fmt.Errorf("name %q contains the invisible or reordering character %U", name, r)
		}
	}
	return platformName(name)
}

// windowsNameProblem says why Windows cannot store name: the characters
// : * ? " < > |, a trailing dot or space (Windows drops them, so two
// names would become one), or a device name such as CON or COM1. A sink
// on a Windows laptop refuses such names with a clear error instead of
// failing inside the file system; collect never sends them.
func windowsNameProblem(name string) error {
	if i := strings.IndexAny(name, `:*?"<>|`); i >= 0 {
		return fmt.Errorf("name %q contains %q, which Windows does not allow in file names", name, name[i])
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return fmt.Errorf("name %q ends in a dot or a space, which Windows drops", name)
	}
	base, _, _ := strings.Cut(name, ".")
	switch b := strings.ToUpper(base); {
	case b == "CON" || b == "PRN" || b == "AUX" || b == "NUL",
		len(b) == 4 && (strings.HasPrefix(b, "COM") || strings.HasPrefix(b, "LPT")) && b[3] >= '0' && b[3] <= '9':
		return fmt.Errorf("name %q is a Windows device name", name)
	}
	return nil
}

// scratchNames are the client's own bookkeeping files (for ESXi, its
// NFSv3 lock files .lck-<fileid>): not evidence, and the only files
// clients may remove. The rule is the client's, so it comes in as
// configuration (Config.ScratchPrefixes) and is recorded in sink.started.
type scratchNames []string

func (s scratchNames) match(name string) bool {
	for _, p := range s {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// joinRel joins a relative directory and a validated name.
func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
