package esxsim

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/internal/peer"
	"github.com/esxsink/esxsink/vmdk"
)

func (th *testHost) folder(dir string) []string {
	th.t.Helper()
	return lines(th.mustSSH("ls " + shQuote(dir)))
}

func diff(after, before []string) []string {
	var out []string
	for _, a := range after {
		if !slices.Contains(before, a) {
			out = append(out, a)
		}
	}
	return out
}

func (th *testHost) descriptor(p string) *vmdk.Descriptor {
	th.t.Helper()
	d, err := vmdk.ParseDescriptor(p, []byte(th.mustSSH("cat "+shQuote(p))))
	if err != nil {
		th.t.Fatal(err)
	}
	return d
}

// TestSnapshotCreateRemoveRunningVM takes two snapshots of the running
// VM over SSH and removes them: the file sets, the .vmsd, the .vmx, the
// delta descriptors and the locks must be what ESXi produces, and the
// folder must come back to its first state.
func TestSnapshotCreateRemoveRunningVM(t *testing.T) {
	th := startHost(t, loadScenario(t, "basic.yaml"), nil)
	dir := "/vmfs/volumes/datastore1/Ubuntu"
	before := th.folder(dir)
	mustEqual(t, "vmsd before", th.mustSSH("cat "+dir+"/Ubuntu.vmsd"), "")
	if r := th.ssh("publickey", "dd if="+dir+"/Ubuntu-flat.vmdk bs=1M count=1 of=/dev/null", nil); r.code != 1 ||
		r.stderr != "dd: can't open '"+dir+"/Ubuntu-flat.vmdk': Device or resource busy\n" {
		t.Fatalf("base disk of a running VM without snapshot: %+v", r)
	}

	mustEqual(t, "create", th.mustSSH(`vim-cmd vmsvc/snapshot.create 1 "esxsink 2024-001" "evidence acquisition" 0 0`), "Create Snapshot:\n")
	added := diff(th.folder(dir), before)
	mustEqual(t, "files made by the snapshot", added, []string{"Ubuntu-000001-sesparse.vmdk", "Ubuntu-000001.vmdk", "Ubuntu-Snapshot1.vmsn"})
	nodes := parseSnapshotTree(t, th.mustSSH("vim-cmd vmsvc/snapshot.get 1"))
	if len(nodes) != 1 || nodes[0].name != "esxsink 2024-001" || nodes[0].desc != "evidence acquisition" || nodes[0].state != "powered on" || nodes[0].id != "1" {
		t.Fatalf("tree %+v", nodes)
	}
	vmsd, err := vmdk.ParseVMSD("Ubuntu.vmsd", []byte(th.mustSSH("cat "+dir+"/Ubuntu.vmsd")))
	if err != nil {
		t.Fatal(err)
	}
	if vmsd.NumSnapshots != 1 || vmsd.CurrentUID != 1 || vmsd.LastUID != 1 || len(vmsd.Snapshots) != 1 ||
		vmsd.Snapshots[0].DisplayName != "esxsink 2024-001" || vmsd.Snapshots[0].FileName != "Ubuntu-Snapshot1.vmsn" ||
		len(vmsd.Snapshots[0].Disks) != 1 || vmsd.Snapshots[0].Disks[0] != (vmdk.SnapshotDisk{Node: "scsi0:0", FileName: "Ubuntu.vmdk"}) {
		t.Fatalf("vmsd %+v", vmsd)
	}
	mustEqual(t, "vmx disk", th.mustSSH("grep fileName "+dir+"/Ubuntu.vmx"), "scsi0:0.fileName = \"Ubuntu-000001.vmdk\"\n")
	base := th.descriptor(dir + "/Ubuntu.vmdk")
	delta := th.descriptor(dir + "/Ubuntu-000001.vmdk")
	if delta.CreateType != "seSparse" || delta.ParentFileNameHint != "Ubuntu.vmdk" || delta.ParentCID != base.CID ||
		len(delta.Extents) != 1 || delta.Extents[0].Type != vmdk.ExtentSESparse || delta.Extents[0].FileName != "Ubuntu-000001-sesparse.vmdk" ||
		delta.Extents[0].Sectors != base.Extents[0].Sectors {
		t.Fatalf("delta descriptor %+v (base CID %08x)", delta, base.CID)
	}
	// The base now has a read-only lock and can be read; the running
	// delta, the swap files and the .vmx lock cannot.
	th.mustSSH("dd if=" + dir + "/Ubuntu-flat.vmdk bs=1M count=1 of=/dev/null")
	for _, f := range []string{"Ubuntu-000001-sesparse.vmdk", "Ubuntu.vmx.lck", "Ubuntu-2522deaa.vswp"} {
		r := th.ssh("publickey", "cat "+dir+"/"+f+" >/dev/null", nil)
		if r.code != 1 || r.stderr != "cat: can't open '"+dir+"/"+f+"': Device or resource busy\n" {
			t.Fatalf("cat %s: %+v", f, r)
		}
	}

	// A second snapshot, with memory.
	prev := th.folder(dir)
	th.mustSSH(`vim-cmd vmsvc/snapshot.create 1 second "" 1 0`)
	mustEqual(t, "files of a memory snapshot", diff(th.folder(dir), prev),
		[]string{"Ubuntu-000002-sesparse.vmdk", "Ubuntu-000002.vmdk", "Ubuntu-Snapshot2.vmem", "Ubuntu-Snapshot2.vmsn"})
	th.mustSSH("dd if=" + dir + "/Ubuntu-000001-sesparse.vmdk bs=1M of=/dev/null")
	nodes = parseSnapshotTree(t, th.mustSSH("vim-cmd vmsvc/snapshot.get 1"))
	if len(nodes) != 2 || nodes[1].depth != 1 || nodes[1].name != "second" || nodes[1].desc != "" {
		t.Fatalf("tree %+v", nodes)
	}
	d2 := th.descriptor(dir + "/Ubuntu-000002.vmdk")
	d1 := th.descriptor(dir + "/Ubuntu-000001.vmdk")
	if d2.ParentFileNameHint != "Ubuntu-000001.vmdk" || d2.ParentCID != d1.CID {
		t.Fatalf("second delta %+v, first CID %08x", d2, d1.CID)
	}
	vmsd, _ = vmdk.ParseVMSD("Ubuntu.vmsd", []byte(th.mustSSH("cat "+dir+"/Ubuntu.vmsd")))
	if vmsd.NumSnapshots != 2 || vmsd.CurrentUID != 2 || vmsd.Snapshots[1].ParentUID != 1 || vmsd.Snapshots[1].Disks[0].FileName != "Ubuntu-000001.vmdk" {
		t.Fatalf("vmsd %+v", vmsd)
	}

	// qemu-img follows the produced chain (metadata only: the 8 GiB
	// base is a sparse stand-in).
	qemu := peer.Require(t, "qemu-img")
	local := t.TempDir()
	for _, f := range []string{"Ubuntu.vmdk", "Ubuntu-000001.vmdk", "Ubuntu-000001-sesparse.vmdk"} {
		if err := th.CopyFile(dir+"/"+f, filepath.Join(local, f)); err != nil {
			t.Fatal(err)
		}
	}
	if f, err := os.Create(filepath.Join(local, "Ubuntu-flat.vmdk")); err != nil || f.Truncate(8<<30) != nil || f.Close() != nil {
		t.Fatalf("sparse stand-in for the base: %v", err)
	}
	out, err := exec.Command(qemu, "info", "--backing-chain", filepath.Join(local, "Ubuntu-000001.vmdk")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Ubuntu-000001.vmdk") || !strings.Contains(string(out), "backing file: Ubuntu.vmdk") {
		t.Fatalf("qemu-img info --backing-chain: %v\n%s", err, out)
	}

	// Remove the newest snapshot, then the first: each consolidates.
	mustEqual(t, "remove 2", th.mustSSH("vim-cmd vmsvc/snapshot.remove 1 2"), "Remove Snapshot:\n"+strings.TrimPrefix(th.mustSSH("vim-cmd vmsvc/snapshot.get 1"), "Get Snapshot:\n"))
	mustEqual(t, "files after removing 2", diff(th.folder(dir), before), []string{"Ubuntu-000001-sesparse.vmdk", "Ubuntu-000001.vmdk", "Ubuntu-Snapshot1.vmsn"})
	if r := th.ssh("publickey", "cat "+dir+"/Ubuntu-000001-sesparse.vmdk >/dev/null", nil); r.code != 1 {
		t.Fatal("after consolidating the newest delta the VM runs on the first, which must be locked again")
	}
	mustEqual(t, "vmx after removing 2", th.mustSSH("grep fileName "+dir+"/Ubuntu.vmx"), "scsi0:0.fileName = \"Ubuntu-000001.vmdk\"\n")
	th.mustSSH("vim-cmd vmsvc/snapshot.remove 1 1")
	after := th.folder(dir)
	mustEqual(t, "folder after removing every snapshot", after, before)
	mustEqual(t, "tree", th.mustSSH("vim-cmd vmsvc/snapshot.get 1"), "Get Snapshot:\n")
	mustEqual(t, "vmsd after", th.mustSSH("cat "+dir+"/Ubuntu.vmsd"), ".encoding = \"UTF-8\"\nsnapshot.lastUID = \"2\"\nsnapshot.needConsolidate = \"FALSE\"\n")
	mustEqual(t, "vmx after", th.mustSSH("grep fileName "+dir+"/Ubuntu.vmx"), "scsi0:0.fileName = \"Ubuntu.vmdk\"\n")
	st := th.State()
	if len(st.VMs[0].Snapshots) != 0 || len(st.VMs[0].Disks[0].Deltas) != 0 || !slices.Contains(st.Locks, th.sc.Datastores[0].UUID2Path()+"/Ubuntu/Ubuntu-flat.vmdk") {
		t.Fatalf("state after removal: %+v", st)
	}
}

