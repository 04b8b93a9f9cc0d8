package report

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/orchestrator"
)

const (
	md5A    = "0cc175b9c0f1b6a831c399e269772661"
	md5B    = "92eb5ffee6ae2fec3ad71c777531578f"
	md5Bbad = "4a8a08f09d37b73795649038408b5f33"
	md5C    = "8277e0910d750195b448797616e091ad"
	shaA    = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
	host    = "10.1.2.3:22"
	run     = "r1"
)

// caseLog is a custody log a test writes through hashlog's API, or with
// a fixed clock (newFixedCase) where the output must be byte for byte
// the same every run.
type caseLog struct {
	t   *testing.T
	dir string
	l   *hashlog.Log
	// app appends a record: l.Append, or the fixed clock's writer.
	app func(typ string, data any) (custody.Record, error)
}

func newCase(t *testing.T) *caseLog {
	t.Helper()
	dir := t.TempDir()
	l, err := hashlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &caseLog{t: t, dir: dir, l: l, app: l.Append}
}

func (c *caseLog) add(typ string, data any) custody.Record {
	c.t.Helper()
	r, err := c.app(typ, data)
	if err != nil {
		c.t.Fatalf("append %s: %v", typ, err)
	}
	return r
}

func (c *caseLog) step(typ string, s custody.Step) custody.Record {
	s.Host, s.RunID = host, run
	return c.add(typ, s)
}

func (c *caseLog) finalized(path string, size int64, md5, sha string, anomalies ...string) {
	h := map[string]string{"md5": md5, "sha256": sha}
	c.add(custody.TypeFileFinalized, custody.FileFinalized{Path: path, Size: size, Hashes: h, AtRest: h, Reason: "api", Anomalies: anomalies})
}

func (c *caseLog) load() *Report {
	c.t.Helper()
	r, err := Load(c.dir)
	if err != nil {
		c.t.Fatalf("Load: %v", err)
	}
	return r
}

// acquisition writes what one collect of a running VM writes: identity,
// two commands, a snapshot taken and removed, a live-copied log with a
// bad sector, a disk whose copy mismatched, a file received by hand, a
// refusal and an anomaly from the sink, a triage output, a host artifact.
func acquisition(t *testing.T) *caseLog {
	return acquisitionIn(newCase(t))
}

