package esxsim

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/vmdk"
)

const outsideLab = `
host: {hostname: esx-outside, version: 8.0.2, build: "22380479", user: root, password: "Outside-Lab-1!"}
datastores:
  - {name: ds1, type: VMFS-6}
  - {name: "ds [2]", type: VMFS-5}
vms:
  - id: 1
    name: app
    power: "on"
    memory_mb: 16
    disks:
      - {size: 4MiB}
      - {name: app_logs.vmdk, folder: shared, size: 4MiB, kind: thin}
      - {name: app_data.vmdk, datastore: "ds [2]", folder: store, size: 4MiB}
  - id: 2
    name: other
    memory_mb: 16
    disks:
      - {name: app_logs.vmdk, size: 4MiB}
`

// A disk in another folder of the VM's datastore is named "../FOLDER/..."
// by the .vmx, one on another datastore by its absolute /vmfs/volumes/
// <uuid>/ path; a snapshot puts each delta in the VM folder, naming such a
// parent by its absolute path. The chain across folders reads (through a
// datastore mapping) as DiskImage says, and after the snapshot is removed
// DiskImage still gives the disk as the snapshot froze it.
func TestDisksOutsideTheVMFolder(t *testing.T) {
	sc, err := ParseScenario([]byte(outsideLab))
	if err != nil {
		t.Fatal(err)
	}
	th := startHost(t, sc, nil)
	ds1, ds2 := "/vmfs/volumes/"+sc.Datastores[0].UUID, "/vmfs/volumes/"+sc.Datastores[1].UUID
	vmx := "/vmfs/volumes/ds1/app/app.vmx"
	mustEqual(t, "vmx disks", th.mustSSH("grep fileName "+vmx),
		"scsi0:0.fileName = \"app.vmdk\"\nscsi0:1.fileName = \"../shared/app_logs.vmdk\"\nscsi0:2.fileName = \""+ds2+"/store/app_data.vmdk\"\n")
	mustEqual(t, "shared folder", th.folder("/vmfs/volumes/ds1/shared"), []string{"app_logs-flat.vmdk", "app_logs.vmdk"})
	mustEqual(t, "other datastore", th.folder("/vmfs/volumes/ds [2]/store"), []string{"app_data-flat.vmdk", "app_data.vmdk"})
	// Another VM's disk of the same name stays in its own folder.
	mustEqual(t, "same name elsewhere", th.folder("/vmfs/volumes/ds1/other")[0], "app_logs-flat.vmdk")

	th.mustSSH(`vim-cmd vmsvc/snapshot.create 1 acq "" 0 0`)
	mustEqual(t, "vmx after the snapshot", th.mustSSH("grep fileName "+vmx),
		"scsi0:0.fileName = \"app-000001.vmdk\"\nscsi0:1.fileName = \"app_logs-000001.vmdk\"\nscsi0:2.fileName = \"app_data-000001.vmdk\"\n")
	for name, hint := range map[string]string{
		"app-000001.vmdk":      "app.vmdk",
		"app_logs-000001.vmdk": ds1 + "/shared/app_logs.vmdk",
		"app_data-000001.vmdk": ds2 + "/store/app_data.vmdk",
	} {
		if d := th.descriptor("/vmfs/volumes/ds1/app/" + name); d.ParentFileNameHint != hint || d.CreateType != "seSparse" {
			t.Errorf("%s: parent %q, createType %s; want %q and seSparse (the VM folder's datastore decides)", name, d.ParentFileNameHint, d.CreateType, hint)
		}
	}
	vmsd, err := vmdk.ParseVMSD("app.vmsd", []byte(th.mustSSH("cat /vmfs/volumes/ds1/app/app.vmsd")))
	if err != nil || len(vmsd.Snapshots) != 1 || vmsd.Snapshots[0].Disks[1].FileName != "../shared/app_logs.vmdk" {
		t.Fatalf("vmsd: %+v %v", vmsd, err)
	}
	// The guest writes into the running delta of the disk on the other
	// datastore; a second snapshot freezes that delta.
	pattern := bytes.Repeat([]byte("written after acq\n"), 4096)[:64<<10]
	if err := th.GuestWrite("app", 2, 2<<20, pattern); err != nil {
		t.Fatal(err)
	}
	th.mustSSH(`vim-cmd vmsvc/snapshot.create 1 acq2 "" 0 0`)

	// Copy the three folders as they are laid out on the host and read
	// the chain of each disk with the datastores mapped.
	local := t.TempDir()
	for _, f := range []string{"ds1/app/app_data-000001.vmdk", "ds1/app/app_data-000001-sesparse.vmdk",
		"ds [2]/store/app_data.vmdk", "ds [2]/store/app_data-flat.vmdk",
		"ds1/app/app_logs-000001.vmdk", "ds1/app/app_logs-000001-sesparse.vmdk",
		"ds1/shared/app_logs.vmdk", "ds1/shared/app_logs-flat.vmdk"} {
		dst := filepath.Join(local, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := th.CopyFile("/vmfs/volumes/"+f, dst); err != nil {
			t.Fatal(err)
		}
	}
	o := &vmdk.Options{Root: local, Volumes: map[string]string{
		sc.Datastores[0].UUID: filepath.Join(local, "ds1"), sc.Datastores[1].UUID: filepath.Join(local, "ds [2]")}}
	for _, top := range []string{"ds1/app/app_data-000001.vmdk", "ds1/app/app_logs-000001.vmdk"} {
		d, err := vmdk.Open(filepath.Join(local, filepath.FromSlash(top)), o)
		if err != nil {
			t.Fatalf("open %s across folders: %v", top, err)
		}
		got := make([]byte, d.Size())
		_, err = d.ReadAt(got, 0)
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := image(t, th, "/vmfs/volumes/"+top); !bytes.Equal(got, want) {
			t.Errorf("%s read across folders differs from DiskImage", top)
		}
		if strings.Contains(top, "app_data") && !bytes.Equal(got[2<<20:2<<20+len(pattern)], pattern) {
			t.Error("the guest's write is not in the frozen delta")
		}
	}

	// Removing both snapshots consolidates into the base on the other
	// datastore; DiskImage of the base still gives it as the first
	// snapshot froze it, the file now holds the guest's write.
	frozen := image(t, th, ds2+"/store/app_data.vmdk")
	th.mustSSH("vim-cmd vmsvc/snapshot.remove 1 2")
	th.mustSSH("vim-cmd vmsvc/snapshot.remove 1 1")
	th.mustSSH("vim-cmd vmsvc/power.off 1")
	flat, err := th.ReadFile("/vmfs/volumes/ds [2]/store/app_data-flat.vmdk")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(flat[2<<20:2<<20+len(pattern)], pattern) {
		t.Fatal("consolidation did not reach the base on the other datastore")
	}
	if again := image(t, th, ds2+"/store/app_data.vmdk"); !bytes.Equal(again, frozen) || bytes.Equal(again, flat) {
		t.Errorf("DiskImage of the base after consolidation: as frozen %v, as the file now %v", bytes.Equal(again, frozen), bytes.Equal(again, flat))
	}
	if got := th.mustSSH("grep fileName " + vmx); !strings.Contains(got, "\"../shared/app_logs.vmdk\"") {
		t.Errorf("vmx after removing the snapshots: %s", got)
	}
}

// image reads DiskImage(desc) whole.
func image(t *testing.T, th *testHost, desc string) []byte {
	t.Helper()
	r, n, err := th.DiskImage(desc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(io.NewSectionReader(r, 0, n))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Scenarios that would put two disks in one place are refused.
func TestScenarioDiskPlacementChecked(t *testing.T) {
	for _, tc := range []struct{ disks, want string }{
		{`[{name: a.vmdk, folder: x}, {name: a.vmdk, folder: y}]`, "two disks named a.vmdk"},
		{`[{name: a.vmdk, datastore: nowhere}]`, `unknown datastore "nowhere"`},
		{`[{name: a.vmdk, folder: ".."}]`, `folder ".."`},
		{`[{name: a.vmdk, folder: "a/b"}]`, `folder "a/b"`},
	} {
		_, err := ParseScenario([]byte("vms:\n  - {name: v, disks: " + tc.disks + "}\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("disks %s: %v, want %q", tc.disks, err, tc.want)
		}
	}
	_, err := ParseScenario([]byte("vms:\n  - {name: v, disks: [{name: a.vmdk, folder: s}]}\n  - {name: w, disks: [{name: a.vmdk, folder: s}]}\n"))
	if err == nil || !strings.Contains(err.Error(), `[datastore1] s/a.vmdk is already vm "v" disk a.vmdk's`) {
		t.Errorf("two VMs' disks in one place: %v", err)
	}
}
