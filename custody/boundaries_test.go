package custody_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/esxsink/esxsink/"

// goList runs `go list -f format pkg` from the module root.
func goList(t *testing.T, format, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", format, module+pkg)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestPackageBoundaries keeps DESIGN.md's "must not" column true: what
// each package may not know about, checked on what it links.
func TestPackageBoundaries(t *testing.T) {
	t.Parallel()
	// Packages that do no I/O import only these.
	pure := []string{"cmp", "encoding/csv", "encoding/json", "encoding/xml", "errors", "fmt", "io", "maps", "math", "path",
		"regexp", "slices", "sort", "strconv", "strings", "time", "unicode", "unicode/utf8"}
	for _, pkg := range []string{"custody", "esxi"} {
		for _, imp := range goList(t, "{{join .Imports \" \"}}", pkg) {
			if !slices.Contains(pure, imp) {
				t.Errorf("%s imports %s: it must not do I/O or know the rest of esxsink", pkg, imp)
			}
		}
	}
	forbidden := map[string][]string{
		"report":  {"orchestrator", "nfssink", "esxi", "golang.org/x/crypto/ssh", "github.com/pkg/sftp"},
		"hashlog": {"nfssink", "esxi", "orchestrator", "vmdk"},
		"nfssink": {"esxi", "orchestrator", "vmdk"},
		"vmdk":    {"nfssink", "orchestrator", "golang.org/x/crypto/ssh"},
		// The acquisition binary ships no simulator, no shell interpreter,
		// no vCenter simulator and no test NFS client (those are
		// esxsink-lab's).
		"cmd/esxsink": {"esxsim", "esxsim/vcenter", "internal/nfsclient", "mvdan.cc/sh/v3/interp", "mvdan.cc/sh/v3/syntax",
			"github.com/vmware/govmomi/simulator"},
		"esxi": {"orchestrator", "nfssink"},
		// The vSphere API side is a leaf the fleet collector builds on:
		// it knows nothing about NFS, the acquisition or the simulator.
		"vsphere": {"orchestrator", "nfssink", "esxsim", "report", "hashlog", "github.com/vmware/govmomi/simulator"},
	}
	for pkg, bad := range forbidden {
		deps := goList(t, "{{join .Deps \" \"}}", pkg)
		for _, b := range bad {
			full := b
			if !strings.Contains(b, ".") {
				full = module + b
			}
			if slices.Contains(deps, full) {
				t.Errorf("%s links %s, which DESIGN.md says it must not know", pkg, b)
			}
		}
	}
}

// TestSinkKnowsNoESXi: the sink's client rules come in as configuration
// (nfssink.Config.ScratchPrefixes, recorded in sink.started); the code of
// nfssink names no ESXi file.
func TestSinkKnowsNoESXi(t *testing.T) {
	t.Parallel()
	forbidInSources(t, "nfssink", `".lck-"`, "names ESXi's lock files: pass them in Config.ScratchPrefixes")
}

// TestOrchestratorReachesEvidenceThroughSink: the orchestrator reads and
// writes the evidence folder only through its Sink (the sink's os.Root
// and write-once policy, or a running serve's control API), so its code
// never names the folder.
func TestOrchestratorReachesEvidenceThroughSink(t *testing.T) {
	t.Parallel()
	forbidInSources(t, "orchestrator", "EvidenceDir", "names the evidence folder: go through the Sink")
}

// forbidInSources fails for each non-test Go file of pkg that contains
// text, saying why with what.
func forbidInSources(t *testing.T, pkg, text, what string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", pkg, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s sources: %v", pkg, err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), text) {
			t.Errorf("%s %s", f, what)
		}
	}
}
