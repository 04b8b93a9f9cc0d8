package custody

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// caseLog builds records in log order, as the chain would number them.
type caseLog struct{ recs []Record }

func (c *caseLog) add(typ string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	n := len(c.recs) + 1
	c.recs = append(c.recs, Record{Seq: int64(n), Line: n, Type: typ, Data: b, Time: time.Date(2026, 12, 3, 10, 0, n, 0, time.UTC)})
}

var (
	md5A = "0cc175b9c0f1b6a831c399e269772661"
	md5B = "92eb5ffee6ae2fec3ad71c777531578f"
)

func hashes(h string) map[string]string { return map[string]string{"md5": h} }

// copied adds what the sink and collect record for one verified copy.
func (c *caseLog) copied(run, src, dest string, size int64) {
	c.add(TypeFileCreated, FileCreated{Path: dest})
	c.add(TypeFileFinalized, FileFinalized{Path: dest, Size: size, Hashes: hashes(md5A), AtRest: hashes(md5A)})
	c.add(TypeFileVerified, Step{RunID: run, Host: "h", Source: src, Dest: dest, Size: size, SizeAtStart: size, SizeAtEnd: size,
		HostHashes: hashes(md5A), SinkHashes: hashes(md5A), AtRest: hashes(md5A)})
}

func (c *caseLog) started(run string, items ...string) {
	c.add(TypeAcquisitionStarted, Step{RunID: run, Host: "h", Files: len(items)})
	for _, it := range items {
		src, dest, _ := strings.Cut(it, "=")
		c.add(TypeFilePlanned, Step{RunID: run, Host: "h", Source: src, Dest: dest, Size: 100, PlannedSize: 100})
	}
}

