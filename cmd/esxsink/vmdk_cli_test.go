package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/internal/peer"
)

// TestVMDKCommands drives `esxsink vmdk info|convert|verify` on a disk
// qemu-img made from random data with a zero run, and checks the exit
// statuses a script relies on: 0 ok, 1 inconsistent, 2 usage.
func TestVMDKCommands(t *testing.T) {
	qemu := peer.Require(t, "qemu-img")
	dir := t.TempDir()
	raw := filepath.Join(dir, "guest.raw")
	data := make([]byte, 5<<20+3*512)
	r := rand.New(rand.NewPCG(5, 5))
	for i := range data[:3<<20] {
		data[i] = byte(r.Uint32())
	}
	os.WriteFile(raw, data, 0o644)
	disk := filepath.Join(dir, "guest.vmdk")
	if out, err := sh(t, dir, qemu, "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicSparse", raw, disk); err != nil {
		t.Fatalf("qemu-img: %v %s", err, out)
	}

	out, code := esx(t, dir, "vmdk", "info", "--json", disk)
	var info map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil {
		t.Fatalf("vmdk info --json: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "monolithicSparse") {
		t.Fatalf("info does not name the create type:\n%s", out)
	}

	conv := filepath.Join(dir, "out.raw")
	out, code = esx(t, dir, "vmdk", "convert", "--quiet", disk, conv)
	sum := md5.Sum(data)
	if code != 0 || !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Fatalf("vmdk convert: exit %d, want the raw md5 %x printed\n%s", code, sum, out)
	}
	got, _ := os.ReadFile(conv)
	if !bytes.Equal(got, data) {
		t.Fatal("converted image differs from the original raw")
	}
	if _, code := esx(t, dir, "vmdk", "convert", "--quiet", disk, conv); code != 2 {
		t.Fatalf("convert over an existing output: exit %d, want 2", code)
	}
	if out, code := esx(t, dir, "vmdk", "verify", disk); code != 0 {
		t.Fatalf("verify of a good disk: exit %d\n%s", code, out)
	}

	// A truncated copy: verify reports it (exit 1) and names the file.
	b, _ := os.ReadFile(disk)
	cut := filepath.Join(dir, "cut.vmdk")
	os.WriteFile(cut, b[:len(b)*2/3], 0o644)
	if out, code := esx(t, dir, "vmdk", "verify", cut); code != 1 || !strings.Contains(out, "cut.vmdk") {
		t.Fatalf("verify of a truncated disk: exit %d, want 1 naming it\n%s", code, out)
	}
	if _, code := esx(t, dir, "vmdk", "convert"); code != 2 {
		t.Fatalf("convert without arguments: exit %d, want 2", code)
	}
}

// A collected case: a delta on one datastore names its parent on another
// by /vmfs/volumes/<uuid>/…, another by ../other-folder/…. vmdk info and
// convert resolve both with no flags through the datastore table in the
// case's custody log, and the raw image is the parent's bytes.
func TestVMDKResolvesCollectedChains(t *testing.T) {
	qemu := peer.Require(t, "qemu-img")
	caseDir := t.TempDir()
	log, err := hashlog.Open(caseDir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = log.Append(custody.TypeDatastores, custody.Datastores{Host: "esx", Stores: []custody.Datastore{
		{Name: "Old SAN [LUN 5]", UUID: "5f1a-22", Paths: []string{"/vmfs/volumes/Old SAN [LUN 5]", "/vmfs/volumes/5f1a-22"}, Folder: "Old SAN [LUN 5]"},
		{Name: "datastore1", UUID: "61aa-01", Paths: []string{"/vmfs/volumes/datastore1", "/vmfs/volumes/61aa-01"}, Folder: "datastore1"},
	}})
	log.Close()
	if err != nil {
		t.Fatal(err)
	}
	ev := hashlog.EvidenceDir(caseDir)
	base := filepath.Join(ev, "Old SAN [LUN 5]", "base [x]", "base.vmdk")
	vm := filepath.Join(ev, "datastore1", "Mail [legacy]")
	for _, d := range []string{filepath.Dir(base), vm} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data := make([]byte, 3<<20)
	r := rand.New(rand.NewPCG(9, 9))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(base), "base-flat.vmdk"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	descriptor := func(extent string) []byte {
		return []byte("# Disk DescriptorFile\nversion=1\nCID=2a3b4c5d\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\n" +
			"# Extent description\nRW 6144 VMFS \"" + extent + "\"\n\n# The Disk Data Base\n#DDB\n\n" +
			"ddb.adapterType = \"lsilogic\"\nddb.geometry.cylinders = \"3\"\nddb.geometry.heads = \"255\"\n" +
			"ddb.geometry.sectors = \"63\"\nddb.virtualHWVersion = \"14\"\n")
	}
	os.WriteFile(base, descriptor("base-flat.vmdk"), 0o644)
	// Descriptors in the VM folder whose extent is on the other
	// datastore, by UUID and by name (as ESXi writes absolute paths).
	os.WriteFile(filepath.Join(vm, "by-uuid.vmdk"), descriptor("/vmfs/volumes/5f1a-22/base [x]/base-flat.vmdk"), 0o644)
	os.WriteFile(filepath.Join(vm, "by-name.vmdk"), descriptor("/vmfs/volumes/Old SAN [LUN 5]/base [x]/base-flat.vmdk"), 0o644)
	// A delta whose parent is ../../<other datastore>/<folder>/base.vmdk.
	hint := "../../Old SAN [LUN 5]/base [x]/base.vmdk"
	if out, err := sh(t, vm, qemu, "create", "-f", "vmdk", "-F", "vmdk", "-b", hint, filepath.Join(vm, "relative.vmdk")); err != nil {
		t.Fatalf("qemu-img create: %v %s", err, out)
	}
	for _, name := range []string{"by-uuid.vmdk", "by-name.vmdk", "relative.vmdk"} {
		child := filepath.Join(vm, name)
		if out, code := esx(t, "", "vmdk", "info", child); code != 0 || !strings.Contains(out, "base") {
			t.Errorf("vmdk info %s: exit %d\n%s", name, code, out)
		}
		conv := filepath.Join(t.TempDir(), "out.raw")
		out, code := esx(t, "", "vmdk", "convert", "--quiet", child, conv)
		sum := md5.Sum(data)
		if code != 0 || !strings.Contains(out, hex.EncodeToString(sum[:])) {
			t.Errorf("vmdk convert %s: exit %d, want md5 %x\n%s", name, code, sum, out)
		}
	}
}
