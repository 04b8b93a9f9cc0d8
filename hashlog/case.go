package hashlog

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Names inside a case folder; the sink and the orchestrator rely on them.
const (
	logName      = "custody.jsonl"
	evidenceName = "evidence"
)

// ErrNotCase reports that a folder is not a case folder: it does not exist
// or holds no custody log. The CLI maps it to a usage error.
var ErrNotCase = errors.New("not a case folder (no " + logName + ")")

// LogPath returns the path of the custody log of the case in caseDir.
func LogPath(caseDir string) string { return filepath.Join(caseDir, logName) }

// EvidenceDir returns the evidence folder (the NFS export root) of the case
// in caseDir. Paths in records are relative to it.
func EvidenceDir(caseDir string) string { return filepath.Join(caseDir, evidenceName) }

// CheckEvidencePath reports whether p may name an evidence file in a record:
// relative to the evidence folder, "/"-separated, already clean, valid
// UTF-8, no NUL, and local on this platform. Verification opens only such
// paths, so a forged record cannot make it read outside the evidence folder.
func CheckEvidencePath(p string) error {
	switch {
	case p == "" || p == ".":
		return fmt.Errorf("evidence path %q is empty", p)
	case !utf8.ValidString(p):
		return fmt.Errorf("evidence path %q is not valid UTF-8", p)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("evidence path %q contains NUL", p)
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("evidence path %q is absolute; paths are relative to the evidence folder", p)
	case path.Clean(p) != p:
		return fmt.Errorf("evidence path %q is not clean (want %q)", p, path.Clean(p))
	case p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("evidence path %q leaves the evidence folder", p)
	case !filepath.IsLocal(filepath.FromSlash(p)):
		return fmt.Errorf("evidence path %q is not a local path on this system", p)
	}
	return nil
}

// checkCase returns ErrNotCase (wrapped with the folder) unless caseDir is
// a folder holding a custody log.
func checkCase(caseDir string) error {
	fi, err := os.Stat(caseDir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return fmt.Errorf("%s: %w", caseDir, ErrNotCase)
	}
	if err != nil {
		return fmt.Errorf("case folder %s: %w", caseDir, err)
	}
	fi, err = os.Stat(LogPath(caseDir))
	if errors.Is(err, os.ErrNotExist) || (err == nil && !fi.Mode().IsRegular()) {
		return fmt.Errorf("%s: %w", caseDir, ErrNotCase)
	}
	if err != nil {
		return fmt.Errorf("custody log %s: %w", LogPath(caseDir), err)
	}
	return nil
}

// FindCase returns the case folder whose evidence folder holds the file at
// p (p itself or any folder above it), or "" when p is in no case.
func FindCase(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	for dir := filepath.Dir(abs); ; {
		parent := filepath.Dir(dir)
		if filepath.Base(dir) == evidenceName {
			if fi, err := os.Stat(LogPath(parent)); err == nil && fi.Mode().IsRegular() {
				return parent, nil
			}
		}
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}
