package vmdk

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestDeltaWriterFlush uses the delta API as the simulated ESXi host
// will: take a snapshot, write while "running", let the files be read
// (after Flush) mid-way, write more, close. Each read state must match
// the model, for qemu-img too, and the CID follows ESXi's rules.
func TestDeltaWriterFlush(t *testing.T) {
	t.Parallel()
	qemu := requireQemu(t)
	for _, f := range []DeltaFormat{VMFSSparse, SESparse} {
		t.Run(string(f), func(t *testing.T) {
			dir := t.TempDir()
			base := filepath.Join(dir, "vm.vmdk")
			img := bytes.Repeat([]byte("base-data-"), 900*1024)[:8*mib]
			fw, err := CreateFlat(base, 8*mib, FlatOptions{})
			if err != nil {
				t.Fatal(err)
			}
			fw.WriteAt(img, 0)
			if err := fw.Close(); err != nil {
				t.Fatal(err)
			}
			baseCID := fw.Descriptor().CID

			// A snapshot nobody wrote to keeps its parent's CID.
			idle, err := CreateSnapshotDelta(base, filepath.Join(dir, "vm-000009.vmdk"), f, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := idle.Close(); err != nil || idle.Descriptor().CID != baseCID {
				t.Errorf("unwritten delta: CID %08x, want the parent's %08x (%v)", idle.Descriptor().CID, baseCID, err)
			}

			top := filepath.Join(dir, "vm-000001.vmdk")
			dw, err := CreateSnapshotDelta(base, top, f, nil)
			if err != nil {
				t.Fatal(err)
			}
			if dw.Descriptor().ParentFileNameHint != "vm.vmdk" || dw.Descriptor().ParentCID != baseCID {
				t.Errorf("delta descriptor %+v", dw.Descriptor())
			}
			check := func(stage string) uint32 {
				t.Helper()
				want := sha256Bytes(img)
				if got := convertFile(t, top, filepath.Join(t.TempDir(), "o.raw"), nil); got != want {
					t.Errorf("%s: ours %s, model %s", stage, got, want)
				}
				if q := qemuRaw(t, qemu, top); q != want {
					t.Errorf("%s: qemu-img %s, model %s", stage, q, want)
				}
				d, err := ReadDescriptorFile(top)
				if err != nil {
					t.Fatal(err)
				}
				return d.CID
			}
			dw.WriteAt([]byte("first write"), 3*mib+7)
			copy(img[3*mib+7:], "first write")
			if err := dw.Flush(); err != nil {
				t.Fatal(err)
			}
			cid1 := check("after the first flush")
			dw.WriteAt(bytes.Repeat([]byte{0xee}, 10000), 5*mib-300)
			copy(img[5*mib-300:], bytes.Repeat([]byte{0xee}, 10000))
			dw.WriteZeroes(0, 64*kib)
			clear(img[:64*kib])
			if err := dw.Close(); err != nil {
				t.Fatal(err)
			}
			cid2 := check("after close")
			if cid1 == baseCID || cid2 == cid1 || cid2 == baseCID {
				t.Errorf("CIDs: base %08x, after first write %08x, after more %08x: want each write to change it", baseCID, cid1, cid2)
			}
			if _, err := os.Stat(top + ".tmp"); !os.IsNotExist(err) {
				t.Errorf("descriptor replacement left a temporary file: %v", err)
			}
			if err := dw.Flush(); err == nil {
				t.Error("Flush after Close accepted")
			}
		})
	}
}

// TestWritersRefuse: writes outside the disk and existing files are
// refused.
func TestWritersRefuse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "d.vmdk")
	fw, _ := CreateFlat(base, mib, FlatOptions{})
	if _, err := fw.WriteAt([]byte("x"), mib); err == nil {
		t.Error("flat write past the end accepted")
	}
	fw.Close()
	if _, err := CreateFlat(base, mib, FlatOptions{}); err == nil {
		t.Error("CreateFlat over an existing descriptor accepted")
	}
	dw, err := CreateSnapshotDelta(base, filepath.Join(dir, "d-000001.vmdk"), SESparse, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dw.WriteAt(make([]byte, 10), mib-5); err == nil {
		t.Error("delta write past the end accepted")
	}
	if err := dw.WriteZeroes(-1, 5); err == nil {
		t.Error("negative offset accepted")
	}
	dw.Close()
	if _, err := CreateSnapshotDelta(base, filepath.Join(dir, "d-000001.vmdk"), VMFSSparse, nil); err == nil {
		t.Error("a delta over an existing descriptor accepted")
	}
	if _, err := CreateDelta(filepath.Join(dir, "x.vmdk"), DeltaOptions{Format: "vmfsFancy", Sectors: 8, ParentFileNameHint: "d.vmdk"}); err == nil {
		t.Error("unknown delta format accepted")
	}
}
