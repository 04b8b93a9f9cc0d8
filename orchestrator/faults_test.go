package orchestrator

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/hashlog"
)

func collectWith(ctx context.Context, t *testing.T, e *simEnv, names []string, progress func(Progress)) (*Outcome, error) {
	t.Helper()
	inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, err := SelectVMs(inv, names, false, true)
	if err != nil {
		t.Fatal(err)
	}
	return Collect(ctx, MakePlan(vms, PlanOptions{SinkFree: -1}), CollectOptions{
		Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(),
		SinkHost: "127.0.0.1", Retries: 1,
		UnmountBackoff: 50e6, Logger: quietLogger(), Progress: progress, SnapshotBackoff: 10 * time.Millisecond,
	})
}

// faults.yaml: the first mount is refused, then the first snapshot of
// Ubuntu fails, and the first two unmounts are busy. The refused mount
// fails the run with a clear error and leaves nothing behind; the failed
// snapshot is taken again after a wait, and the run completes.
func TestCollectFaultsRefusedMountAndSnapshotFailure(t *testing.T) {
	e := startSim(t, "examples/lab/faults.yaml")
	before := snapCounts(e)
	rep, err := collectWith(context.Background(), t, e, []string{"Ubuntu"}, nil)
	// No sentinel: the examiner reads this message, and what it says
	// (which host refused which share, what to check) is the product.
	if err == nil || !strings.Contains(err.Error(), "refused to mount") {
		t.Fatalf("refused mount: got %v", err)
	}
	planned := len(rep.Files)
	if planned == 0 {
		t.Fatal("the refused mount left no planned file in the report")
	}
	assertAccounted(t, e, rep, planned)
	assertClean(t, e, before)

	rep, err = collectWith(context.Background(), t, e, []string{"Ubuntu"}, nil)
	if err != nil {
		t.Fatalf("the snapshot failing once failed the run: %v", err)
	}
	if n := e.host.FaultsFired()[esxsim.FaultSnapshotCreate]; n != 1 {
		t.Fatalf("snapshot_create_fail fired %d times", n)
	}
	assertAccounted(t, e, rep, planned)
	for _, f := range rep.Files {
		if !f.Verified {
			t.Errorf("%s: %s", f.Item.Dest, f.Error)
		}
	}
	if n := custodyCount(t, e, custody.TypeAcquisitionNote, "(attempt 1 of 3): trying again"); n != 1 {
		t.Errorf("%d custody notes of the failed snapshot attempt", n)
	}
	if len(rep.Cleanup) != 0 {
		t.Errorf("cleanup errors: %v", rep.Cleanup)
	}
	assertClean(t, e, before)
	assertFootprint(t, e)
}

