package orchestrator

import (
	"path/filepath"
	"testing"
)

// TestCaseRelative: kept outputs are named from the case folder, for a
// single host's folder and for a fleet host's own.
func TestCaseRelative(t *testing.T) {
	for in, want := range map[string]string{
		filepath.Join("cases", "c1", "host-commands"):          "host-commands",
		filepath.Join("cases", "c1", "host-commands", "esx01"): "host-commands/esx01",
		filepath.Join("host-commands", "c1", "host-commands"):  "host-commands",
		filepath.Join("tmp", "out"):                            "out",
	} {
		if got := caseRelative(in); got != want {
			t.Errorf("caseRelative(%q) = %q, want %q", in, got, want)
		}
	}
}
