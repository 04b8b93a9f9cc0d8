package esxsim

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// faultsHost starts faults.yaml keeping only the faults of one kind, so
// each test sees the failure it is about and nothing else.
func faultsHost(t *testing.T, kind string, withSink bool) (*testHost, *testSink) {
	t.Helper()
	sc := loadScenario(t, "faults.yaml")
	var keep []Fault
	for _, f := range sc.Faults {
		if f.Kind == kind {
			keep = append(keep, f)
		}
	}
	if len(keep) == 0 {
		t.Fatalf("faults.yaml has no %s fault", kind)
	}
	sc.Faults = keep
	if !withSink {
		return startHost(t, sc, nil), nil
	}
	ts := startSink(t)
	return startHost(t, sc, func(c *Config) { c.PortmapPort = ts.PortmapPort; c.MountTimeout = 3 * time.Second }), ts
}

const brokenFlat = "/vmfs/volumes/datastore1/Broken disk/Broken disk-flat.vmdk"

func TestFaultBadSectors(t *testing.T) {
	th, _ := faultsHost(t, FaultBadSectors, false)
	src := shQuote(brokenFlat)
	ioErr := "dd: " + brokenFlat + ": Input/output error\n"

	// Without noerror dd stops at the bad block, with no summary.
	r := th.ssh("publickey", "dd if="+src+" bs=4k of=/dev/null", nil)
	if r.code != 1 || r.stderr != ioErr {
		t.Fatalf("dd without noerror: %+v", r)
	}
	// conv=noerror,sync: the bad 4 KiB block becomes zeros, offsets kept.
	r = th.ssh("publickey", "dd if="+src+" bs=4k conv=noerror,sync", nil)
	if r.code != 0 || r.stderr != ioErr+"4095+1 records in\n4096+0 records out\n" || len(r.stdout) != 16<<20 {
		t.Fatalf("dd conv=noerror,sync bs=4k: exit %d, %d bytes, stderr %q", r.code, len(r.stdout), r.stderr)
	}
	good := th.ssh("publickey", "dd if="+src+" bs=4k count=1280 2>/dev/null", nil).stdout
	if len(good) != 5<<20 || r.stdout[:5<<20] != good {
		t.Fatal("bytes before the bad block differ")
	}
	if !bytes.Equal([]byte(r.stdout[5<<20:5<<20+4096]), make([]byte, 4096)) {
		t.Fatal("the unreadable block is not zero-filled")
	}
	after := th.ssh("publickey", "dd if="+src+" bs=4k skip=1281 2>/dev/null", nil).stdout
	if r.stdout[5<<20+4096:] != after {
		t.Fatal("bytes after the bad block moved")
	}
	// With bs=1M the whole megabyte around the bad sector is lost.
	r = th.ssh("publickey", "dd if="+src+" bs=1M conv=noerror,sync | md5sum", nil)
	if r.code != 0 || r.stderr != ioErr+"15+1 records in\n16+0 records out\n" {
		t.Fatalf("bs=1M: %+v", r)
	}
	// conv=noerror alone drops the block: everything after shifts.
	r = th.ssh("publickey", "dd if="+src+" bs=1M conv=noerror | wc -c", nil)
	if r.stdout != fmt.Sprintf("%d\n", 15<<20) {
		t.Fatalf("conv=noerror without sync: %+v", r)
	}
	if th.FaultsFired()[FaultBadSectors] < 4 {
		t.Fatalf("fault fired %v", th.FaultsFired())
	}
}

func TestFaultSSHDrop(t *testing.T) {
	th, _ := faultsHost(t, FaultSSHDrop, false)
	r := th.ssh("publickey", "dd if="+shQuote(brokenFlat)+" bs=1M", nil)
	if r.code != 255 || len(r.stdout) >= 16<<20 {
		t.Fatalf("connection not dropped: exit %d after %d bytes (%s)", r.code, len(r.stdout), r.stderr)
	}
	// Only one connection is dropped; the examiner reconnects and the
	// footprint shows the interrupted command.
	r = th.ssh("publickey", "dd if="+shQuote(brokenFlat)+" bs=1M 2>/dev/null | md5sum", nil)
	if r.code != 0 || len(r.stdout) != 36 {
		t.Fatalf("second connection: %+v", r)
	}
	fp := th.Footprint()
	if len(fp) != 2 || fp[0].Exit == 0 {
		t.Fatalf("footprint %+v", fp)
	}
	mustEqual(t, "fired", th.FaultsFired()[FaultSSHDrop], 1)
}

