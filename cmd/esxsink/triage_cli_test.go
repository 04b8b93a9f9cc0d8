package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTriageCLI runs `esxsink triage` against `esxsink lab`: the host's
// files land under host-artifacts/files, the command outputs are listed
// with their hashes, the case verifies and the host is left as found.
func TestTriageCLI(t *testing.T) {
	lab := startLab(t, "4MiB")
	caseDir := filepath.Join(t.TempDir(), "case")
	args := lab.collectArgs(caseDir, "--quiet")
	args[0] = "triage"
	out, errOut, code := lab.run(t, args...)
	if code != 0 {
		t.Fatalf("triage exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"host triage:", "esxcli-software-vib-list", "esxcli-system-settings-kernel-list-execInstalledOnly", "host-artifacts/files/etc/passwd", "link     /var/log/auth.log -> /var/run/log/auth.log"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("a file failed:\n%s", out)
	}
	for _, p := range []string{"etc/passwd", "etc/rc.local.d/local.sh", "var/spool/cron/crontabs/root", ".ash_history", "var/run/log/auth.log"} {
		if _, err := os.Stat(filepath.Join(caseDir, "evidence", "host-artifacts", "files", filepath.FromSlash(p))); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if o, c := esx(t, "", "verify", caseDir); c != 0 {
		t.Errorf("verify exit %d:\n%s", c, o)
	}
	lab.assertHostClean(t)
	// Without --host-artifacts or a VM, collect has nothing to do.
	if _, errOut, code := lab.run(t, lab.collectArgs(filepath.Join(t.TempDir(), "c2"))...); code != 2 || !strings.Contains(errOut, "--host-artifacts") {
		t.Errorf("collect with nothing chosen: exit %d, %s", code, errOut)
	}
}
