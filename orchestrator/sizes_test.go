package orchestrator

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
)

// growingLab is smallLab whose running VM's vmware.log grows by 3000
// bytes each time it is opened for reading, as a live log does while it
// is copied.
const growingLab = smallLab + `faults:
  - kind: growing_file
    path: "/vmfs/volumes/datastore1/Ubuntu/vmware.log"
    length: 3000
`

// fileRecords returns the custody records of the orchestrator's file
// verdicts (file.verified, file.copied_live, file.failed) for source.
func fileRecords(t *testing.T, e *simEnv, source string) map[string][]custody.Step {
	t.Helper()
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(e.caseDir))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]custody.Step{}
	for _, r := range recs {
		switch r.Type {
		case custody.TypeFileVerified, custody.TypeFileCopiedLive, custody.TypeFileFailed:
		default:
			continue
		}
		var s custody.Step
		if err := json.Unmarshal(r.Data, &s); err != nil {
			t.Fatalf("%s record %s: %v", r.Type, r.Data, err)
		}
		if s.Source == source {
			out[r.Type] = append(out[r.Type], s)
		}
	}
	return out
}

// resultFor finds source's result in rep.
func resultFor(t *testing.T, rep *Outcome, source string) FileOutcome {
	t.Helper()
	for _, f := range rep.Files {
		if f.Item.Source == source {
			return f
		}
	}
	t.Fatalf("%s is not in the report", source)
	return FileOutcome{}
}

// evidenceSize is the size of dest in the case's evidence folder.
func evidenceSize(t *testing.T, e *simEnv, dest string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(hashlog.EvidenceDir(e.caseDir), filepath.FromSlash(dest)))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// A running VM's log appended to while it is copied is copied live: the
// bytes up to its size at the copy's start arrive and hash alike on every
// side, both sizes are recorded, it is never verified, and it does not
// fail the run. Over NFS (dd to the measured size) and SFTP (the stream
// and the host's hashes cut at the measured size).
func TestCollectGrowingLogCopiedLive(t *testing.T) {
	const log = "/vmfs/volumes/datastore1/Ubuntu/vmware.log"
	for _, transport := range []string{TransportNFS, TransportSFTP} {
		t.Run(transport, func(t *testing.T) {
			e := startSimWith(t, growingLab, transport)
			_, rep, err := collectOpts(t, e, []string{"Ubuntu"}, false, false, func(o *CollectOptions) {
				if transport == TransportSFTP {
					withSFTP(o)
				}
			})
			if err != nil || !rep.OK() {
				t.Fatalf("a copied-live log failed the run: %v", err)
			}
			if e.host.FaultsFired()["growing_file"] == 0 {
				t.Fatal("the log never grew")
			}
			f := resultFor(t, rep, log)
			if f.Verified || !f.CopiedLive || f.Error != "" || f.Attempts != 1 {
				t.Fatalf("growing log: verified %v, copied live %v, error %q, attempts %d", f.Verified, f.CopiedLive, f.Error, f.Attempts)
			}
			if f.SizeAtEnd <= f.SizeAtStart || f.Size != f.SizeAtStart || evidenceSize(t, e, f.Dest) != f.SizeAtStart {
				t.Errorf("sizes: at start %d, at end %d, arrived %d, evidence %d", f.SizeAtStart, f.SizeAtEnd, f.Size, evidenceSize(t, e, f.Dest))
			}
			for _, n := range []int64{f.SizeAtStart, f.SizeAtEnd} {
				if !strings.Contains(f.LiveReason, strconv.FormatInt(n, 10)) {
					t.Errorf("live reason %q does not give the size %d", f.LiveReason, n)
				}
			}
			if f.HostHashes["md5"] == "" || f.HostHashes["md5"] != f.SinkHashes["md5"] || f.HostHashes["sha256"] != f.AtRest["sha256"] {
				t.Errorf("hashes: host %v sink %v at rest %v", f.HostHashes, f.SinkHashes, f.AtRest)
			}
			// What arrived is the host's log as it was when its copy
			// started: its first SizeAtStart bytes.
			host, err := e.host.ReadFile(log)
			got, rerr := os.ReadFile(filepath.Join(hashlog.EvidenceDir(e.caseDir), filepath.FromSlash(f.Dest)))
			if err != nil || rerr != nil || int64(len(host)) <= f.SizeAtStart || string(host[:f.SizeAtStart]) != string(got) {
				t.Errorf("the copy is not the host log's first %d bytes (%v, %v)", f.SizeAtStart, err, rerr)
			}
			recs := fileRecords(t, e, log)
			live := recs[custody.TypeFileCopiedLive]
			if len(live) != 1 || len(recs[custody.TypeFileVerified]) != 0 || len(recs[custody.TypeFileFailed]) != 0 {
				t.Fatalf("custody records for the log: %+v", recs)
			}
			if r := live[0]; r.SizeAtStart != f.SizeAtStart || r.SizeAtEnd != f.SizeAtEnd || r.Size != f.Size || !strings.Contains(r.Note, f.LiveReason) || !r.Live {
				t.Errorf("file.copied_live record %+v, result sizes %d/%d/%d", r, f.SizeAtStart, f.SizeAtEnd, f.Size)
			}
			assertClean(t, e, nil)
		})
	}
}

