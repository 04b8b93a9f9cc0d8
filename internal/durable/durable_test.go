package durable

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestWriteFile writes once, refuses to overwrite, and keeps the first
// content.
func TestWriteFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "case.key")
	if err := WriteFile(p, []byte("first\n")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("second\n")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write: %v, want fs.ErrExist", err)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, []byte("first\n")) {
		t.Fatalf("content %q, %v", got, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&^0o640 != 0 {
		t.Fatalf("mode %v, want at most 0640", fi.Mode().Perm())
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "missing", "x"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("write into a missing folder: %v", err)
	}
}
