package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/report"
)

// TestTriageCLI runs `esxsink triage` against `esxsink-lab`: the host's
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

// TestCollectHostArtifactsReport: collect --host-artifacts in the same run
// as a VM; every host file and command output is hashed and recorded, and
// the acquisition report lists them.
func TestCollectHostArtifactsReport(t *testing.T) {
	lab := startLab(t, "4MiB")
	caseDir := filepath.Join(t.TempDir(), "case")
	if out, errOut, code := lab.run(t, lab.collectArgs(caseDir, "--vm", "Unused server", "--host-artifacts", "--quiet")...); code != 0 {
		t.Fatalf("collect exit %d\n%s\n%s", code, out, errOut)
	}
	if o, c := esx(t, "", "verify", caseDir); c != 0 {
		t.Fatalf("verify exit %d:\n%s", c, o)
	}
	if o, c := esx(t, "", "report", caseDir); c != 0 {
		t.Fatalf("report exit %d:\n%s", c, o)
	}
	b, err := os.ReadFile(filepath.Join(caseDir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, a := range rep.Artifacts.Outputs {
		if a.NotRun {
			continue
		}
		ran++
		kept, err := os.ReadFile(filepath.Join(caseDir, filepath.FromSlash(a.Output)))
		sum := sha256.Sum256(kept)
		if err != nil || a.Hashes["sha256"] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: output %s (%v) does not hash to %s", a.Name, a.Output, err, a.Hashes["sha256"])
		}
	}
	files := map[string]bool{}
	for _, f := range rep.Artifacts.Files {
		files[f.Path] = f.Verdict == report.Verified
	}
	if ran < 20 || !files["host-artifacts/files/etc/passwd"] || !files["host-artifacts/files/etc/rc.local.d/local.sh"] {
		t.Errorf("report lists %d outputs run and files %v", ran, files)
	}
	html, _ := os.ReadFile(filepath.Join(caseDir, "report.html"))
	for _, want := range []string{"esxcli-software-vib-list", "host-artifacts/files/etc/passwd", "Unused server-flat.vmdk"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}