// TestAssessVerdicts is the verdict table: each case the one rule is
// about, with the case verdict verify's exit code rests on.
func TestAssessVerdicts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		build func(c *caseLog)
		fresh *Checked
		want  CaseVerdict
		state map[string]State // path or source -> state
		what  string           // a problem must say this
	}{
		{name: "complete", want: Complete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a", "/s/b=vm/b")
			c.copied("r1", "/s/a", "vm/a", 100)
			c.copied("r1", "/s/b", "vm/b", 100)
			c.add(TypeAcquisitionFinished, Step{RunID: "r1", Host: "h"})
		}, state: map[string]State{"vm/a": Verified, "vm/b": Verified}},
		{name: "empty case", want: Incomplete, build: func(c *caseLog) {
			c.add(TypeCaseOpened, CaseOpened{CaseID: "x"})
		}, what: "no evidence file"},
		{name: "interrupted collect: partial file, no outcome, one never started", want: Incomplete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a", "/s/b=vm/b", "/s/c=vm/c")
			c.copied("r1", "/s/a", "vm/a", 100)
			c.add(TypeFileCreated, FileCreated{Path: "vm/b"})
			c.add(TypeFileFinalized, FileFinalized{Path: "vm/b", Size: 40, Hashes: hashes(md5B), AtRest: hashes(md5B), Reason: FinalizeShutdown})
		}, state: map[string]State{"vm/a": Verified, "vm/b": Failed, "/s/c": NotStarted}, what: "cut off"},
		{name: "disk full through serve", want: Incomplete, build: func(c *caseLog) {
			c.add(TypeFileCreated, FileCreated{Path: "d-flat.vmdk"})
			c.add(TypeNoSpace, NoSpace{Path: "d-flat.vmdk", Offset: 4096, Length: 4096})
			c.add(TypeFileFinalized, FileFinalized{Path: "d-flat.vmdk", Size: 4096, Hashes: hashes(md5A), AtRest: hashes(md5A)})
		}, state: map[string]State{"d-flat.vmdk": Failed}, what: "evidence disk was full"},
		{name: "disk full and hashes that disagree: the integrity failure stands", want: IntegrityFailure, build: func(c *caseLog) {
			c.add(TypeFileCreated, FileCreated{Path: "d-flat.vmdk"})
			c.add(TypeNoSpace, NoSpace{Path: "d-flat.vmdk", Offset: 4096, Length: 4096})
			c.add(TypeFileFinalized, FileFinalized{Path: "d-flat.vmdk", Size: 4096, Hashes: hashes(md5A), AtRest: hashes(md5B)})
		}, state: map[string]State{"d-flat.vmdk": Mismatch}, what: "evidence disk was full"},
		{name: "flipped byte at rest", want: IntegrityFailure, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a")
			c.copied("r1", "/s/a", "vm/a", 100)
			c.add(TypeAcquisitionFinished, Step{RunID: "r1", Host: "h"})
		}, fresh: &Checked{Files: []AtRestCheck{{Path: "vm/a", Verdict: RestMismatch, Why: "content changed"}}},
			state: map[string]State{"vm/a": NotVerified}},
		{name: "write after finalization across a restart", want: IntegrityFailure, build: func(c *caseLog) {
			c.add(TypeFileCreated, FileCreated{Path: "x.vmdk"})
			c.add(TypeFileFinalized, FileFinalized{Path: "x.vmdk", Size: 10, Hashes: hashes(md5A), AtRest: hashes(md5A)})
			c.add(TypeSinkStopped, SinkStopped{Reason: "signal"})
			c.add(TypeFileResumed, FileResumed{Path: "x.vmdk", SizeOnDisk: 10, Reason: "write after the file was finalized"})
			c.add(TypeFileFinalized, FileFinalized{Path: "x.vmdk", Size: 12, Hashes: hashes(md5B), AtRest: hashes(md5B), FromDisk: true})
		}, state: map[string]State{"x.vmdk": NotVerified}, what: "after it was finalized"},
		{name: "snapshot failure names every file", want: Incomplete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a", "/s/d=vm/d")
			c.copied("r1", "/s/a", "vm/a", 100)
			c.add(TypeFileNotStarted, Step{RunID: "r1", Host: "h", Source: "/s/d", Dest: "vm/d", Error: "not copied: snapshot failed"})
			c.add(TypeAcquisitionFinished, Step{RunID: "r1", Host: "h"})
		}, state: map[string]State{"vm/a": Verified, "/s/d": NotStarted}, what: "snapshot failed"},
		{name: "copied live is complete", want: Complete, build: func(c *caseLog) {
			c.started("r1", "/s/log=vm/log")
			c.add(TypeFileFinalized, FileFinalized{Path: "vm/log", Size: 120, Hashes: hashes(md5A), AtRest: hashes(md5A)})
			c.add(TypeFileCopiedLive, Step{RunID: "r1", Host: "h", Source: "/s/log", Dest: "vm/log", Size: 120, SizeAtStart: 120, SizeAtEnd: 180,
				HostHashes: hashes(md5A), SinkHashes: hashes(md5A), AtRest: hashes(md5A), Live: true})
			c.add(TypeAcquisitionFinished, Step{RunID: "r1", Host: "h"})
		}, state: map[string]State{"vm/log": CopiedLive}},
		{name: "a frozen file recorded as copied live is not acquired", want: Incomplete, build: func(c *caseLog) {
			c.add(TypeFileFinalized, FileFinalized{Path: "vm/a", Size: 120, Hashes: hashes(md5A), AtRest: hashes(md5A)})
			c.add(TypeFileCopiedLive, Step{RunID: "r1", Host: "h", Source: "/s/a", Dest: "vm/a", Size: 120, SizeAtStart: 120, SizeAtEnd: 180,
				HostHashes: hashes(md5A), SinkHashes: hashes(md5A), AtRest: hashes(md5A)})
		}, state: map[string]State{"vm/a": Failed}},
		{name: "verified record whose size changed is not verified", want: Incomplete, build: func(c *caseLog) {
			c.add(TypeFileVerified, Step{RunID: "r1", Host: "h", Source: "/s/a", Dest: "vm/a", Size: 100, SizeAtStart: 100, SizeAtEnd: 150,
				HostHashes: hashes(md5A), SinkHashes: hashes(md5A), AtRest: hashes(md5A)})
		}, state: map[string]State{"vm/a": Failed}},
		{name: "a VM --all could not collect", want: Incomplete, build: func(c *caseLog) {
			c.copied("r1", "/s/a", "vm/a", 100)
			c.add(TypeNotCollected, Uncollected{Host: "h", What: "unplaced VM", Name: "odd", VMID: 116, Why: "get.config failed", Missed: true})
			c.add(TypeNotCollected, Uncollected{Host: "h", What: "RDM LUN", Name: "db", Path: "/vmfs/devices/disks/naa.1", Flag: "--rdm"})
		}, state: map[string]State{"vm/a": Verified, "/vmfs/devices/disks/naa.1": NotCollected}, what: "vmid 116"},
		{name: "an interrupted run completed by --resume", want: Complete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a", "/s/b=vm/b", "/s/c=vm/c")
			c.copied("r1", "/s/a", "vm/a", 100)
			c.add(TypeFileCreated, FileCreated{Path: "vm/b"})
			c.add(TypeFileFinalized, FileFinalized{Path: "vm/b", Size: 40, Hashes: hashes(md5B), AtRest: hashes(md5B), Reason: FinalizeShutdown})
			c.add(TypeRunFailed, Step{RunID: "r1", Host: "h", Error: "interrupted"})
			c.started("r2", "/s/a=vm/a", "/s/b=vm/b", "/s/c=vm/c")
			c.add(TypeFileSkipped, Step{RunID: "r2", Host: "h", Source: "/s/a", Dest: "vm/a", Note: "verified by an earlier run"})
			c.copied("r2", "/s/b", "vm/b.attempt2", 100)
			c.copied("r2", "/s/c", "vm/c", 100)
			c.add(TypeAcquisitionFinished, Step{RunID: "r2", Host: "h"})
		}, state: map[string]State{"vm/a": Verified, "vm/b": Superseded, "vm/b.attempt2": Verified, "vm/c": Verified}},
		{name: "--resume after the sink moved the partial copy aside", want: Complete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a", "/s/b=vm/b")
			c.copied("r1", "/s/a", "vm/a", 100)
			c.add(TypeFileCreated, FileCreated{Path: "vm/b"})
			c.add(TypeFileFinalized, FileFinalized{Path: "vm/b", Size: 40, Hashes: hashes(md5B), AtRest: hashes(md5B), Reason: FinalizeShutdown})
			c.add(TypeRunFailed, Step{RunID: "r1", Host: "h", Error: "interrupted"})
			c.started("r2", "/s/a=vm/a", "/s/b=vm/b")
			c.add(TypeFileSkipped, Step{RunID: "r2", Host: "h", Source: "/s/a", Dest: "vm/a", Note: "verified by an earlier run"})
			c.add(TypeFileSuperseded, FileSuperseded{From: "vm/b", To: "superseded/r2/vm/b", Size: 40, Hashes: hashes(md5B), RunID: "r2"})
			c.copied("r2", "/s/b", "vm/b", 100)
			c.add(TypeAcquisitionFinished, Step{RunID: "r2", Host: "h"})
		}, state: map[string]State{"vm/a": Verified, "vm/b": Verified, "superseded/r2/vm/b": Superseded}},
		{name: "a retry within one run keeps the name", want: Complete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a")
			c.add(TypeFileCreated, FileCreated{Path: "vm/a"})
			c.add(TypeFileFinalized, FileFinalized{Path: "vm/a", Size: 100, Hashes: hashes(md5B), AtRest: hashes(md5B)})
			c.add(TypeFileSuperseded, FileSuperseded{From: "vm/a", To: "superseded/r1/vm/a", Size: 100, Hashes: hashes(md5B), RunID: "r1"})
			c.copied("r1", "/s/a", "vm/a", 100)
			c.add(TypeAcquisitionFinished, Step{RunID: "r1", Host: "h"})
		}, state: map[string]State{"vm/a": Verified, "superseded/r1/vm/a": Superseded}},
		{name: "an earlier run's failed copy moved aside", want: Complete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a")
			c.add(TypeFileCreated, FileCreated{Path: "vm/a"})
			c.add(TypeFileFinalized, FileFinalized{Path: "vm/a", Size: 100, Hashes: hashes(md5B), AtRest: hashes(md5B)})
			c.add(TypeFileFailed, Step{RunID: "r1", Host: "h", Source: "/s/a", Dest: "vm/a", Error: "mismatch: md5"})
			c.add(TypeAcquisitionFinished, Step{RunID: "r1", Host: "h"})
			c.started("r2", "/s/a=vm/a")
			c.add(TypeFileSuperseded, FileSuperseded{From: "vm/a", To: "superseded/r2/vm/a", Size: 100, Hashes: hashes(md5B), RunID: "r2"})
			c.copied("r2", "/s/a", "vm/a", 100)
			c.add(TypeAcquisitionFinished, Step{RunID: "r2", Host: "h"})
		}, state: map[string]State{"vm/a": Verified, "superseded/r2/vm/a": Superseded}},
		{name: "a moved attempt whose next copy failed too", want: Incomplete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a")
			c.add(TypeFileCreated, FileCreated{Path: "vm/a"})
			c.add(TypeFileFinalized, FileFinalized{Path: "vm/a", Size: 10, Hashes: hashes(md5B), AtRest: hashes(md5B)})
			c.add(TypeFileSuperseded, FileSuperseded{From: "vm/a", To: "superseded/r1/vm/a", Size: 10, Hashes: hashes(md5B), RunID: "r1"})
			c.add(TypeFileCreated, FileCreated{Path: "vm/a"})
			c.add(TypeFileFinalized, FileFinalized{Path: "vm/a", Size: 20, Hashes: hashes(md5A), AtRest: hashes(md5A)})
			c.add(TypeFileFailed, Step{RunID: "r1", Host: "h", Source: "/s/a", Dest: "vm/a", Error: "copy exited 1"})
			c.add(TypeAcquisitionFinished, Step{RunID: "r1", Host: "h"})
		}, state: map[string]State{"vm/a": Failed, "superseded/r1/vm/a": Superseded}},
		{name: "a move of other bytes than were finalized", want: IntegrityFailure, build: func(c *caseLog) {
			c.add(TypeFileCreated, FileCreated{Path: "vm/a"})
			c.add(TypeFileFinalized, FileFinalized{Path: "vm/a", Size: 10, Hashes: hashes(md5B), AtRest: hashes(md5B)})
			c.add(TypeFileSuperseded, FileSuperseded{From: "vm/a", To: "superseded/r1/vm/a", Size: 10, Hashes: hashes(md5A), RunID: "r1"})
			c.copied("r1", "/s/a", "vm/a", 100)
		}, what: "other size or hashes"},
		{name: "a retry that failed again is not hidden", want: Incomplete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a")
			c.add(TypeFileFailed, Step{RunID: "r1", Host: "h", Source: "/s/a", Dest: "vm/a", Error: "copy exited 1"})
			c.add(TypeAcquisitionFinished, Step{RunID: "r1", Host: "h"})
			c.started("r2", "/s/a=vm/a.attempt2")
			c.add(TypeFileFailed, Step{RunID: "r2", Host: "h", Source: "/s/a", Dest: "vm/a.attempt2", Error: "copy exited 1"})
			c.add(TypeAcquisitionFinished, Step{RunID: "r2", Host: "h"})
		}, state: map[string]State{"vm/a": Failed, "vm/a.attempt2": Failed}},
		{name: "snapshot left behind", want: Incomplete, build: func(c *caseLog) {
			c.copied("r1", "/s/a", "vm/a", 100)
			c.add(TypeSnapshotCreated, Step{RunID: "r1", Host: "h", VMID: 3, VM: "db", Snapshot: "esxsink-r1-vm3", SnapID: 4})
		}, what: "not recorded as removed"},
		{name: "snapshot confirmed gone after a reconnect counts as removed", want: Complete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a")
			c.add(TypeSnapshotCreated, Step{RunID: "r1", Host: "h", VMID: 3, VM: "db", Snapshot: "esxsink-r1-vm3", SnapID: 4})
			c.copied("r1", "/s/a", "vm/a", 100)
			c.add(TypeSnapshotRemoved, Step{RunID: "r1", Host: "h", VMID: 3, VM: "db", Snapshot: "esxsink-r1-vm3", SnapID: 4, Note: "confirmed gone after the connection was lost during its removal"})
			c.add(TypeAcquisitionFinished, Step{RunID: "r1", Host: "h"})
		}, state: map[string]State{"vm/a": Verified}},
		{name: "snapshot vanished under a copy: the file is not verified", want: Incomplete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a", "/s/b=vm/b")
			c.add(TypeSnapshotCreated, Step{RunID: "r1", Host: "h", VMID: 3, VM: "db", Snapshot: "esxsink-r1-vm3", SnapID: 4})
			c.copied("r1", "/s/a", "vm/a", 100)
			c.copied("r1", "/s/b", "vm/b", 100)
			c.add(TypeSnapshotVanished, Step{RunID: "r1", Host: "h", VMID: 3, VM: "db", Snapshot: "esxsink-r1-vm3", SnapID: 4, Affected: []string{"vm/b"}, Note: "not found on remove"})
			c.add(TypeAcquisitionFinished, Step{RunID: "r1", Host: "h"})
		}, state: map[string]State{"vm/a": Verified, "vm/b": Failed}, what: "vanished while it was read"},
		{name: "lease left on the host", want: Incomplete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a")
			c.add(TypeLeaseCreated, Lease{RunID: "r1", Host: "h", Path: "/tmp/esxsink-r1.lease"})
			c.copied("r1", "/s/a", "vm/a", 100)
			c.add(TypeAcquisitionFinished, Step{RunID: "r1", Host: "h"})
		}, what: "lease /tmp/esxsink-r1.lease"},
		{name: "lease released by a later cleanup", want: Complete, build: func(c *caseLog) {
			c.started("r1", "/s/a=vm/a")
			c.add(TypeLeaseCreated, Lease{RunID: "r1", Host: "h", Path: "/tmp/esxsink-r1.lease"})
			c.copied("r1", "/s/a", "vm/a", 100)
			c.add(TypeAcquisitionFinished, Step{RunID: "r1", Host: "h"})
			c.add(TypeCleanupRefused, Lease{RunID: "r1", Host: "h", Path: "/tmp/esxsink-r1.lease", AgeSeconds: 5, Note: "fresh"})
			c.add(TypeLeaseReleased, Lease{RunID: "r1", Host: "h", Path: "/tmp/esxsink-r1.lease", By: "cleanup"})
		}, state: map[string]State{"vm/a": Verified}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &caseLog{}
			tc.build(c)
			a := Assess(c.recs, tc.fresh)
			if got := a.Verdict(); got != tc.want {
				t.Errorf("verdict %s, want %s; problems %+v", got, tc.want, a.Problems)
			}
			for key, want := range tc.state {
				found := false
				for _, f := range a.Files {
					if f.Path == key || (f.Path == "" && f.Source == key) {
						found = true
						if f.Verdict != want {
							t.Errorf("%s is %s (%s), want %s", key, f.Verdict, f.Reason, want)
						}
					}
				}
				if !found {
					t.Errorf("%s is not in the assessment: %+v", key, a.Files)
				}
			}
			if tc.what != "" {
				found := false
				for _, p := range a.Problems {
					found = found || strings.Contains(p.What, tc.what)
				}
				if !found {
					t.Errorf("no problem says %q: %+v", tc.what, a.Problems)
				}
			}
		})
	}
}