func acquisitionIn(c *caseLog) *caseLog {
	c.add(custody.TypeCaseOpened, custody.CaseOpened{CaseID: "C-7", Examiner: "R. Roe", ToolVersion: "esxsink 1.2", SinkHost: "ws1", OS: "linux/amd64", UTCOffset: "+09:00"})
	c.add(custody.TypeHostIdentified, custody.HostIdentified{Address: host, User: "root", HostKey: "SHA256:abc", HostKeyType: "ssh-ed25519",
		Hostname: "esx01.example", Product: "VMware ESXi", Version: "8.0.2", Build: 22380479, Update: 2, Patch: -1})
	c.add(custody.TypeCommandRun, custody.CommandRun{Seq: 1, Host: host, Command: "vmware -vl", Started: "2026-01-02T03:04:05.5Z", DurationSec: 0.01})
	c.add(custody.TypeCommandRun, custody.CommandRun{Seq: 2, Host: host, Command: "ls '/vmfs/volumes/x y'", ExitStatus: 1, Started: "2026-01-02T03:04:06Z"})
	c.step(custody.TypeAcquisitionStarted, custody.Step{Label: "esxsink-r1", Files: 3, Size: 300, HostHashAlgorithms: []string{"md5"}})
	c.step(custody.TypeNASMounted, custody.Step{Label: "esxsink-r1", Note: "10.1.2.9:/esxsink"})
	c.step(custody.TypeFileSkipped, custody.Step{VMID: 4, VM: "web|01", Source: "/vmfs/volumes/ds/web/web.vswp", Size: 9, Note: "swap file held open by the running VM"})
	c.step(custody.TypeSnapshotCreated, custody.Step{VMID: 4, VM: "web|01", Snapshot: "esxsink-r1-vm4", SnapID: 7})
	c.finalized("web/vmware.log", 100, md5A, shaA)
	c.step(custody.TypeFileVerified, custody.Step{VMID: 4, VM: "web|01", Source: "/vmfs/volumes/ds/web/vmware.log", Dest: "web/vmware.log", Size: 100,
		HostHashes: map[string]string{"md5": md5A}, SinkHashes: map[string]string{"md5": md5A, "sha256": shaA}, AtRest: map[string]string{"md5": md5A, "sha256": shaA},
		Kind: orchestrator.KindLog, Method: orchestrator.MethodCopy, Live: true, ReadErrors: []string{"dd: error reading at 512: Input/output error"}, Attempt: 1})
	c.finalized("web/web-flat.vmdk", 200, md5Bbad, "", "rewrite of hashed range")
	c.step(custody.TypeFileFailed, custody.Step{VMID: 4, VM: "web|01", Source: "/vmfs/volumes/ds/web/web-flat.vmdk", Dest: "web/web-flat.vmdk", Size: 200,
		HostHashes: map[string]string{"md5": md5B}, SinkHashes: map[string]string{"md5": md5Bbad}, AtRest: map[string]string{"md5": md5Bbad},
		Error: "mismatch: md5 host " + md5B + " sink " + md5Bbad, Kind: orchestrator.KindExtent, Method: orchestrator.MethodSnapshot, Attempt: 3})
	c.step(custody.TypeSnapshotRemoved, custody.Step{VMID: 4, VM: "web|01", Snapshot: "esxsink-r1-vm4", SnapID: 7})
	c.finalized("manual/notes.txt", 3, md5C, "")
	c.add(custody.TypePolicyRefused, custody.PolicyRefused{Client: "10.1.2.3", Procedure: "REMOVE", Path: "web", Name: "vmware.log", Reason: "evidence is write-once"})
	c.add(custody.TypeWriteAnomaly, custody.WriteAnomaly{Path: "web/web-flat.vmdk", Offset: 4096, Length: 512, Kind: "rewrite"})
	c.add(custody.TypeTriageOutput, map[string]any{"name": "shell.log", "command": "cat /var/log/shell.log", "exit_status": 0, "ran": true, "stdout_file": "host-artifacts/shell.log.txt", "stdout_sha256": shaA})
	c.add(custody.TypeTriageOutput, map[string]any{"name": "lsof", "command": "lsof", "exit_status": -1, "ran": false, "note": "the host has no lsof"})
	c.finalized("host-artifacts/hosts", 100, md5A, shaA)
	c.step(custody.TypeFileVerified, custody.Step{Source: "/etc/hosts", Dest: "host-artifacts/hosts", Size: 100, HostHashes: map[string]string{"md5": md5A},
		SinkHashes: map[string]string{"md5": md5A}, AtRest: map[string]string{"md5": md5A}})
	c.step(custody.TypeNASUnmounted, custody.Step{Label: "esxsink-r1"})
	c.step(custody.TypeAcquisitionFinished, custody.Step{Label: "esxsink-r1", Files: 3, Failed: 1})
	return c
}

