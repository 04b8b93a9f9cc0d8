package vmdk

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An own .vmsd in ESXi's style: three snapshots, the third branching
// from the first; snapshot 2's low time half printed negative.
const testVMSD = `.encoding = "UTF-8"
snapshot.lastUID = "7"
snapshot.current = "5"
snapshot.numSnapshots = "3"
snapshot.needConsolidate = "TRUE"
snapshot0.uid = "3"
snapshot0.filename = "case-vm-Snapshot3.vmsn"
snapshot0.displayName = "clean install"
snapshot0.description = "before the incident"
snapshot0.type = "1"
snapshot0.createTimeHigh = "388745"
snapshot0.createTimeLow = "1991180826"
snapshot0.numDisks = "1"
snapshot0.disk0.fileName = "base.vmdk"
snapshot0.disk0.node = "scsi0:0"
snapshot1.uid = "5"
snapshot1.parent = "3"
snapshot1.filename = "case-vm-Snapshot5.vmsn"
snapshot1.displayName = "after cowd"
snapshot1.createTimeHigh = "400000"
snapshot1.createTimeLow = "-5"
snapshot1.numDisks = "1"
snapshot1.disk0.fileName = "base-000001.vmdk"
snapshot1.disk0.node = "scsi0:0"
snapshot2.uid = "7"
snapshot2.parent = "3"
snapshot2.displayName = "after cowd"
snapshot2.disk0.fileName = "/vmfs/volumes/datastore1/case-vm/base-000003.vmdk"
snapshot2.disk0.node = "scsi0:0"
snapshot.mru0.uid = "5"
`