// snapLab is a running VM with a snapshot of its owner's, on a VMFS-5
// (vmfsSparse delta) or VMFS-6 (seSparse) datastore.
func snapLab(vmfs string) string {
	return `
host: {hostname: esx-snap, version: 8.0.2, build: "22380479", user: root, password: "Snap-Lab-1!"}
datastores:
  - {name: datastore1, type: ` + vmfs + `}
vms:
  - id: 1
    name: Web
    guest_os: ubuntu64Guest
    power: "on"
    memory_mb: 16
    disks:
      - {size: 8MiB, kind: thin}
    snapshots:
      - {name: before patch, created: 2026-01-02T03:04:05Z}
`
}

// A running VM with a snapshot of its owner's: the delta it runs on grows
// until our snapshot freezes it. It is copied at its size after our
// snapshot, not the inventory's, and every file verifies whole.
func TestCollectRunningVMWithSnapshotCopiesDeltaWhole(t *testing.T) {
	for _, tc := range []struct{ vmfs, delta string }{
		{"VMFS-5", "/vmfs/volumes/datastore1/Web/Web-000001-delta.vmdk"},
		{"VMFS-6", "/vmfs/volumes/datastore1/Web/Web-000001-sesparse.vmdk"},
	} {
		t.Run(tc.vmfs, func(t *testing.T) {
			e := startSim(t, snapLab(tc.vmfs))
			before := snapCounts(e)
			var mu sync.Mutex
			frozen := int64(-1)
			plan, rep, err := collectOpts(t, e, []string{"Web"}, false, false, func(o *CollectOptions) {
				o.Progress = func(p Progress) {
					if p.Done || p.Item.Source != tc.delta {
						return
					}
					// Our snapshot is taken: the delta is frozen at the
					// size its copy must have.
					b, err := e.host.ReadFile(tc.delta)
					if err != nil {
						t.Errorf("read the frozen delta on the host: %v", err)
					}
					mu.Lock()
					frozen = int64(len(b))
					mu.Unlock()
				}
			})
			if err != nil {
				t.Fatalf("collect: %v", err)
			}
			if len(rep.Files) != plan.Files {
				t.Fatalf("%d results for %d planned files", len(rep.Files), plan.Files)
			}
			for _, f := range rep.Files {
				size := evidenceSize(t, e, f.Dest)
				if !f.Verified || f.CopiedLive || size != f.SizeAtStart || f.SizeAtEnd != f.SizeAtStart || f.Size != size {
					t.Errorf("%s: verified %v, copied live %v, evidence %d, at start %d, at end %d, arrived %d: %s",
						f.Item.Dest, f.Verified, f.CopiedLive, size, f.SizeAtStart, f.SizeAtEnd, f.Size, f.Error)
				}
			}
			d := resultFor(t, rep, tc.delta)
			if frozen < 0 {
				t.Fatal("the delta's copy never started")
			}
			if got := evidenceSize(t, e, d.Dest); got != frozen {
				t.Errorf("the delta's copy has %d bytes, the frozen delta on the host %d", got, frozen)
			}
			// The simulator grows the delta between the inventory and
			// our snapshot; without that this test proves nothing.
			if frozen <= d.Item.Size {
				t.Fatalf("the delta did not grow after the inventory: planned %d, frozen %d", d.Item.Size, frozen)
			}
			recs := fileRecords(t, e, tc.delta)[custody.TypeFileVerified]
			if len(recs) != 1 || recs[0].PlannedSize != d.Item.Size || recs[0].Size != frozen || recs[0].SizeAtStart != frozen {
				t.Errorf("file.verified record of the delta: %+v (planned %d, frozen %d)", recs, d.Item.Size, frozen)
			}
			assertClean(t, e, before)
			assertFootprint(t, e)
		})
	}
}

