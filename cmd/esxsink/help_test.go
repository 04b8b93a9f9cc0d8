package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden --help files in testdata/help")

// TestHelpGolden keeps every command's --help as reviewed: a change shows
// up as a diff of testdata/help (go test -run TestHelpGolden -update to
// accept it). Each help has an example and marks what is required.
func TestHelpGolden(t *testing.T) {
	t.Parallel()
	cmds := []string{"", "serve", "status", "verify", "export", "vmdk", "inventory", "collect", "triage", "cleanup", "report", "version"}
	for _, cmd := range cmds {
		name := cmd
		if name == "" {
			name = "esxsink"
		}
		args := []string{"--help"}
		if cmd != "" {
			args = []string{cmd, "--help"}
		}
		out, code := esx(t, "", args...)
		if code != 0 {
			t.Errorf("%s --help: exit %d", name, code)
		}
		if cmd != "" && !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help has no example", name)
		}
		golden := filepath.Join("testdata", "help", name+".txt")
		if *updateGolden {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -run TestHelpGolden -update once)", err)
		}
		if out != string(want) {
			t.Errorf("%s --help changed; if that is intended, run go test ./cmd/esxsink -run TestHelpGolden -update\n--- got:\n%s", name, out)
		}
	}
	for _, cmd := range []string{"inventory", "collect", "triage", "cleanup"} {
		if out, _ := esx(t, "", cmd, "--help"); !strings.Contains(out, "(required unless --vcenter) ESXi host") || !strings.Contains(out, "(required unless --host) vCenter") {
			t.Errorf("%s --help does not say that --host or --vcenter is required", cmd)
		}
	}
}