// An ssh_drop with a command lets the command run to its end, then cuts
// the connection before its output or status reach the client.
func TestFaultSSHDropAfterCommand(t *testing.T) {
	th, _ := faultsHost(t, FaultSSHDrop, false)
	th.ClearFaults(FaultSSHDrop)
	if err := th.AddFault(Fault{Kind: FaultSSHDrop, Command: "mkdir /tmp/x"}); err != nil {
		t.Fatal(err)
	}
	r := th.ssh("publickey", "mkdir /tmp/x && echo made", nil)
	if r.code != 255 || len(r.stdout) != 0 {
		t.Fatalf("connection not dropped: %+v", r)
	}
	if r = th.ssh("publickey", "ls -d /tmp/x", nil); r.code != 0 {
		t.Fatalf("the command did not run before the drop: %+v", r)
	}
	mustEqual(t, "fired", th.FaultsFired()[FaultSSHDrop], 1)
	if err := th.AddFault(Fault{Kind: FaultSSHDrop}); err == nil {
		t.Error("ssh_drop without after_bytes or command accepted")
	}
}

func TestFaultSinkUnreachable(t *testing.T) {
	th, _ := faultsHost(t, FaultSinkUnreachable, true)
	r := th.ssh("publickey", "esxcfg-nas -a -o 127.0.0.1 -s /esxsink evidence", nil)
	if r.code != 1 || !strings.Contains(r.stdout, "Unable to connect to NFS server") {
		t.Fatalf("first mount: %+v", r)
	}
	if !strings.Contains(th.mustSSH("cat /var/log/vmkernel.log"), "trying to get port for Mount Program (100005) Version (3) Protocol (TCP) on Server (127.0.0.1)") {
		t.Fatal("vmkernel.log lacks the portmapper timeout")
	}
	th.mustSSH("esxcfg-nas -a -o 127.0.0.1 -s /esxsink evidence")
	// The sink goes away mid-copy.
	if err := th.AddFault(Fault{Kind: FaultSinkUnreachable, AfterBytes: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	r = th.ssh("publickey", "dd if="+shQuote(brokenFlat)+" of=/vmfs/volumes/evidence/disk.img bs=1M count=1", nil)
	if r.code != 0 {
		t.Fatalf("copy before the loss: %+v", r)
	}
	r = th.ssh("publickey", "dd if=/vmfs/volumes/datastore1/Ubuntu/Ubuntu.nvram of=/vmfs/volumes/evidence/x bs=1M; dd if="+shQuote(brokenFlat)+" of=/vmfs/volumes/evidence/disk2.img bs=1M conv=noerror,sync", nil)
	if r.code != 1 || !strings.Contains(r.stderr, "Input/output error") {
		t.Fatalf("copy while the sink is gone: %+v", r)
	}
	mustEqual(t, "esxcfg-nas -l", th.mustSSH("esxcfg-nas -l"), "evidence is /esxsink from 127.0.0.1 mounted unavailable\n")
	th.mustSSH("esxcfg-nas -d evidence")
	if len(th.State().Mounts) != 0 {
		t.Fatal("mount left behind")
	}
}

func TestFaultNFSWriteError(t *testing.T) {
	th, ts := faultsHost(t, FaultNFSWriteError, true)
	th.mustSSH("esxcfg-nas -a -o 127.0.0.1 -s /esxsink evidence")
	r := th.ssh("publickey", "dd if="+shQuote(brokenFlat)+" of=/vmfs/volumes/evidence/disk.img bs=1M conv=noerror,sync", nil)
	if r.code != 1 || !strings.Contains(r.stderr, "No space left on device") {
		t.Fatalf("dd onto a failing sink: %+v", r)
	}
	if !strings.Contains(th.mustSSH("cat /var/log/vmkernel.log"), "NFS3ERR_NOSPC") {
		t.Fatal("vmkernel.log lacks the failed write")
	}
	res, err := ts.Finalize(context.Background(), "disk.img", "test", -1, false)
	if err != nil || res.Size >= 16<<20 {
		t.Fatalf("the sink received %d bytes (%v); the copy should have stopped", res.Size, err)
	}
	th.mustSSH("esxcfg-nas -d evidence")
}

func TestFaultSlowIO(t *testing.T) {
	th, _ := faultsHost(t, FaultSlowIO, false)
	log := "/vmfs/volumes/datastore1/Broken disk/vmware.log"
	start := time.Now()
	th.mustSSH("cat " + shQuote(log) + " >/dev/null")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("slow read took only %v", d)
	}
	if th.FaultsFired()[FaultSlowIO] == 0 {
		t.Fatal("slow_io never fired")
	}
	before := th.FaultsFired()[FaultSlowIO]
	th.mustSSH("cat '/vmfs/volumes/datastore1/Broken disk/Broken disk.vmx' >/dev/null")
	if th.FaultsFired()[FaultSlowIO] != before {
		t.Fatal("slow_io slowed a file it does not name")
	}
}

func TestFaultSnapshotCreate(t *testing.T) {
	th, _ := faultsHost(t, FaultSnapshotCreate, false)
	r := th.ssh("publickey", "vim-cmd vmsvc/snapshot.create 1 acq 'evidence' 0 0", nil)
	if r.code != 1 || r.stdout != "Create Snapshot:\nCreate snapshot failed\n" {
		t.Fatalf("failing snapshot: %+v", r)
	}
	mustEqual(t, "tree after the failure", th.mustSSH("vim-cmd vmsvc/snapshot.get 1"), "Get Snapshot:\n")
	if r := th.ssh("publickey", "ls /vmfs/volumes/datastore1/Ubuntu/Ubuntu-000001.vmdk", nil); r.code == 0 {
		t.Fatal("a failed snapshot left a delta")
	}
	// Another VM is unaffected, and the retry succeeds.
	th.mustSSH("vim-cmd vmsvc/snapshot.create 3 other")
	th.mustSSH("vim-cmd vmsvc/snapshot.create 1 acq 'evidence' 0 0")
	if n := len(parseSnapshotTree(t, th.mustSSH("vim-cmd vmsvc/snapshot.get 1"))); n != 1 {
		t.Fatalf("%d snapshots after the retry", n)
	}
}

func TestFaultUnmountBusy(t *testing.T) {
	th, _ := faultsHost(t, FaultUnmountBusy, true)
	th.mustSSH("esxcfg-nas -a -o 127.0.0.1 -s /esxsink evidence")
	for i := range 2 {
		r := th.ssh("publickey", "esxcfg-nas -d evidence", nil)
		if r.code != 1 || r.stdout != "Error performing operation: NFS Error: Unable to Unmount filesystem: Busy.\n" {
			t.Fatalf("unmount %d: %+v", i+1, r)
		}
		if len(th.State().Mounts) != 1 {
			t.Fatal("a busy unmount removed the volume")
		}
	}
	r := th.ssh("publickey", "esxcli storage nfs remove -v evidence", nil)
	if r.code != 0 || len(th.State().Mounts) != 0 {
		t.Fatalf("third unmount: %+v", r)
	}
}

func TestFaultChangingData(t *testing.T) {
	th, _ := faultsHost(t, FaultChangingData, false)
	lun := "/vmfs/devices/disks/naa.600508b1001c7e4d2f9a3b5c6d7e8f90"
	a := th.mustSSH("md5sum " + lun)
	b := th.mustSSH("md5sum " + lun)
	if a == b {
		t.Fatal("two reads of the in-use LUN gave the same hash")
	}
	// Outside the changing range the reads agree.
	x := th.mustSSH("dd if=" + lun + " bs=1M skip=2 2>/dev/null | md5sum")
	y := th.mustSSH("dd if=" + lun + " bs=1M skip=2 2>/dev/null | md5sum")
	mustEqual(t, "stable range", x, y)
	// A single pass (dd | tee | md5sum) hashes exactly what it copies.
	r := th.ssh("publickey", "dd if="+lun+" bs=1M 2>/dev/null | tee /tmp/lun.img | md5sum; md5sum /tmp/lun.img", nil)
	ls := lines(r.stdout)
	if len(ls) != 2 || ls[0][:32] != ls[1][:32] {
		t.Fatalf("single pass: %q", r.stdout)
	}
}

// A read error of a file redirected into a command (md5sum < FILE) fails
// the command, as on a real host: the shell library turns it into end of
// file, which would hash a prefix and exit 0.
func TestRedirectedReadErrorFailsTheCommand(t *testing.T) {
	th := startSFTPHost(t)
	if err := th.AddFault(Fault{Kind: FaultBadSectors, Path: sftpOffDisk, Offset: 3 << 20, Length: 4096}); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"md5sum < '" + sftpOffDisk + "'", "sha256sum < '" + sftpOffDisk + "'", "md5sum '" + sftpOffDisk + "'"} {
		stdout, stderr, code := th.Exec(context.Background(), cmd)
		if code == 0 || !strings.Contains(stderr, "I/O error") && !strings.Contains(stderr, "Input/output error") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", cmd, code, stdout, stderr)
		}
	}
	// The error is the command's own: the next command is not blamed.
	if _, stderr, code := th.Exec(context.Background(), "md5sum < /etc/hosts"); code != 0 {
		t.Errorf("md5sum < /etc/hosts after the failure: exit %d %q", code, stderr)
	}
}

