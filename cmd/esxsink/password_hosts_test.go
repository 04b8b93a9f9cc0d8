package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestHostPasswords: --host-passwords gives fleet hosts their own root
// passwords by name or address, a password may hold blanks, a host not
// listed falls back to the common source, and a malformed file is refused
// without echoing its lines (they may hold passwords).
func TestHostPasswords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	os.WriteFile(file, []byte("# fleet\nesx01  Pass word 1 \r\n\n127.0.0.12\tTab-Pass\n"), 0o600)
	p, err := readHostPasswords(file)
	if err != nil {
		t.Fatal(err)
	}
	fallback := func(_ context.Context, user, host, _ string) (string, error) { return "common for " + host, nil }
	var ask sync.Mutex
	for _, c := range []struct{ name, addr, want string }{
		{"esx01", "127.0.0.11", "Pass word 1 "},
		{"esx02", "127.0.0.12", "Tab-Pass"},
		{"esx03", "127.0.0.13", "common for esx03 (127.0.0.13:22)"},
	} {
		got, err := p.forHost(c.name, c.addr, fallback, &ask)(context.Background(), "root", "127.0.0.13:22", "")
		if err != nil || got != c.want {
			t.Errorf("%s: %q %v, want %q", c.name, got, err, c.want)
		}
	}
	for _, bad := range []string{"Secret-A\n", "esx01 Secret-A\nesx01 Secret-B\n"} {
		os.WriteFile(file, []byte(bad), 0o600)
		_, err := readHostPasswords(file)
		if err == nil || strings.Contains(err.Error(), "Secret") {
			t.Errorf("%q: %v (want an error that does not repeat the password)", bad, err)
		}
	}
	if _, err := readHostPasswords(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
