package orchestrator

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/hashlog"
)

const ubuntuFlat = "/vmfs/volumes/datastore1/Ubuntu/Ubuntu-flat.vmdk"

// mustRun returns a func that runs a built command on the host over e's
// connection, as a test's setup.
func mustRun(t *testing.T, e *simEnv) func(string, error) {
	return func(cmd string, err error) { runSetup(t, e, cmd, err) }
}

func runSetup(t *testing.T, e *simEnv, cmd string, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.runner.Run(context.Background(), cmd)
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("%s: %v %s %s", cmd, err, res.Stdout, res.Stderr)
	}
}

// examinerB is a second examiner on the same host: its own SSH
// connection and its own case.
type examinerB struct {
	runner *Runner
	log    *hashlog.Log
	dir    string
}

func secondExaminer(t *testing.T, e *simEnv) *examinerB {
	t.Helper()
	b := newSimCase(t)
	hk, _ := PinnedHostKey(e.host.Fingerprint())
	pw := e.host.Password()
	conn, err := DialSSH(context.Background(), SSHOptions{Addr: e.host.Addr().String(), User: e.host.User(), HostKey: hk,
		Password: func(context.Context, string, string, string) (string, error) { return pw, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r, err := NewRunner(conn, b.log, filepath.Join(b.caseDir, "host-commands"))
	if err != nil {
		t.Fatal(err)
	}
	return &examinerB{runner: r, log: b.log, dir: b.caseDir}
}

// cleanup is esxsink cleanup run by examiner B.
func (b *examinerB) cleanup(t *testing.T, e *simEnv, force bool) (*CleanupOutcome, error) {
	t.Helper()
	ctx := context.Background()
	inv, err := Discover(ctx, b.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	lefts, err := FindLeftovers(ctx, b.runner, inv)
	if err != nil {
		t.Fatal(err)
	}
	return UndoLeftovers(ctx, lefts, CleanupOptions{Runner: b.runner, Log: b.log, Host: e.conn.Addr(), UnmountBackoff: 50e6, Force: force, By: "examiner B"})
}

func snapshotsOf(e *simEnv, vmid int) []esxsim.SnapshotState {
	for _, vm := range e.host.State().VMs {
		if vm.ID == vmid {
			return vm.Snapshots
		}
	}
	return nil
}

// A customer snapshot named exactly like ours but described as theirs,
// and one named and described like ours that has a child: neither is
// ours to remove. Both survive a collect and a cleanup, and the VM's
// snapshot tree is as it was.
func TestCleanupLeavesLookAlikes(t *testing.T) {
	e := startSim(t, smallLab)
	mustRun(t, e)(esxi.CmdSnapshotCreate(1, "esxsink-deadbeef-vm1", "the customer's own, not esxsink's", false, false))
	mustRun(t, e)(esxi.CmdSnapshotCreate(1, "esxsink-cafef00d-vm1", snapshotDescription("cafef00d"), false, false))
	mustRun(t, e)(esxi.CmdSnapshotCreate(1, "customer child", "taken on top", false, false))
	tree := snapshotsOf(e, 1)
	if _, err := collectWith(context.Background(), t, e, []string{"Ubuntu"}, nil); err != nil {
		t.Fatalf("collect: %v", err)
	}
	out, err := secondExaminer(t, e).cleanup(t, e, true)
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if len(out.Undone) != 0 || len(out.LeftAlone) != 2 {
		t.Fatalf("cleanup outcome %+v", out)
	}
	for _, want := range []string{"is not the one esxsink gives", "1 child snapshot"} {
		if !strings.Contains(strings.Join(out.LeftAlone, "\n"), want) {
			t.Errorf("left alone %q does not say %q", out.LeftAlone, want)
		}
	}
	if got := snapshotsOf(e, 1); !reflect.DeepEqual(got, tree) {
		t.Errorf("the snapshot tree changed:\n%+v\nwas\n%+v", got, tree)
	}
	if st := e.host.State(); len(st.Mounts) != 0 {
		t.Errorf("mounts left: %+v", st.Mounts)
	}
	assertNoTmp(t, e)
}

// Examiner B runs cleanup while A's collect copies a slow running VM: B
// refuses, naming A's run, workstation and case; A completes, and its
// image is the disk at the moment of its own snapshot. A dead run's
// leftovers (a lease whose heartbeat stopped long ago) are refused
// without --force and undone with it.
func TestCleanupRefusesLiveRun(t *testing.T) {
	e := startSim(t, smallLab)
	before := snapCounts(e)
	b := secondExaminer(t, e)
	var atSnapshot string
	type result struct {
		out *CleanupOutcome
		err error
	}
	done := make(chan result, 1)
	_, rep, err := collectOpts(t, e, []string{"Ubuntu"}, false, false, func(o *CollectOptions) {
		o.Workstation, o.CaseID = "ws-examiner-a", "CASE-A"
		o.Progress = func(p Progress) {
			if p.Done || p.Item.Source != ubuntuFlat {
				return
			}
			data, err := e.host.ReadFile(ubuntuFlat) // frozen under our snapshot
			if err != nil {
				t.Error(err)
			}
			sum := md5.Sum(data)
			atSnapshot = hex.EncodeToString(sum[:])
			if err := e.host.AddFault(esxsim.Fault{Kind: esxsim.FaultSlowIO, Path: ubuntuFlat, Rate: 4 << 20}); err != nil {
				t.Error(err)
			}
			go func() {
				out, err := b.cleanup(t, e, true)
				done <- result{out, err}
			}()
		}
	})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	r := <-done
	if !errors.Is(r.err, ErrRefused) || len(r.out.Refused) != 1 || len(r.out.Undone) != 0 {
		t.Fatalf("cleanup during the collect: %v %+v", r.err, r.out)
	}
	for _, want := range []string{"run " + rep.RunID, "is alive", "ws-examiner-a", "CASE-A", "old"} {
		if !strings.Contains(r.out.Refused[0], want) {
			t.Errorf("refusal %q does not say %q", r.out.Refused[0], want)
		}
	}
	var flat *FileOutcome
	for i := range rep.Files {
		if rep.Files[i].Item.Source == ubuntuFlat {
			flat = &rep.Files[i]
		}
	}
	if flat == nil || !flat.Verified {
		t.Fatalf("the flat extent: %+v", flat)
	}
	data, err := os.ReadFile(filepath.Join(hashlog.EvidenceDir(e.caseDir), filepath.FromSlash(flat.Dest)))
	if err != nil {
		t.Fatal(err)
	}
	if sum := md5.Sum(data); hex.EncodeToString(sum[:]) != atSnapshot || atSnapshot == "" {
		t.Errorf("the image (md5 %x) is not the disk at our snapshot (md5 %s)", sum, atSnapshot)
	}
	assertClean(t, e, before)
	e.host.ClearFaults(esxsim.FaultSlowIO)

	// A dead run: its lease's heartbeat stopped in 1970 (the test hook).
	mustRun(t, e)(esxi.CmdNASAdd("127.0.0.1", "/esxsink", "esxsink-0badc0de"))
	mustRun(t, e)(esxi.CmdSnapshotCreate(1, "esxsink-0badc0de-vm1", snapshotDescription("0badc0de"), false, false))
	runSetup(t, e, "{ echo 'esxsink lease 1'; echo 'run 0badc0de'; echo 'workstation ws-dead'; echo 'case CASE-D'; echo 'pid 7'; echo 'heartbeat 1000'; } > /tmp/esxsink-0badc0de.lease", nil)
	out, err := b.cleanup(t, e, false)
	if !errors.Is(err, ErrRefused) || !errors.Is(err, ErrStaleLease) || !strings.Contains(strings.Join(out.Refused, ""), "by force") {
		t.Fatalf("a stale lease without --force: %v %+v", err, out)
	}
	if out, err = b.cleanup(t, e, true); err != nil || len(out.Undone) != 3 {
		t.Fatalf("a stale lease with --force: %v %+v", err, out)
	}
	assertClean(t, e, before)
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(b.dir))
	if err != nil {
		t.Fatal(err)
	}
	refused, released := 0, 0
	for _, rec := range recs {
		switch rec.Type {
		case custody.TypeCleanupRefused:
			refused++
		case custody.TypeLeaseReleased:
			released++
		}
	}
	if refused != 2 || released != 1 {
		t.Errorf("examiner B's log: %d cleanup.refused, %d lease.released", refused, released)
	}
}

// The SSH connection drops while our snapshot is being removed: collect
// reconnects, confirms the snapshot is gone, records it removed without
// an anomaly or advice, and collects the next VM.
func TestCollectSSHDropDuringSnapshotRemove(t *testing.T) {
	e := startSim(t, smallLab)
	before := snapCounts(e)
	if err := e.host.AddFault(esxsim.Fault{Kind: esxsim.FaultSSHDrop, Command: "vim-cmd vmsvc/snapshot.remove "}); err != nil {
		t.Fatal(err)
	}
	hk, _ := PinnedHostKey(e.host.Fingerprint())
	pw := e.host.Password()
	redials := 0
	_, rep, err := collectOpts(t, e, []string{"Ubuntu", "Unused server"}, false, false, func(o *CollectOptions) {
		o.Redial = func(ctx context.Context) (*Conn, error) {
			redials++
			c, err := DialSSH(ctx, SSHOptions{Addr: e.host.Addr().String(), User: e.host.User(), HostKey: hk,
				Password: func(context.Context, string, string, string) (string, error) { return pw, nil }})
			if err == nil {
				t.Cleanup(func() { c.Close() })
			}
			return c, err
		}
	})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	if e.host.FaultsFired()[esxsim.FaultSSHDrop] != 1 || redials != 1 {
		t.Fatalf("drop fired %d times, %d redials", e.host.FaultsFired()[esxsim.FaultSSHDrop], redials)
	}
	vms := map[string]bool{}
	for _, f := range rep.Files {
		vms[f.Item.VMName] = true
		if !f.Verified {
			t.Errorf("%s: %s", f.Item.Dest, f.Error)
		}
	}
	if !vms["Unused server"] {
		t.Error("the VM after the drop was not collected")
	}
	if n := custodyCount(t, e, custody.TypeSnapshotRemoved, "confirmed gone after the connection was lost"); n != 1 {
		t.Errorf("%d snapshot.removed records confirm the removal", n)
	}
	for _, typ := range []string{custody.TypeCleanupFailed, custody.TypeAnomaly, custody.TypeSnapshotVanished} {
		if n := custodyCount(t, e, typ, ""); n != 0 {
			t.Errorf("%d %s records", n, typ)
		}
	}
	if n := custodyCount(t, e, custody.TypeAcquisitionNote, "by hand"); n != 0 {
		t.Errorf("%d notes advise something by hand", n)
	}
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(e.caseDir))
	if err != nil {
		t.Fatal(err)
	}
	if a := custody.Assess(recs, nil); a.Verdict() != custody.Complete {
		t.Errorf("the case reads %s: %+v %+v", a.Verdict(), a.Problems, a.Anomalies)
	}
	assertClean(t, e, before)
}

// Ctrl-C while a 96 MiB disk (less than one old 256 MiB run of dd) copies
// under slow I/O: the host's dd stops within one bounded run, so the
// host is left as found within seconds: no mount, no snapshot, no lease,
// no FIFO.
func TestCollectCancelSingleRunUnderSlowIO(t *testing.T) {
	e := startSim(t, strings.Replace(smallLab, "size: 8MiB", "size: 96MiB", 1))
	before := snapCounts(e)
	if err := e.host.AddFault(esxsim.Fault{Kind: esxsim.FaultSlowIO, Path: ubuntuFlat, Rate: 8 << 20}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelled := make(chan time.Time, 1)
	_, _, err := collectCtx(ctx, t, e, []string{"Ubuntu"}, false, false, func(o *CollectOptions) {
		o.Progress = func(p Progress) {
			if p.Done || p.Item.Source != ubuntuFlat {
				return
			}
			go func() {
				// Cancel once the copy is writing into the sink.
				start := mountWritten(e)
				for tick := time.NewTicker(10 * time.Millisecond); mountWritten(e) <= start; <-tick.C {
				}
				cancelled <- time.Now()
				cancel()
			}()
		}
	})
	ended := time.Now()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the cancellation", err)
	}
	if d := ended.Sub(<-cancelled); d > 8*time.Second {
		t.Errorf("cleanup after Ctrl-C took %s", d)
	}
	assertClean(t, e, before)
}

func mountWritten(e *simEnv) int64 {
	var n int64
	for _, m := range e.host.State().Mounts {
		n += m.BytesWritten
	}
	return n
}

// The host loses the sink mid-run: the loss is found once, the sink is
// mounted again, the copies that failed on it are made again, and the
// run completes.
func TestCollectSinkLostAndBack(t *testing.T) {
	e := startSim(t, smallLab)
	before := snapCounts(e)
	if err := e.host.AddFault(esxsim.Fault{Kind: esxsim.FaultSinkUnreachable, AfterBytes: 6 << 20}); err != nil {
		t.Fatal(err)
	}
	_, rep, err := collectOpts(t, e, []string{"Ubuntu", "Unused server"}, false, false, func(o *CollectOptions) { o.Retries = 0 })
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	if e.host.FaultsFired()[esxsim.FaultSinkUnreachable] != 1 {
		t.Fatal("the sink was never lost")
	}
	for _, f := range rep.Files {
		if !f.Verified {
			t.Errorf("%s: %s", f.Item.Dest, f.Error)
		}
	}
	if n := custodyCount(t, e, custody.TypeAcquisitionNote, "the host lost the sink"); n != 1 {
		t.Errorf("the loss is recorded %d times", n)
	}
	if n := custodyCount(t, e, custody.TypeNASMounted, ""); n != 2 {
		t.Errorf("%d mounts, want the first and one again", n)
	}
	assertClean(t, e, before)
}

// Someone removes our snapshot while its disk is copied (a tool that
// does not respect our lease): collect notices, records the anomaly, and
// the file is not verified, in the run's outcome and in the case.
func TestCollectNoticesSnapshotRemovedUnderIt(t *testing.T) {
	e := startSim(t, smallLab)
	b := secondExaminer(t, e)
	var mu sync.Mutex
	running := map[string]bool{} // started and not yet ended, by dest
	_, rep, err := collectOpts(t, e, []string{"Ubuntu"}, false, false, func(o *CollectOptions) {
		o.Progress = func(p Progress) {
			mu.Lock()
			running[p.Item.Dest] = !p.Done
			mu.Unlock()
			if p.Done || p.Item.Source != ubuntuFlat {
				return
			}
			for _, s := range snapshotsOf(e, 1) {
				if _, err := b.runner.Run(context.Background(), esxi.CmdSnapshotRemove(1, s.ID)); err != nil {
					t.Error(err)
				}
			}
		}
	})
	if !errors.Is(err, ErrNotVerified) {
		t.Fatalf("got %v, want a file not verified", err)
	}
	// A file announced as started and then not copied (its snapshot
	// gone) is announced as ended too: no display keeps its bar.
	for dest, still := range running {
		if still {
			t.Errorf("%s started and never ended", dest)
		}
	}
	for _, f := range rep.Files {
		if f.Item.Source == ubuntuFlat && (f.Verified || !strings.Contains(f.Error, "vanished")) {
			t.Errorf("the flat extent read without our snapshot: %+v", f)
		}
	}
	if n := custodyCount(t, e, custody.TypeSnapshotVanished, ""); n != 1 || len(rep.Anomalies) != 1 {
		t.Errorf("%d snapshot.vanished records, anomalies %q", n, rep.Anomalies)
	}
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(e.caseDir))
	if err != nil {
		t.Fatal(err)
	}
	a := custody.Assess(recs, nil)
	if a.Verdict() != custody.Incomplete {
		t.Errorf("the case reads %s: %+v", a.Verdict(), a.Problems)
	}
	for _, p := range a.Problems {
		if strings.Contains(p.What, "not recorded as removed") {
			t.Errorf("a vanished snapshot is still a leftover: %s", p.What)
		}
	}
	assertClean(t, e, nil)
}