// growing_file: each open for reading appends to db01's vmware.log and
// moves its mtime on; stat, which opens nothing, sees it grow.
func TestFaultGrowingFile(t *testing.T) {
	th, _ := faultsHost(t, FaultGrowingFile, false)
	log := shQuote("/vmfs/volumes/datastore1/db01/vmware.log")
	statLine := func() (size, mtime int64) {
		t.Helper()
		if _, err := fmt.Sscan(th.mustSSH("stat -c '%s %Y' "+log), &size, &mtime); err != nil {
			t.Fatal(err)
		}
		return size, mtime
	}
	size0, mtime0 := statLine()
	if again, _ := statLine(); again != size0 {
		t.Fatalf("stat alone grew the log: %d, then %d", size0, again)
	}
	// cat sees the bytes that landed when it opened the file.
	if got := th.mustSSH("cat " + log); int64(len(got)) != size0+2048 || !strings.Contains(got[size0:], "the guest wrote on") {
		t.Fatalf("cat read %d bytes, want %d ending in the appended lines", len(got), size0+2048)
	}
	// dd reading a fixed size still makes the file grow underneath it.
	if r := th.ssh("publickey", fmt.Sprintf("dd if=%s bs=1 count=%d 2>/dev/null", log, size0), nil); r.code != 0 || int64(len(r.stdout)) != size0 {
		t.Fatalf("dd: %+v", r)
	}
	size2, mtime2 := statLine()
	if size2 != size0+2*2048 || mtime2 < mtime0 {
		t.Errorf("after two reads: %d bytes (mtime %d), want %d (mtime not before %d)", size2, mtime2, size0+2*2048, mtime0)
	}
	if n := th.FaultsFired()[FaultGrowingFile]; n != 2 {
		t.Errorf("growing_file fired %d times, want 2", n)
	}
}