func TestCountsNameEveryState(t *testing.T) {
	t.Parallel()
	c := Counts{Verified: 2, CopiedLive: 1, Failed: 1, NotStarted: 3, Skipped: 4, NotCollected: 5}
	s := c.String()
	for _, want := range []string{"2 verified", "1 copied live", "1 FAILED", "3 NOT STARTED", "4 skipped", "5 NOT COLLECTED"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
}

// An RDM descriptor's planned copy names where its LUN is imaged; the
// image is named to readers only while the case holds it whole: not
// before it verified, not once the sink moved it aside.
func TestDeviceImages(t *testing.T) {
	t.Parallel()
	var c caseLog
	c.add(TypeFilePlanned, Step{Source: "/vmfs/volumes/ds/vm/v.vmdk", Dest: "ds/vm/v.vmdk", Image: "devices/vml.1.raw"})
	c.add(TypeFilePlanned, Step{Source: "/vmfs/volumes/ds/vm/p.vmdk", Dest: "ds/vm/p.vmdk", Image: "devices/vml.2.raw"})
	c.add(TypeFilePlanned, Step{Source: "/vmfs/volumes/ds/vm/a.vmdk", Dest: "ds/vm/a.vmdk"})
	c.copied("r1", "/vmfs/devices/disks/vml.1", "devices/vml.1.raw", 512)
	c.add(TypeFileFailed, Step{Source: "/vmfs/devices/disks/vml.2", Dest: "devices/vml.2.raw"})
	got := DeviceImages(c.recs)
	if len(got) != 1 || got["ds/vm/v.vmdk"] != "devices/vml.1.raw" {
		t.Errorf("images %v, want only the verified LUN's", got)
	}
	c.add(TypeFileSuperseded, FileSuperseded{From: "devices/vml.1.raw", To: "superseded/r2/devices/vml.1.raw"})
	if got := DeviceImages(c.recs); len(got) != 0 {
		t.Errorf("after the image was moved aside: %v", got)
	}
}

// The names a case gave files whose host names it could not store are
// read back from the planned copies, folder by folder, so a host path
// under the evidence folder finds the file.
func TestCollectedNames(t *testing.T) {
	t.Parallel()
	var c caseLog
	c.add(TypeFilePlanned, Step{Source: "/vmfs/volumes/ds1/ops:tools?/a:b-flat.vmdk", Dest: "ds1/ops_tools_~11111111/a_b-flat~22222222.vmdk"})
	c.add(TypeFilePlanned, Step{Source: "/vmfs/volumes/ds1/ops:tools?/a_b.vmdk", Dest: "ds1/ops_tools_~11111111/a_b.vmdk"})
	c.add(TypeFilePlanned, Step{Source: "/vmfs/devices/disks/mpx.vmhba32:C0:T0:L0", Dest: "devices/mpx.vmhba32_C0_T0_L0.raw"})
	n := CollectedNames(c.recs)
	for in, want := range map[string]string{
		"ds1/ops:tools?/a:b-flat.vmdk":              "ds1/ops_tools_~11111111/a_b-flat~22222222.vmdk",
		"ds1/ops_tools_~11111111/a:b-flat.vmdk":     "ds1/ops_tools_~11111111/a_b-flat~22222222.vmdk",
		"ds1/ops:tools?/a_b.vmdk":                   "ds1/ops_tools_~11111111/a_b.vmdk",
		"ds1/other/a:b-flat.vmdk":                   "ds1/other/a:b-flat.vmdk",
		"ds2/ops:tools?/a:b-flat.vmdk":              "ds2/ops:tools?/a:b-flat.vmdk",
		"ds1/ops_tools_~11111111/unknown:name.vmdk": "ds1/ops_tools_~11111111/unknown:name.vmdk",
	} {
		if got := n.Translate(in); got != want {
			t.Errorf("Translate(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAssessKept: a file esxsink kept from the API is verified when the
// hash written and the hash at rest agree, a mismatch otherwise; a part
// not collected makes the case incomplete until a later run keeps it
// from the same source.
func TestAssessKept(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("a", 64)
	kept := func(c *caseLog, name, p, atRest string) {
		c.add(TypeEvidenceKept, Kept{Path: p, Size: 10, SHA256: sha, AtRest: atRest, Source: "vc:443", Name: name, What: "calls"})
	}
	missed := func(c *caseLog, name string) {
		c.add(TypeNotCollected, Uncollected{Host: "vc:443", What: "vCenter evidence", Name: name, Path: "vcenter/r1/" + name + ".json", Why: "lacks privilege System.View", Missed: true})
	}
	state := func(a *Assessment, p string) State {
		for _, f := range a.Files {
			if f.Path == p || f.Source == p {
				return f.Verdict
			}
		}
		return ""
	}

	var c caseLog
	kept(&c, "events", "vcenter/r1/events.json", sha)
	if a := Assess(c.recs, nil); a.Verdict() != Complete || state(a, "vcenter/r1/events.json") != Verified || a.Counts.Verified != 1 {
		t.Errorf("kept intact: %v %+v", a.Verdict(), a.Files)
	}
	kept(&c, "tasks", "vcenter/r1/tasks.json", strings.Repeat("b", 64))
	if a := Assess(c.recs, nil); a.Verdict() != IntegrityFailure || state(a, "vcenter/r1/tasks.json") != Mismatch {
		t.Errorf("kept, other at rest: %v %+v", a.Verdict(), a.Files)
	}

	var d caseLog
	kept(&d, "events", "vcenter/r1/events.json", sha)
	missed(&d, "access")
	a := Assess(d.recs, nil)
	if a.Verdict() != Incomplete || a.Counts.NotCollected != 1 || len(a.Problems) != 1 || !strings.Contains(a.Problems[0].What, "System.View") {
		t.Errorf("a part not collected: %v %+v", a.Verdict(), a.Problems)
	}
	kept(&d, "access", "vcenter/r2/access.json", sha)
	a = Assess(d.recs, nil)
	if a.Verdict() != Complete || a.Counts.NotCollected != 0 || a.Counts.Superseded != 1 || state(a, "vcenter/r2/access.json") != Verified {
		t.Errorf("a part kept by a later run: %v %+v %+v", a.Verdict(), a.Problems, a.Files)
	}
}