// Cancelling during a disk copy under our snapshot removes the snapshot
// and detaches the mount.
func TestCollectCancelMidCopy(t *testing.T) {
	e := startSim(t, smallLab)
	before := snapCounts(e)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sawSnapshot := false
	rep, err := collectWith(ctx, t, e, []string{"Ubuntu"}, func(p Progress) {
		if !p.Done && p.Item.Method == MethodSnapshot {
			for _, vm := range e.host.State().VMs {
				for _, s := range vm.Snapshots {
					sawSnapshot = sawSnapshot || strings.HasPrefix(s.Name, "esxsink-")
				}
			}
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want cancellation", err)
	}
	if !sawSnapshot {
		t.Error("the copy under snapshot started without our snapshot")
	}
	assertAccounted(t, e, rep, len(rep.Files))
	assertClean(t, e, before)
	assertFootprint(t, e)
}

// corruptingSink reports a wrong sink hash for the first finalization of
// one file, as a damaged transfer would.
type corruptingSink struct {
	Sink
	target string
	done   bool
}

func (s *corruptingSink) Finalize(ctx context.Context, rel, reason string, expectedSize int64, atRest bool) (custody.FileFinalized, error) {
	f, err := s.Sink.Finalize(ctx, rel, reason, expectedSize, atRest)
	if rel == s.target && !s.done {
		s.done = true
		f.Hashes = map[string]string{"md5": "00000000000000000000000000000000"}
	}
	return f, err
}

// A file whose hashes disagree is copied again and then verifies; with no
// retries left it is reported failed and the run fails.
func TestCollectRetriesMismatch(t *testing.T) {
	for _, retries := range []int{1, 0} {
		e := startSim(t, smallLab)
		inv, err := Discover(context.Background(), e.runner, e.conn.Addr(), quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		vms, _ := SelectVMs(inv, []string{"Unused server"}, false, false)
		target := "datastore1/Unused server/Unused server-flat.vmdk"
		rep, err := Collect(context.Background(), MakePlan(vms, PlanOptions{SinkFree: -1}), CollectOptions{
			Runner: e.runner, Log: e.log, Sink: &corruptingSink{Sink: e.sink, target: target}, Host: e.conn.Addr(),
			SinkHost: "127.0.0.1", Retries: retries, Logger: quietLogger(),
		})
		var got *FileOutcome
		for i := range rep.Files {
			if rep.Files[i].Item.Dest == target {
				got = &rep.Files[i]
			}
		}
		if got == nil {
			t.Fatalf("retries %d: %s not in the report", retries, target)
		}
		if retries == 1 && (err != nil || !got.Verified || got.Attempts != 2 || got.Dest != target) {
			t.Errorf("retries 1: err %v, result %+v", err, got)
		}
		// The first attempt is kept, moved aside by the sink; the verified
		// copy has the file's own name.
		if moved := "superseded/" + rep.RunID + "/" + target; retries == 1 && !slices.Equal(got.Superseded, []string{moved}) {
			t.Errorf("retries 1: superseded %q, want %q", got.Superseded, moved)
		} else if retries == 1 {
			if _, err := os.Stat(filepath.Join(hashlog.EvidenceDir(e.caseDir), filepath.FromSlash(moved))); err != nil {
				t.Errorf("the first attempt is not kept: %v", err)
			}
		}
		if retries == 0 && (!errors.Is(err, ErrNotVerified) || got.Verified || !strings.Contains(got.Error, "mismatch")) {
			t.Errorf("retries 0: err %v, result %+v", err, got)
		}
		assertClean(t, e, nil)
	}
}

// The SSH connection drops during a copy under our snapshot: collect
// reconnects, removes the snapshot and detaches the mount.
func TestCollectConnectionLostCleansUp(t *testing.T) {
	e := startSim(t, smallLab)
	before := snapCounts(e)
	inv, err := Discover(context.Background(), e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, _ := SelectVMs(inv, []string{"Ubuntu"}, false, false)
	hk, _ := PinnedHostKey(e.host.Fingerprint())
	pw := e.host.Password()
	redials := 0
	plan := MakePlan(vms, PlanOptions{SinkFree: -1})
	rep, err := Collect(context.Background(), plan, CollectOptions{
		Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(),
		SinkHost: "127.0.0.1", Logger: quietLogger(), UnmountBackoff: 50e6,
		Progress: func(p Progress) {
			if !p.Done && p.Item.Kind == KindExtent {
				e.conn.Close() // the drop
			}
		},
		Redial: func(ctx context.Context) (*Conn, error) {
			redials++
			c, err := DialSSH(ctx, SSHOptions{Addr: e.host.Addr().String(), User: e.host.User(), HostKey: hk,
				Password: func(context.Context, string, string, string) (string, error) { return pw, nil }})
			if err == nil {
				t.Cleanup(func() { c.Close() })
			}
			return c, err
		},
	})
	if !errors.Is(err, ErrConnLost) {
		t.Fatalf("got %v, want the lost connection (ErrConnLost)", err)
	}
	if redials == 0 {
		t.Error("no reconnect")
	}
	assertAccounted(t, e, rep, len(plan.Copies()))
	assertClean(t, e, before)
}

// faults.yaml's "Broken disk" has an unreadable 4 KiB at 5 MiB, and the
// sink's volume fails one WRITE after 6 MiB: the copy that hits the
// failed WRITE is copied again, the read error is recorded, and the image
// verifies with zeros where the sectors could not be read.
func TestCollectBadSectorsAndWriteError(t *testing.T) {
	e := startSim(t, "examples/lab/faults.yaml")
	// The first mount is refused by the scenario.
	if _, err := collectWith(context.Background(), t, e, []string{"Broken disk"}, nil); err == nil {
		t.Fatal("the refused mount went unnoticed")
	}
	// The scenario also slows every read of this VM's vmware.log, which
	// dd reads a byte at a time (its size is odd): leave the logs out.
	inv, err := Discover(context.Background(), e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, _ := SelectVMs(inv, []string{"Broken disk"}, false, false)
	plan := MakePlan(vms, PlanOptions{SinkFree: -1})
	for i := range plan.Items {
		if plan.Items[i].Kind == KindLog {
			plan.Items[i].Method = MethodSkip
		}
	}
	rep, err := Collect(context.Background(), plan, CollectOptions{
		Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(), Retries: 1,
		SinkHost: "127.0.0.1", Logger: quietLogger(), UnmountBackoff: 50e6,
	})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	var flat *FileOutcome
	for i := range rep.Files {
		if strings.HasSuffix(rep.Files[i].Item.Source, "-flat.vmdk") {
			flat = &rep.Files[i]
		}
	}
	if flat == nil || !flat.Verified || len(flat.ReadErrors) == 0 {
		t.Fatalf("flat extent: %+v", flat)
	}
	t.Logf("attempts %d, read errors %q", flat.Attempts, flat.ReadErrors)
	b, err := os.ReadFile(filepath.Join(hashlog.EvidenceDir(e.caseDir), filepath.FromSlash(flat.Dest)))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != flat.Item.Size {
		t.Fatalf("image is %d bytes, source %d", len(b), flat.Item.Size)
	}
	// Only the 8 unreadable sectors at 5 MiB are zeros; the rest of the
	// 1 MiB block dd zeroed in the first copy was read sector by sector.
	want := []custody.SectorRange{{First: 5 << 20 / 512, Count: 8}}
	if !reflect.DeepEqual(flat.BadSectors, want) {
		t.Errorf("bad sectors %+v, want %+v", flat.BadSectors, want)
	}
	zero := make([]byte, 512)
	for s := int64(5 << 20 / 512); s < 6<<20/512; s++ {
		isZero := bytes.Equal(b[s*512:(s+1)*512], zero)
		if bad := s >= want[0].First && s < want[0].First+want[0].Count; isZero != bad {
			t.Fatalf("sector %d: zero %v, unreadable %v", s, isZero, bad)
		}
	}
	// Every earlier attempt (the copy the failed WRITE cut, the one with
	// a whole block zeroed) is kept in the superseded area; the image has
	// the host's name.
	if len(flat.Superseded) != flat.Attempts-1 || flat.Dest != flat.Item.Dest {
		t.Errorf("earlier attempts %q of %d, dest %s", flat.Superseded, flat.Attempts, flat.Dest)
	}
	for _, p := range flat.Superseded {
		if !strings.HasPrefix(p, "superseded/") || !strings.HasSuffix(p, "/"+flat.Dest) {
			t.Errorf("earlier attempt kept as %s, want superseded/<run>/%s", p, flat.Dest)
		}
	}
	if n := custodyCount(t, e, custody.TypeAcquisitionNote, "8 unreadable sectors found: sectors 10240-10247"); n != 1 {
		t.Errorf("%d custody notes name the bad sectors", n)
	}
	assertClean(t, e, nil)
}

// faults.yaml's db01 has a physical RDM whose LUN changes between reads:
// single pass copies it consistently (host = sink), --verify two-pass
// catches the change.
func TestCollectTwoPassCatchesChangingLUN(t *testing.T) {
	e := startSim(t, "examples/lab/faults.yaml")
	ctx := context.Background()
	inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, _ := SelectVMs(inv, []string{"db01"}, false, false)
	lunOnly := func() *Plan {
		p := MakePlan(vms, PlanOptions{SinkFree: -1, RDM: true})
		for i := range p.Items {
			if p.Items[i].Kind != KindLUN {
				p.Items[i].Method = MethodSkip
			}
		}
		return p
	}
	opts := CollectOptions{Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(), SinkHost: "127.0.0.1", Retries: 1,
		Logger: quietLogger(), UnmountBackoff: 50e6}
	if _, err := Collect(ctx, lunOnly(), opts); err == nil { // the scenario refuses the first mount
		t.Fatal("refused mount went unnoticed")
	}
	rep, err := Collect(ctx, lunOnly(), opts)
	if err != nil || len(rep.Files) != 1 || !rep.Files[0].Item.Live {
		t.Fatalf("single pass: %v %+v", err, rep)
	}
	opts.TwoPass = true
	rep, err = Collect(ctx, lunOnly(), opts)
	if !errors.Is(err, ErrNotVerified) || len(rep.Files) != 1 || !strings.Contains(rep.Files[0].Error, "changed between the two reads") {
		t.Fatalf("two-pass: %v %+v", err, rep.Files)
	}
	assertClean(t, e, nil)
	assertFootprint(t, e)
}

// A run interrupted on the second VM is resumed: files verified before are
// not copied again (the running VM's disks need no new snapshot), the
// rest is collected, and everything verifies.
func TestCollectResume(t *testing.T) {
	e := startSim(t, smallLab)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := collectWith(ctx, t, e, []string{"Ubuntu", "Unused server"}, func(p Progress) {
		if !p.Done && p.Item.VMName == "Unused server" && p.Item.Kind == KindExtent {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v", err)
	}
	assertClean(t, e, nil)
	snapshotsTaken := func() int {
		n := 0
		for _, c := range e.host.Footprint() {
			if strings.HasPrefix(c.Line, "vim-cmd vmsvc/snapshot.create") {
				n++
			}
		}
		return n
	}
	before := snapshotsTaken()
	done, err := VerifiedInCase(e.caseDir, e.conn.Addr())
	if err != nil || done["/vmfs/volumes/datastore1/Ubuntu/Ubuntu-flat.vmdk"].Size != 8<<20 {
		t.Fatalf("verified in case: %v %+v", err, done)
	}
	inv, err := Discover(context.Background(), e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, _ := SelectVMs(inv, []string{"Ubuntu", "Unused server"}, false, false)
	rep, err := Collect(context.Background(), MakePlan(vms, PlanOptions{SinkFree: -1}), CollectOptions{
		Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(), SinkHost: "127.0.0.1",
		Logger: quietLogger(), UnmountBackoff: 50e6, Resume: done,
	})
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	resumed := 0
	for _, f := range rep.Files {
		if f.Resumed {
			resumed++
		}
		if f.Item.Source == "/vmfs/volumes/datastore1/Unused server/Unused server-flat.vmdk" && (f.Resumed || !f.Verified) {
			t.Errorf("the interrupted file: %+v", f)
		}
	}
	if resumed < 2 {
		t.Errorf("%d files resumed", resumed)
	}
	if n := snapshotsTaken(); n != before {
		t.Errorf("the resumed run took %d snapshots; the running VM's disks were already verified", n-before)
	}
	assertClean(t, e, nil)
	// The interrupted run's partial copy and its copies never started are
	// superseded by the resumed run: the case is complete.
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(e.caseDir))
	if err != nil {
		t.Fatal(err)
	}
	if a := custody.Assess(recs, nil); a.Verdict() != custody.Complete {
		t.Errorf("after --resume the case reads %s: %+v", a.Verdict(), a.Problems)
	}
}

// A cancelled copy does not read on to the end on the host: cleanup
// creates our stop file, the copy ends within one run of dd, and the
// stop file is removed again.
func TestCollectCancelStopsHostCopy(t *testing.T) {
	e := startSim(t, strings.Replace(smallLab, "size: 8MiB", "size: 2GiB", 1))
	before := snapCounts(e)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var flat PlanItem
	inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, _ := SelectVMs(inv, []string{"Ubuntu"}, false, false)
	// The stopped copy ends within one run of dd (esxi.StopChunk): on a
	// loaded machine that can take seconds, which the unmount's retries
	// (0.3 s doubling, six tries) cover.
	_, err = Collect(ctx, MakePlan(vms, PlanOptions{SinkFree: -1}), CollectOptions{
		Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(), SinkHost: "127.0.0.1",
		Logger: quietLogger(), UnmountBackoff: 300 * time.Millisecond,
		Progress: func(p Progress) {
			if !p.Done && strings.HasSuffix(p.Item.Source, "-flat.vmdk") {
				flat = p.Item
				go func() {
					time.Sleep(200 * time.Millisecond)
					cancel()
				}()
			}
		},
	})
	if !errors.Is(err, context.Canceled) || flat.Size != 2<<30 {
		t.Fatalf("got %v (flat %+v), want cancellation during the disk copy", err, flat)
	}
	assertClean(t, e, before)
	var copyCmd *esxsim.Command
	for deadline := time.Now().Add(time.Minute); copyCmd == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, c := range e.host.Footprint() {
			if strings.HasPrefix(c.Line, "set -o pipefail") && strings.Contains(c.Line, "Ubuntu-flat.vmdk") {
				copyCmd = &c
			}
		}
	}
	if copyCmd == nil {
		t.Fatal("the copy never ended on the host")
	}
	if copyCmd.Exit == 0 {
		t.Errorf("the stopped copy exited 0")
	}
	fi, err := os.Stat(filepath.Join(hashlog.EvidenceDir(e.caseDir), filepath.FromSlash(flat.Dest)))
	if err != nil || fi.Size() >= flat.Size {
		t.Errorf("the sink holds %v bytes of %d (%v): the copy read on after the stop", fi.Size(), flat.Size, err)
	}
	// The stop itself: created before the snapshot is removed and the
	// mount detached (a real host's copy reads on after its session is
	// closed; that the copy obeys is TestStoppableCopyUnderBusybox's),
	// then removed.
	stopFile := "/tmp/esxsink-" + runIDOf(t, e) + ".stop"
	var order []string
	for _, c := range e.host.Footprint() {
		switch {
		case c.Line == ": > '"+stopFile+"'":
			order = append(order, "stop")
		case strings.HasPrefix(c.Line, "vim-cmd vmsvc/snapshot.remove "):
			order = append(order, "remove")
		case strings.HasPrefix(c.Line, "esxcfg-nas -d "):
			order = append(order, "unmount")
		case strings.HasPrefix(c.Line, "if [ -f '"+stopFile+"' ]; then rm -f"):
			order = append(order, "clear")
		}
	}
	if len(order) < 4 || order[0] != "stop" || order[len(order)-1] != "clear" {
		t.Errorf("cleanup order %v, want stop first and clear last", order)
	}
	if _, err := e.host.ReadFile(stopFile); err == nil {
		t.Error("the stop file was left on the host")
	}
	if n := custodyCount(t, e, custody.TypeAcquisitionNote, "asked the copies still running on the host to stop"); n != 1 {
		t.Errorf("%d custody notes of the stop", n)
	}
	assertFootprint(t, e)
}

// runIDOf reads the run id from the custody log's acquisition record.
func runIDOf(t *testing.T, e *simEnv) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.caseDir, "custody.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"run_id":"([0-9a-f]{8})"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no run id in the custody log")
	}
	return string(m[1])
}