// UUID2Path is the datastore's physical path.
func (d Datastore) UUID2Path() string { return "/vmfs/volumes/" + d.UUID }

// readRaw converts a chain to raw bytes with qemu-img.
func qemuRaw(t *testing.T, top string) []byte {
	t.Helper()
	qemu := peer.Require(t, "qemu-img")
	out := filepath.Join(t.TempDir(), "out.raw")
	if b, err := exec.Command(qemu, "convert", "-f", "vmdk", "-O", "raw", top, out).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert %s: %v\n%s", top, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func vmdkRaw(t *testing.T, top string) []byte {
	t.Helper()
	d, err := vmdk.Open(top, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b := make([]byte, d.Size())
	if _, err := d.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSnapshotChainsReadable copies produced snapshot chains off the host,
// a COWD one (VMFS-5) with a known guest write and the seSparse tree of
// full.yaml, and reads them with qemu-img and with the vmdk package: both
// must agree, and the guest's write must be where it was made. Removing
// the snapshot then consolidates the write into the base disk.
func TestSnapshotChainsReadable(t *testing.T) {
	th := startHost(t, loadScenario(t, "full.yaml"), nil)
	dir := "/vmfs/volumes/Old SAN [LUN 5]/web01"
	th.mustSSH("vim-cmd vmsvc/snapshot.create 13 acq")
	pattern := bytes.Repeat([]byte("esxsim guest write\n"), 3500)[:64<<10]
	if err := th.GuestWrite("web01", 0, 1<<20, pattern); err != nil {
		t.Fatal(err)
	}
	th.mustSSH("vim-cmd vmsvc/snapshot.create 13 acq2") // finishes web01-000001
	local := t.TempDir()
	for _, f := range []string{"web01.vmdk", "web01-flat.vmdk", "web01-000001.vmdk", "web01-000001-delta.vmdk"} {
		if err := th.CopyFile(dir+"/"+f, filepath.Join(local, f)); err != nil {
			t.Fatal(err)
		}
	}
	top := filepath.Join(local, "web01-000001.vmdk")
	q, v := qemuRaw(t, top), vmdkRaw(t, top)
	if len(q) != 48<<20 || !bytes.Equal(q, v) {
		t.Fatalf("qemu-img (%d bytes) and the vmdk package (%d bytes) disagree on the COWD chain", len(q), len(v))
	}
	if !bytes.Equal(q[1<<20:1<<20+len(pattern)], pattern) {
		t.Fatal("the guest's write is not in the chain read by qemu-img")
	}
	flat, _ := os.ReadFile(filepath.Join(local, "web01-flat.vmdk"))
	if bytes.Equal(flat[1<<20:1<<20+len(pattern)], pattern) {
		t.Fatal("the guest's write went to the base disk instead of the delta")
	}

	// full.yaml's seSparse tree: the branch "after patch"/"pre-upgrade"
	// is closed and readable.
	mail := "/vmfs/volumes/datastore1/Mail [legacy]"
	for _, f := range []string{"Mail [legacy].vmdk", "Mail [legacy]-flat.vmdk", "Mail [legacy]-000001.vmdk", "Mail [legacy]-000001-sesparse.vmdk",
		"Mail [legacy]-000002.vmdk", "Mail [legacy]-000002-sesparse.vmdk"} {
		if err := th.CopyFile(mail+"/"+f, filepath.Join(local, f)); err != nil {
			t.Fatal(err)
		}
	}
	top = filepath.Join(local, "Mail [legacy]-000002.vmdk")
	q, v = qemuRaw(t, top), vmdkRaw(t, top)
	base, _ := os.ReadFile(filepath.Join(local, "Mail [legacy]-flat.vmdk"))
	if len(q) != 96<<20 || !bytes.Equal(q, v) || bytes.Equal(q, base) {
		t.Fatalf("seSparse chain: qemu-img and vmdk agree=%v, differs from base=%v", bytes.Equal(q, v), !bytes.Equal(q, base))
	}

	// Consolidation: remove both web01 snapshots, power the VM off and
	// read the base disk where the guest wrote.
	th.mustSSH("vim-cmd vmsvc/snapshot.remove 13 2")
	th.mustSSH("vim-cmd vmsvc/snapshot.remove 13 1")
	th.mustSSH("vim-cmd vmsvc/power.off 13")
	got := th.mustSSH(fmt.Sprintf("dd if=%s bs=64k skip=16 count=1 2>/dev/null | md5sum", shQuote(dir+"/web01-flat.vmdk")))
	mustEqual(t, "base after consolidation", got, fmt.Sprintf("%x  -\n", md5.Sum(pattern)))
	if st := th.State(); len(st.VMs[2].Disks[0].Deltas) != 0 {
		t.Fatalf("deltas left after consolidation: %v", st.VMs[2].Disks[0].Deltas)
	}
}

// A running VM's current delta takes the guest's writes in flight when a
// snapshot freezes it: it is bigger once frozen than when it was listed,
// as on a real host, in vmfsSparse (VMFS-5) and seSparse (VMFS-6).
func TestSnapshotOfRunningVMGrowsItsCurrentDelta(t *testing.T) {
	for _, tc := range []struct{ vmfs, ext string }{{"VMFS-5", "Web-000001-delta.vmdk"}, {"VMFS-6", "Web-000001-sesparse.vmdk"}} {
		t.Run(tc.vmfs, func(t *testing.T) {
			sc, err := ParseScenario([]byte(`
host: {hostname: esx-snap, version: 8.0.2, build: "22380479", user: root, password: "Snap-Lab-1!"}
datastores:
  - {name: datastore1, type: ` + tc.vmfs + `}
vms:
  - {id: 1, name: Web, guest_os: ubuntu64Guest, power: "on", memory_mb: 16, disks: [{size: 8MiB, kind: thin}],
     snapshots: [{name: before patch}]}
`))
			if err != nil {
				t.Fatal(err)
			}
			th := startHost(t, sc, nil)
			ext := shQuote("/vmfs/volumes/datastore1/Web/" + tc.ext)
			var before, after int64
			fmt.Sscan(th.mustSSH("stat -c %s "+ext), &before)
			mustEqual(t, "create", th.mustSSH(`vim-cmd vmsvc/snapshot.create 1 ours "" 0 0`), "Create Snapshot:\n")
			fmt.Sscan(th.mustSSH("stat -c %s "+ext), &after)
			if before <= 0 || after <= before {
				t.Fatalf("%s: %d bytes before the snapshot, %d once frozen; want it to grow", tc.ext, before, after)
			}
			// Frozen, it reads whole at that size.
			if got := th.mustSSH("cat " + ext); int64(len(got)) != after {
				t.Errorf("the frozen delta reads %d bytes, stat says %d", len(got), after)
			}
		})
	}
}