// A frozen file (a powered-off VM's disk, or a running VM's base disk
// under our snapshot) that grows while it is copied is a failure, never
// verified and not copied again, with both sizes and what to do next.
func TestCollectFrozenFileThatChangesFails(t *testing.T) {
	for _, tc := range []struct{ vm, src string }{
		{"Unused server", "/vmfs/volumes/datastore1/Unused server/Unused server-flat.vmdk"},
		{"Ubuntu", "/vmfs/volumes/datastore1/Ubuntu/Ubuntu-flat.vmdk"},
	} {
		t.Run(tc.vm, func(t *testing.T) {
			e := startSim(t, smallLab+"faults:\n  - {kind: growing_file, path: \""+tc.src+"\", length: 4096}\n")
			before := snapCounts(e)
			_, rep, err := collectAll(t, e, []string{tc.vm}, false, false)
			if !errors.Is(err, ErrNotVerified) || rep.OK() {
				t.Fatalf("a changed frozen file did not fail the run: %v", err)
			}
			f := resultFor(t, rep, tc.src)
			if f.Item.Live || f.Verified || f.CopiedLive || f.Attempts != 1 {
				t.Fatalf("%s: live %v, verified %v, copied live %v, attempts %d", tc.src, f.Item.Live, f.Verified, f.CopiedLive, f.Attempts)
			}
			if f.SizeAtEnd != f.SizeAtStart+4096 {
				t.Errorf("sizes: at start %d, at end %d; want 4096 more at the end", f.SizeAtStart, f.SizeAtEnd)
			}
			want := tc.src + " changed while copied: " + strconv.FormatInt(f.SizeAtStart, 10) + " bytes before, " + strconv.FormatInt(f.SizeAtEnd, 10) + " after; a frozen file must not change"
			if !strings.HasPrefix(f.Error, want) || !strings.Contains(f.Error, "collect the file again") {
				t.Errorf("error %q, want it to start %q and say what to do", f.Error, want)
			}
			recs := fileRecords(t, e, tc.src)
			if len(recs[custody.TypeFileFailed]) != 1 || len(recs[custody.TypeFileVerified]) != 0 || len(recs[custody.TypeFileCopiedLive]) != 0 {
				t.Fatalf("custody records: %+v", recs)
			}
			if r := recs[custody.TypeFileFailed][0]; r.SizeAtStart != f.SizeAtStart || r.SizeAtEnd != f.SizeAtEnd || r.Error != f.Error {
				t.Errorf("file.failed record %+v", r)
			}
			// Every other file of the VM verifies.
			for _, o := range rep.Files {
				if o.Item.Source != tc.src && !o.Verified {
					t.Errorf("%s: %s", o.Item.Dest, o.Error)
				}
			}
			assertClean(t, e, before)
		})
	}
}