func TestParseVMSD(t *testing.T) {
	t.Parallel()
	v, err := ParseVMSD("case-vm.vmsd", []byte(testVMSD))
	if err != nil {
		t.Fatal(err)
	}
	if v.LastUID != 7 || v.CurrentUID != 5 || v.NumSnapshots != 3 || !v.NeedConsolidate || len(v.Snapshots) != 3 {
		t.Fatalf("parsed %+v", v)
	}
	s := v.Snapshots[0]
	if s.UID != 3 || s.ParentUID != 0 || s.DisplayName != "clean install" || s.Description != "before the incident" ||
		s.FileName != "case-vm-Snapshot3.vmsn" || len(s.Disks) != 1 || s.Disks[0] != (SnapshotDisk{"scsi0:0", "base.vmdk"}) {
		t.Errorf("snapshot0 %+v", s)
	}
	if want := time.Date(2022, 11, 28, 15, 24, 12, 0, time.UTC); !s.CreateTime.Truncate(time.Second).Equal(want) {
		t.Errorf("create time %v, want %v", s.CreateTime, want)
	}
	// A negative low half is the unsigned value minus 2^32.
	if got, want := v.Snapshots[1].CreateTime, time.UnixMicro(400000<<32+(1<<32-5)).UTC(); !got.Equal(want) {
		t.Errorf("create time with negative low half %v, want %v", got, want)
	}
	// No sentinel for these two: the CLI makes any Find error a usage
	// error, and the message, listing what the examiner may type
	// instead, is the product.
	if _, err := v.Find("after cowd"); err == nil || !strings.Contains(err.Error(), "uids 5, 7") {
		t.Errorf("ambiguous name: %v", err)
	}
	if s, err := v.Find("7"); err != nil || s.Slot != 2 {
		t.Errorf("find by uid: %v %+v", err, s)
	}
	if _, err := v.Find("nope"); err == nil || !strings.Contains(err.Error(), `"clean install" (uid 3)`) {
		t.Errorf("missing name: %v", err)
	}
	for _, bad := range []string{"snapshot0.uid = \"x\"\n", "snapshot0.displayName = \"a\"\n", "garbage\n", "snapshot.current = \"-1\"\n"} {
		if _, err := ParseVMSD("bad.vmsd", []byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if v, err := ParseVMSD("empty.vmsd", nil); err != nil || len(v.Snapshots) != 0 {
		t.Errorf("empty .vmsd (no snapshots): %v", err)
	}
}

// TestSnapshotStates converts the disk as it was at each snapshot of our
// chain, including a snapshot on another branch of the tree.
func TestSnapshotStates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := buildOwnChain(t, dir)
	// A branch: a second delta of base-000001, holding other data.
	bw, err := CreateSnapshotDelta(filepath.Join(dir, "base-000001.vmdk"), filepath.Join(dir, "base-000003.vmdk"), SESparse, nil)
	if err != nil {
		t.Fatal(err)
	}
	bw.WriteAt([]byte("branch"), 7*mib)
	bw.Close()
	vmsdPath := filepath.Join(dir, "case-vm.vmsd")
	os.WriteFile(vmsdPath, []byte(testVMSD), 0o644)
	if p, err := FindVMSD(filepath.Join(dir, "base-000002.vmdk")); err != nil || p != vmsdPath {
		t.Fatalf("FindVMSD: %q %v", p, err)
	}
	v, err := ReadVMSD(vmsdPath)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(filepath.Join(dir, "base-000002.vmdk"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tc := range []struct{ snap, want string }{
		{"clean install", c.want["base.vmdk"]},
		{"5", c.want["base-000001.vmdk"]},
	} {
		s, err := d.AtSnapshot(v, tc.snap, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := convertDisk(t, s, filepath.Join(t.TempDir(), "o.raw")); got != tc.want {
			t.Errorf("snapshot %q: %s, want %s", tc.snap, got, tc.want)
		}
		s.Close()
	}
	// uid 7 names base-000003, on another branch: its own chain is opened
	// because it ends at the same base disk.
	s, err := d.AtSnapshot(v, "7", nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	s.ReadAt(buf, 7*mib)
	if string(buf) != "branch" || len(s.Layers) != 3 || !strings.HasSuffix(s.Layers[0].Path, "base-000003.vmdk") {
		t.Errorf("branch snapshot read %q from %d layers", buf, len(s.Layers))
	}
	s.Close()

	in, err := d.Info(context.Background(), v, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := in.Chain[2].Snapshots; len(got) != 1 || got[0] != "clean install" {
		t.Errorf("base layer labelled %q", got)
	}
	if got := in.Chain[1].Snapshots; len(got) != 1 || got[0] != "after cowd" {
		t.Errorf("middle layer labelled %q", got)
	}
	if _, err := d.AtDepth(3); err == nil {
		t.Error("AtDepth past the base accepted")
	}
}

// A VM folder named with glob metacharacters ("Mail [legacy] *?") holds
// its .vmsd like any other: FindVMSD lists the folder instead of reading
// its name as a pattern, and a snapshot state converts from it.
func TestFindVMSDLiteralFolderName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"Mail [legacy]", "star * and ? mark", `back\slash [x]`} {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		c := buildOwnChain(t, dir)
		vmsdPath := filepath.Join(dir, "case-vm.vmsd")
		if err := os.WriteFile(vmsdPath, []byte(testVMSD), 0o644); err != nil {
			t.Fatal(err)
		}
		// A sibling a glob on the folder name would match instead.
		os.Mkdir(filepath.Join(filepath.Dir(dir), "Mail l"), 0o755)
		os.WriteFile(filepath.Join(filepath.Dir(dir), "Mail l", "other.vmsd"), []byte(testVMSD), 0o644)
		p, err := FindVMSD(filepath.Join(dir, "base-000002.vmdk"))
		if err != nil || p != vmsdPath {
			t.Fatalf("%q: FindVMSD = %q, %v; want %q", name, p, err, vmsdPath)
		}
		v, err := ReadVMSD(p)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Open(filepath.Join(dir, "base-000002.vmdk"), nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := d.AtSnapshot(v, "clean install", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := convertDisk(t, s, filepath.Join(t.TempDir(), "o.raw")); got != c.want["base.vmdk"] {
			t.Errorf("%q: snapshot state %s, want %s", name, got, c.want["base.vmdk"])
		}
		d.Close()
	}
}
