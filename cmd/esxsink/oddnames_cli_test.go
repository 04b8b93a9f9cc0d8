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

// A file whose host name is, letter for letter, the evidence name another
// file gets once its name is made storable (a:b.vmdk becomes
// a_b~<tag>.vmdk) keeps that path as its own; the other file is not
// collected, and nothing about it is silent: collect exits 1 naming both
// host paths, the custody log holds evidence.not_collected with both,
// verify exits 3 (incomplete) and the report says NOT COLLECTED for it.
func TestCollectCLINameClashNotCollected(t *testing.T) {
	tagged := orchestrator.EvidenceName("a:b.vmdk")
	lab := startLabScenario(t, `
host: {hostname: esx-clash, version: 8.0.2, build: "22380479", user: root, password: "Clash-Lab-1!"}
datastores:
  - {name: datastore1, type: VMFS-6}
vms:
  - id: 6
    name: clash
    memory_mb: 16
    disks:
      - {name: "a:b.vmdk", size: 1MiB}
      - {name: "`+tagged+`", size: 1MiB}
`)
	caseDir := filepath.Join(t.TempDir(), "case")
	const dir = "/vmfs/volumes/datastore1/clash/"
	out, errOut, code := lab.run(t, lab.collectArgs(caseDir, "--vm", "6")...)
	if code != 1 || !strings.Contains(errOut, dir+"a:b.vmdk") || !strings.Contains(errOut, dir+tagged) {
		t.Fatalf("collect: exit %d, want 1 naming both host paths\n%s%s", code, out, errOut)
	}
	log, err := os.ReadFile(filepath.Join(caseDir, "custody.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var records int
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, `"type":"evidence.not_collected"`) && strings.Contains(l, dir+"a:b.vmdk") && strings.Contains(l, dir+tagged) {
			records++
		}
	}
	if records != 1 {
		t.Errorf("%d evidence.not_collected records name both host paths", records)
	}
	if _, err := os.Stat(filepath.Join(caseDir, "evidence", "datastore1", "clash", tagged)); err != nil {
		t.Errorf("the file named %s is not under its own name: %v", tagged, err)
	}
	out, code = esx(t, "", "verify", caseDir)
	if code != 3 || !strings.Contains(out, dir+tagged) {
		t.Errorf("verify: exit %d, want 3 naming the clash\n%s", code, out)
	}
	out, code = esx(t, "", "report", caseDir)
	if code != 0 || strings.Contains(out, "RESULT: PASS") {
		t.Errorf("report: exit %d\n%s", code, out)
	}
	md, err := os.ReadFile(filepath.Join(caseDir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "a:b.vmdk") || !strings.Contains(string(md), tagged) {
		t.Errorf("the report does not name the file not collected and why:\n%s", md)
	}
}
