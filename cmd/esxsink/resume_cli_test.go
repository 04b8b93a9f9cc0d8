package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/orchestrator"
)

// resumeLab has one powered-off VM whose 64 MiB disk reads at 8 MiB/s:
// several stoppable runs of dd (esxi.StopChunk), so a collect can be
// interrupted in the middle of it.
const resumeLab = `
host:
  hostname: esx-resume
  version: 8.0.2
  build: "22380479"
  user: root
  password: "Resume-Lab-1!"
datastores:
  - name: datastore1
    type: VMFS-6
vms:
  - id: 7
    name: File server
    guest_os: windows2019srvNext_64Guest
    power: "off"
    memory_mb: 16
    logs: 1
    disks:
      - {size: 64MiB, kind: thick}
faults:
  - kind: slow_io
    path: "/vmfs/volumes/datastore1/File server/File server-flat.vmdk"
    rate: 8MiB
`

const resumeFlat = "datastore1/File server/File server-flat.vmdk"

// The whole resume story with the real binary: esxsink collect is
// interrupted (SIGINT) in the middle of a disk larger than one stoppable
// run, then run again with --resume. The evidence folder holds the disk
// under its own name, whole; the cut copy is kept in superseded/<run>/
// and listed as superseded; the collected descriptor converts to the
// bytes the host hashed; esxsink verify exits 0 and the report says
// RESULT: PASS.
func TestCollectCLIInterruptThenResume(t *testing.T) {
	lab := startLabScenario(t, resumeLab)
	caseDir := filepath.Join(t.TempDir(), "case")
	args := lab.collectArgs(caseDir, "--vm", "7", "--json-events")
	cmd, sc, errOut := startCollectEvents(t, lab, args)
	var cutAt int64
	for sc.Scan() {
		var ev orchestrator.JSONEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Progress == nil || cutAt > 0 {
			continue
		}
		// Interrupt once the sink holds more than one stoppable run of
		// the disk, and not all of it: what the sink received, not a
		// guess at the time it takes.
		for _, f := range ev.Progress.Files {
			if f.Dest == resumeFlat && f.Received > esxi.StopChunk && f.Received < f.Size {
				cutAt = f.Received
				if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	err := cmd.Wait()
	if cutAt == 0 {
		t.Fatalf("never saw the disk in the middle of its copy: %v\n%s", err, errOut.String())
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("collect after SIGINT: %v (want a non-zero exit)\n%s", err, errOut.String())
	}
	ev := filepath.Join(caseDir, "evidence")
	if st, err := os.Stat(filepath.Join(ev, filepath.FromSlash(resumeFlat))); err != nil || st.Size() >= 64<<20 {
		t.Fatalf("after the interrupt the disk's copy is %v (%v), want a partial copy", st, err)
	}
	if out, code := esx(t, "", "verify", caseDir); code != 3 {
		t.Errorf("verify of the interrupted case: exit %d, want 3\n%s", code, out)
	}

	out, errText, code := lab.run(t, append(args[:len(args)-1:len(args)-1], "--resume")...)
	if code != 0 {
		t.Fatalf("collect --resume: exit %d\n%s\n%s", code, out, errText)
	}
	lab.assertHostClean(t)

	// The disk under its own name, whole; the cut copy kept aside.
	st, err := os.Stat(filepath.Join(ev, filepath.FromSlash(resumeFlat)))
	if err != nil || st.Size() != 64<<20 {
		t.Fatalf("the disk in the evidence folder: %v (%v), want 64 MiB under its own name", st, err)
	}
	kept, _ := filepath.Glob(filepath.Join(ev, "superseded", "*", filepath.FromSlash(resumeFlat)))
	if len(kept) != 1 {
		t.Fatalf("superseded copies of the disk: %q, want the cut one", kept)
	}
	if st, err := os.Stat(kept[0]); err != nil || st.Size() < cutAt || st.Size() >= 64<<20 {
		t.Errorf("the kept partial copy: %v (%v), want at least the %d bytes seen before the interrupt", st, err, cutAt)
	}
	if out, code := esx(t, "", "verify", caseDir); code != 0 {
		t.Errorf("verify after --resume: exit %d, want 0\n%s", code, out)
	}
	out, code = esx(t, "", "report", caseDir)
	if code != 0 || !strings.Contains(out, "RESULT: PASS") {
		t.Errorf("report after --resume: exit %d\n%s", code, out)
	}
	// The report lists the cut copy as superseded, at its new path, and
	// the disk as verified.
	var rep struct {
		VMs []struct {
			Files []struct {
				Path    string `json:"path"`
				Verdict string `json:"verdict"`
			} `json:"files"`
		} `json:"vms"`
	}
	b, err := os.ReadFile(filepath.Join(caseDir, "report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("report.json: %v", err)
	}
	verdicts := map[string]string{}
	for _, vm := range rep.VMs {
		for _, f := range vm.Files {
			verdicts[f.Path] = f.Verdict
		}
	}
	rel, _ := filepath.Rel(ev, kept[0])
	if v := verdicts[filepath.ToSlash(rel)]; v != "superseded" {
		t.Errorf("report lists %s as %q, want superseded (%v)", rel, v, verdicts)
	}
	if v := verdicts[resumeFlat]; v != "verified" {
		t.Errorf("report lists %s as %q, want verified", resumeFlat, v)
	}
	// The collected descriptor converts, with no flags, to the bytes the
	// host hashed while it copied the disk.
	var hostMD5 string
	log, err := os.ReadFile(filepath.Join(caseDir, "custody.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, `"type":"file.verified"`) && strings.Contains(l, `"dest":"`+resumeFlat+`"`) {
			if m := regexp.MustCompile(`"host_hashes":\{[^}]*"md5":"([0-9a-f]{32})"`).FindStringSubmatch(l); m != nil {
				hostMD5 = m[1]
			}
		}
	}
	if hostMD5 == "" {
		t.Fatal("no host md5 of the disk in the custody log")
	}
	raw := filepath.Join(t.TempDir(), "disk.raw")
	out, code = esx(t, "", "vmdk", "convert", filepath.Join(ev, "datastore1", "File server", "File server.vmdk"), raw)
	if code != 0 || !strings.Contains(out, hostMD5) {
		t.Errorf("vmdk convert of the collected descriptor: exit %d, want md5 %s\n%s", code, hostMD5, out)
	}
}
