package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/orchestrator"
)

// oddNamesLab is the trainers' scenario of VMs with odd names.
func oddNamesLab(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/lab/odd-names.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// collect --all collects every registered vmid, whatever its name holds.
func TestCollectCLIOddNamesAll(t *testing.T) {
	lab := startLabScenario(t, oddNamesLab(t))
	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code := lab.run(t, lab.collectArgs(caseDir, "--all", "--json-events")...)
	if code != 0 {
		t.Fatalf("collect --all exit %d\nstderr:\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last orchestrator.JSONEvent
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Report == nil || !last.Report.OK() {
		t.Fatalf("last event %q: %v", lines[len(lines)-1], err)
	}
	verified := map[int]int{}
	for _, f := range last.Report.Files {
		if f.Verified {
			verified[f.Item.VMID]++
		}
	}
	for _, id := range []int{3, 5, 8, 12, 14, 21, 116} {
		if verified[id] == 0 {
			t.Errorf("vmid %d: no verified file", id)
		}
	}
	lab.assertHostClean(t)
}

// planVMIDs runs collect --dry-run --json with args and returns the vmids
// of the plan, or the exit status and stderr.
func planVMIDs(t *testing.T, lab *runningLab, args ...string) (map[int]bool, int, string) {
	t.Helper()
	out, errOut, code := lab.run(t, lab.collectArgs(filepath.Join(t.TempDir(), "case"), append(args, "--dry-run", "--json")...)...)
	if code != 0 {
		return nil, code, errOut
	}
	var p orchestrator.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	ids := map[int]bool{}
	for _, it := range p.Items {
		ids[it.VMID] = true
	}
	return ids, code, errOut
}

// --vm takes a vmid first and a name exactly as the host stores it.
func TestCollectCLIVMByVMIDAndSpacedName(t *testing.T) {
	lab := startLabScenario(t, oddNamesLab(t))
	for _, tc := range []struct {
		vm   string
		want int
	}{
		{"3", 3}, // a vmid, though VM 21 is named "3"
		{"  lead and trail  ", 3},
		{"116", 116},
		{"Finance\nDB (prod)", 5},
		{"Finance, DB", 0}, // kept whole: no VM has that name
		{"lead and trail", 0},
	} {
		ids, code, errOut := planVMIDs(t, lab, "--vm", tc.vm)
		switch {
		case tc.want == 0 && (code != 2 || !strings.Contains(errOut, "vmid 3")):
			t.Errorf("--vm %q: exit %d, want 2 listing vmid 3:\n%s", tc.vm, code, errOut)
		case tc.want != 0 && (code != 0 || len(ids) != 1 || !ids[tc.want]):
			t.Errorf("--vm %q: exit %d, vmids %v, want only %d\n%s", tc.vm, code, ids, tc.want, errOut)
		}
	}
}

// A registered VM vim-cmd skips as invalid is found but not collected:
// collect --all says so and exits 1.
func TestCollectCLIAllWithSkippedVM(t *testing.T) {
	lab := startLabScenario(t, `
host: {hostname: esx-skipped, version: 8.0.2, build: "22380479", user: root, password: "Skipped-1!"}
datastores: [{name: datastore1, type: VMFS-6}]
vms:
  - {id: 1, name: web, disks: [{size: 1MiB}]}
recorded:
  - command: vim-cmd vmsvc/getallvms
    stdout: |
      Skipping invalid VM '40'
      Vmid   Name   File                        Guest OS       Version
      1      web    [datastore1] web/web.vmx    otherGuest64   vmx-19
`)
	ids, code, errOut := planVMIDs(t, lab, "--all")
	if code != 1 || !strings.Contains(errOut, "vmid 40") || !strings.Contains(errOut, "not collected") {
		t.Errorf("collect --all --dry-run: exit %d, vmids %v, want 1 naming vmid 40:\n%s", code, ids, errOut)
	}
}