// rdm_query_fail: vmkfstools -q fails for the matching descriptor only,
// as often as it is asked; other disks answer as before.
func TestFaultRDMQueryFail(t *testing.T) {
	th, _ := faultsHost(t, FaultBadSectors, false)
	const lun = "/vmfs/volumes/datastore1/db01/db01_lun.vmdk"
	if r := th.ssh("publickey", "vmkfstools -q "+shQuote(lun), nil); r.code != 0 || !strings.Contains(r.stdout, "Passthrough Raw Device Mapping") {
		t.Fatalf("before the fault: %+v", r)
	}
	if err := th.AddFault(Fault{Kind: FaultRDMQueryFail, Path: lun}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r := th.ssh("publickey", "vmkfstools -q "+shQuote(lun), nil)
		if r.code != 1 || r.stdout != "Failed to open disk "+lun+": Device or resource busy\n" {
			t.Fatalf("with the fault: %+v", r)
		}
	}
	if r := th.ssh("publickey", "vmkfstools -q '/vmfs/volumes/datastore1/db01/db01.vmdk'", nil); r.code != 1 || !strings.Contains(r.stdout, "is not a Raw Device Mapping") {
		t.Errorf("another disk: %+v", r)
	}
	if n := th.FaultsFired()[FaultRDMQueryFail]; n != 2 {
		t.Errorf("fired %d times, want 2", n)
	}
}