func findFile(t *testing.T, r *Report, path string) File {
	t.Helper()
	for _, vm := range r.VMs {
		for _, f := range vm.Files {
			if f.Path == path {
				return f
			}
		}
	}
	for _, f := range r.Artifacts.Files {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("%s is not in the report", path)
	return File{}
}

func TestLoadAcquisition(t *testing.T) {
	t.Parallel()
	c := acquisition(t)
	r := c.load()

	if r.Case.ID != "C-7" || r.Case.Examiner != "R. Roe" || r.Case.UTCOffset != "+09:00" {
		t.Errorf("case = %+v", r.Case)
	}
	if len(r.Hosts) != 1 || !r.Hosts[0].Recorded || r.Hosts[0].HostKey != "SHA256:abc" || r.Hosts[0].Build != 22380479 || r.Hosts[0].Hostname != "esx01.example" {
		t.Errorf("hosts = %+v", r.Hosts)
	}
	if len(r.Runs) != 1 || r.Runs[0].Mounted.IsZero() || r.Runs[0].Unmounted.IsZero() || r.Runs[0].Failed != 1 || r.Runs[0].Share != "10.1.2.9:/esxsink" ||
		len(r.Runs[0].HostHashes) != 1 || r.Runs[0].HostHashes[0] != "md5" {
		t.Errorf("runs = %+v", r.Runs)
	}

	log := findFile(t, r, "web/vmware.log")
	if log.Verdict != Verified || !log.Live || len(log.ReadErrors) != 1 || log.Kind != orchestrator.KindLog || log.VM != "web|01" {
		t.Errorf("live log = %+v", log)
	}
	disk := findFile(t, r, "web/web-flat.vmdk")
	if disk.Verdict != Mismatch || !strings.Contains(disk.Reason, md5B) || len(disk.Anomalies) != 1 || disk.Attempts != 3 {
		t.Errorf("mismatched disk = %+v", disk)
	}
	manual := findFile(t, r, "manual/notes.txt")
	if manual.Verdict != Received || manual.Arrival["md5"] != md5C || manual.VM != "" {
		t.Errorf("file received by hand = %+v", manual)
	}
	if len(r.Artifacts.Files) != 1 || r.Artifacts.Files[0].Path != "host-artifacts/hosts" {
		t.Errorf("host artifact files = %+v", r.Artifacts.Files)
	}
	if len(r.Artifacts.Outputs) != 2 || r.Artifacts.Outputs[0].Output != "host-artifacts/shell.log.txt" || r.Artifacts.Outputs[0].Hashes["sha256"] != shaA ||
		r.Artifacts.Outputs[0].ExitStatus == nil || *r.Artifacts.Outputs[0].ExitStatus != 0 || !r.Artifacts.Outputs[1].NotRun || r.Artifacts.Outputs[1].Note == "" {
		t.Errorf("triage outputs = %+v", r.Artifacts.Outputs)
	}
	if len(r.Snapshots) != 1 || r.Snapshots[0].ID != 7 || r.Snapshots[0].Created.IsZero() || r.Snapshots[0].Removed.IsZero() {
		t.Errorf("snapshots = %+v", r.Snapshots)
	}
	if len(r.Skipped) != 1 || r.Skipped[0].Why == "" {
		t.Errorf("skipped = %+v", r.Skipped)
	}
	if len(r.Commands) != 2 || r.Commands[0].Status != "ok" || r.Commands[1].Status != "exit 1" || r.Commands[1].Command != "ls '/vmfs/volumes/x y'" || r.Commands[0].Started.Nanosecond() != 5e8 {
		t.Errorf("commands = %+v", r.Commands)
	}
	kinds := map[string]int{}
	for _, e := range r.Anomalies {
		kinds[e.Kind]++
	}
	// Refusal: REMOVE; anomalies: the finalized record's and write.anomaly;
	// failure: file.failed.
	if kinds[KindRefusal] != 1 || kinds[KindAnomaly] != 2 || kinds[KindFailure] != 1 {
		t.Errorf("anomalies by kind = %v: %+v", kinds, r.Anomalies)
	}
	s := r.Summary
	if s.Files != 4 || s.Verified != 2 || s.Mismatch != 1 || s.Received != 1 || s.OK || !strings.Contains(s.Statement, "web/web-flat.vmdk") {
		t.Errorf("summary = %+v", s)
	}
	if !r.Log.ChainOK || r.Log.HeadSeq != int64(r.Log.Records) || len(r.Log.Head) != 64 || len(r.Verifies) != 0 {
		t.Errorf("log = %+v, verifies %d", r.Log, len(r.Verifies))
	}
	_, head := c.l.Head()
	if r.Log.Head != head {
		t.Errorf("report head %s, log head %s", r.Log.Head, head)
	}
}

// TestLoadLaterVerify: a verification after the acquisition overrules the
// verdict of acquisition time for the file it found changed, and only
// for it; a still later passing verification restores it.
func TestLoadLaterVerify(t *testing.T) {
	t.Parallel()
	c := acquisition(t)
	before := c.load()
	c.add(custody.TypeCaseVerified, custody.CaseVerified{OK: false, HeadSeq: before.Log.HeadSeq, Head: before.Log.Head, Files: 4, Verified: 3,
		FailedFiles: []custody.FileCheck{{Path: "web/vmware.log", Verdict: custody.RestMismatch}},
		Failures: []custody.Finding{{Severity: custody.Failure, File: "web/vmware.log", Line: 9, What: "content changed: md5 logged x, at rest y",
			Piece: &custody.PieceRange{First: 0, Last: 0, Start: 0, End: 99}}}})
	r := c.load()
	log := findFile(t, r, "web/vmware.log")
	if log.Verdict != NotVerified || !strings.Contains(log.Reason, "MISMATCH") || !strings.Contains(log.Reason, "piece 0") || log.CheckedAt.IsZero() {
		t.Fatalf("changed file after a failing verify = %+v", log)
	}
	if f := findFile(t, r, "manual/notes.txt"); f.Verdict != Received || f.CheckedAt.IsZero() {
		t.Errorf("untouched file after a failing verify = %+v", f)
	}
	if r.Summary.NotVerified != 1 || r.Summary.OK || !strings.Contains(r.Summary.Statement, "NOT VERIFIED") {
		t.Errorf("summary = %+v", r.Summary)
	}
	if len(r.Verifies) != 1 || r.Verifies[0].After != 0 || r.Verifies[0].HeadSeq != before.Log.HeadSeq {
		t.Errorf("verifies = %+v", r.Verifies)
	}

	c.add(custody.TypeCaseVerified, custody.CaseVerified{OK: true, Files: 4, Verified: 4})
	c.add(custody.TypeNote, custody.Note{Text: "examiner signed off"})
	r = c.load()
	if f := findFile(t, r, "web/vmware.log"); f.Verdict != Verified {
		t.Errorf("file after a later passing verify = %+v", f)
	}
	if len(r.Verifies) != 2 || r.Verifies[0].After != 2 || r.Verifies[1].After != 1 {
		t.Errorf("records after each verify = %+v", r.Verifies)
	}
}

// TestLoadPassingCase: a clean acquisition verified afterwards reads PASS.
func TestLoadPassingCase(t *testing.T) {
	t.Parallel()
	c := newCase(t)
	c.add(custody.TypeCaseOpened, custody.CaseOpened{CaseID: "C-8", Examiner: "E", ToolVersion: "t", SinkHost: "ws", OS: "linux/amd64"})
	c.finalized("vm/a.vmx", 1, md5A, shaA)
	c.step(custody.TypeFileVerified, custody.Step{VM: "vm", VMID: 1, Source: "/vmfs/volumes/ds/vm/a.vmx", Dest: "vm/a.vmx", Size: 1,
		HostHashes: map[string]string{"md5": md5A, "sha256": shaA}, SinkHashes: map[string]string{"md5": md5A, "sha256": shaA}, AtRest: map[string]string{"md5": md5A, "sha256": shaA}})
	// The mount check: a line the tool wrote and compared, then noted.
	c.add(custody.TypeFileFinalized, custody.FileFinalized{Path: "esxsink-mount-check-r1.txt", Size: 40, Hashes: map[string]string{"md5": md5C}, Reason: "mount check"})
	c.step(custody.TypeAcquisitionNote, custody.Step{Dest: "esxsink-mount-check-r1.txt", Note: "the host wrote a check line onto the mount and the sink received it intact"})
	// A disk with a bad sector: the first copy, then the re-read one.
	c.finalized("vm/disk-flat.vmdk", 2048, md5B, "")
	c.finalized("vm/disk-flat.vmdk.attempt2", 2048, md5A, "")
	ioErr := "dd: /vmfs/volumes/ds/vm/disk-flat.vmdk: Input/output error"
	c.step(custody.TypeFileVerified, custody.Step{VM: "vm", VMID: 1, Source: "/vmfs/volumes/ds/vm/disk-flat.vmdk", Dest: "vm/disk-flat.vmdk.attempt2",
		Size: 2048, HostHashes: map[string]string{"md5": md5A}, SinkHashes: map[string]string{"md5": md5A}, AtRest: map[string]string{"md5": md5A}, Attempt: 2,
		ReadErrors: []string{ioErr, ioErr}, BadSectors: []custody.SectorRange{{First: 2, Count: 1}}})
	c.add(custody.TypeCaseVerified, custody.CaseVerified{OK: true, Files: 4, Verified: 4})
	r := c.load()
	// The mount check is a check, not evidence; the replaced first copy
	// is superseded, not counted as evidence either.
	if !r.Summary.OK || r.Summary.Files != 2 || r.Summary.Verified != 2 || r.Summary.Superseded != 1 || r.Summary.Received != 0 || !strings.Contains(r.Summary.Statement, "passed") {
		t.Fatalf("summary = %+v", r.Summary)
	}
	first := findFile(t, r, "vm/disk-flat.vmdk")
	if first.Verdict != Superseded || first.VM != "vm" || first.Source != "/vmfs/volumes/ds/vm/disk-flat.vmdk" || !strings.Contains(first.Reason, "vm/disk-flat.vmdk.attempt2") {
		t.Errorf("replaced first copy = %+v", first)
	}
	if fs := r.VMs[0].Files; len(fs) != 3 || fs[1].Path != "vm/disk-flat.vmdk" || fs[2].Path != "vm/disk-flat.vmdk.attempt2" {
		t.Errorf("the first copy is not listed just before its replacement: %+v", fs)
	}
	second := findFile(t, r, "vm/disk-flat.vmdk.attempt2")
	if second.Verdict != Verified || len(second.BadSectors) != 1 || second.BadSectors[0].String() != "sectors 2-2 (bytes 1024-1535)" ||
		len(second.ReadErrors) != 1 || !strings.HasSuffix(second.ReadErrors[0], "(2 times)") {
		t.Errorf("re-read copy = %+v", second)
	}
	check := findFile(t, r, "esxsink-mount-check-r1.txt")
	if check.Kind != KindCheck || check.Verdict != Verified || check.Size != 40 || sinkMD5(check) != md5C {
		t.Errorf("mount check file = %+v", check)
	}
	if len(r.VMs) != 2 || !strings.Contains(r.VMs[1].Title, "Check files") || !strings.Contains(r.VMs[0].Title, `VM "vm" (vmid 1)`) {
		t.Errorf("groups = %+v", r.VMs)
	}
	// No recorded identity: the host is named by address only.
	if len(r.Hosts) != 1 || r.Hosts[0].Recorded || r.Hosts[0].Address != host {
		t.Errorf("hosts = %+v", r.Hosts)
	}
}

// TestLoadDistrustsRecords: a file.verified whose hashes disagree is a
// mismatch, and a snapshot never removed makes the case need attention.
func TestLoadDistrustsRecords(t *testing.T) {
	t.Parallel()
	c := newCase(t)
	c.add(custody.TypeCaseOpened, custody.CaseOpened{CaseID: "C-9", Examiner: "E"})
	c.step(custody.TypeSnapshotCreated, custody.Step{VMID: 2, VM: "db", Snapshot: "esxsink-r1-vm2", SnapID: 3})
	c.step(custody.TypeFileVerified, custody.Step{VM: "db", VMID: 2, Dest: "db/db.vmx", Size: 1,
		HostHashes: map[string]string{"md5": md5A}, SinkHashes: map[string]string{"md5": md5B}, AtRest: map[string]string{"md5": md5B}})
	c.step(custody.TypeCleanupFailed, custody.Step{Error: `remove our snapshot "esxsink-r1-vm2" (id 3): host said no`})
	r := c.load()
	if f := findFile(t, r, "db/db.vmx"); f.Verdict != Mismatch || !strings.Contains(f.Reason, md5A) || !strings.Contains(f.Reason, md5B) {
		t.Errorf("self-contradicting record = %+v", f)
	}
	if len(r.Snapshots) != 1 || !r.Snapshots[0].Removed.IsZero() || !strings.Contains(r.Snapshots[0].CleanupError, "host said no") {
		t.Errorf("snapshots = %+v", r.Snapshots)
	}
	if r.Summary.OK || !strings.Contains(r.Summary.Statement, "not recorded as removed") {
		t.Errorf("summary = %+v", r.Summary)
	}
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil || !strings.Contains(page.String(), "NOT REMOVED") {
		t.Errorf("the page does not flag the snapshot left behind (%v)", err)
	}
}

// TestLoadDamagedLog: an edited line still loads, and the report says
// the chain is broken and where.
func TestLoadDamagedLog(t *testing.T) {
	t.Parallel()
	c := acquisition(t)
	c.l.Close()
	b, err := os.ReadFile(hashlog.LogPath(c.dir))
	if err != nil {
		t.Fatal(err)
	}
	b2 := strings.Replace(string(b), `"examiner":"R. Roe"`, `"examiner":"Someone Else"`, 1)
	if b2 == string(b) {
		t.Fatal("test log lacks the examiner")
	}
	if err := os.WriteFile(hashlog.LogPath(c.dir), []byte(b2), 0o644); err != nil {
		t.Fatal(err)
	}
	r := c.load()
	if r.Log.ChainOK || r.Summary.OK || !strings.Contains(r.Summary.Statement, "chain is broken") {
		t.Fatalf("damaged log: chain ok %v, summary %+v", r.Log.ChainOK, r.Summary)
	}
	found := false
	for _, e := range r.Anomalies {
		if e.Kind == KindFailure && e.Line == 1 && strings.Contains(e.Text, "altered") {
			found = true
		}
	}
	if !found {
		t.Errorf("no failure naming line 1: %+v", r.Anomalies)
	}
}

func TestLoadNotACase(t *testing.T) {
	t.Parallel()
	if _, err := Load(t.TempDir()); !errors.Is(err, hashlog.ErrNotCase) {
		t.Fatalf("Load of an empty folder: %v, want ErrNotCase", err)
	}
}

// TestLoadKept: vCenter-side evidence kept by esxsink is its own group,
// whose title says what its verdict rests on (no host-side hash); a part
// not collected is listed as such.
func TestLoadKept(t *testing.T) {
	c := newCase(t)
	c.add(custody.TypeCaseOpened, custody.CaseOpened{CaseID: "K", Examiner: "E", ToolVersion: "t"})
	if _, err := hashlog.Keep(c.l, c.dir, []byte("{}\n"), custody.Kept{Path: "vcenter/r1/events.json", Source: "vc:443", Name: "events", What: "EventManager"}); err != nil {
		t.Fatal(err)
	}
	c.add(custody.TypeNotCollected, custody.Uncollected{Host: "vc:443", What: "vCenter evidence", Name: "access", Path: "vcenter/r1/access.json", Why: "lacks privilege System.View", Missed: true})
	r := c.load()
	f := findFile(t, r, "vcenter/r1/events.json")
	if f.Verdict != custody.Verified {
		t.Errorf("kept file: %+v", f)
	}
	i := slices.IndexFunc(r.VMs, func(vm VM) bool { return len(vm.Files) > 0 && vm.Files[0].Path == f.Path })
	if i < 0 || !strings.Contains(r.VMs[i].Title, "vCenter-side evidence") || !strings.Contains(r.VMs[i].Title, "no host-side hash") {
		t.Errorf("groups %+v", r.VMs)
	}
	if len(r.NotCollected) != 1 || r.NotCollected[0].Source != "vcenter/r1/access.json" || r.Summary.Verdict != "INCOMPLETE" {
		t.Errorf("not collected %+v, summary %+v", r.NotCollected, r.Summary)
	}
}
