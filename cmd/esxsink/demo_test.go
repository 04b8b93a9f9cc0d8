package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoScript runs examples/demo.sh — what `make demo` runs — on a
// small scenario, so the README's first command stays true.
func TestDemoScript(t *testing.T) {
	dir := t.TempDir()
	scenario := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(scenario, []byte(fmt.Sprintf(cliLab, "8MiB")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "../../examples/demo.sh", esxsinkBin, labBin)
	cmd.Env = append(os.Environ(), "TMPDIR="+dir, "ESXSINK_DEMO_SCENARIO="+scenario,
		fmt.Sprintf("ESXSINK_DEMO_SSH_PORT=%d", freePort(t)), fmt.Sprintf("ESXSINK_DEMO_NFS_PORT=%d", freePort(t)),
		fmt.Sprintf("ESXSINK_DEMO_PORTMAP_PORT=%d", freePort(t)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"esxsink inventory", "dry run: nothing was changed on the host", "RESULT: PASS", "report.html"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	reports, _ := filepath.Glob(filepath.Join(dir, "esxsink-demo.*", "case", "report.html"))
	if len(reports) != 1 {
		t.Errorf("no report.html in the demo's case: %v", reports)
	}
}
