package vmdk

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompressedWithoutMarkers: flag 0x10000 without 0x20000 (old
// compressed sparse) has no sample anywhere; qemu inflates a zlib stream
// straight at the grain's sector. Build one and check we read what qemu
// reads.
func TestCompressedWithoutMarkers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "c.vmdk")
	w, err := CreateSparse(p, mib+1536, SparseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, mib+1536)
	for _, g := range []int64{0, 3, 16} { // 16 is the partial last grain
		n := min(64*kib, int64(len(want))-g*64*kib)
		data := bytes.Repeat([]byte{byte(g), 'v', 'm'}, int(n))[:n]
		copy(want[g*64*kib:], data)
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		if int64(z.Len()) > n {
			t.Fatal("test data does not compress")
		}
		w.WriteAt(z.Bytes(), g*64*kib) // stored verbatim as the grain
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(p, os.O_RDWR, 0)
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], flagValidNewline|flagRedundantGD|flagCompressed)
	f.WriteAt(b[:], 8)
	f.WriteAt([]byte{1, 0}, 77) // compressAlgorithm: deflate
	f.Close()
	if got := convertFile(t, p, filepath.Join(dir, "o.raw"), nil); got != sha256Bytes(want) {
		t.Errorf("ours %s, model %s", got, sha256Bytes(want))
	}
	if q := qemuRaw(t, requireQemu(t), p); q != sha256Bytes(want) {
		t.Errorf("qemu-img %s, model %s", q, sha256Bytes(want))
	}
}

// TestChildLargerThanParent: bytes past the parent's end read as zeros
// (as qemu reads them), and verify notes the size difference.
func TestChildLargerThanParent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "small.vmdk")
	fw, _ := CreateFlat(base, 2*mib, FlatOptions{})
	fw.WriteAt(bytes.Repeat([]byte{0xab}, int(2*mib)), 0)
	fw.Close()
	top := filepath.Join(dir, "small-000001.vmdk")
	dw, err := CreateDelta(top, DeltaOptions{Format: SESparse, Sectors: 3 * mib / SectorSize, ParentFileNameHint: "small.vmdk", ParentCID: fw.Descriptor().CID})
	if err != nil {
		t.Fatal(err)
	}
	dw.WriteAt([]byte("tail"), 3*mib-4)
	dw.Close()
	want := append(bytes.Repeat([]byte{0xab}, int(2*mib)), make([]byte, mib)...)
	copy(want[3*mib-4:], "tail")
	if got := convertFile(t, top, filepath.Join(dir, "o.raw"), nil); got != sha256Bytes(want) {
		t.Errorf("ours %s, model %s", got, sha256Bytes(want))
	}
	if q := qemuRaw(t, requireQemu(t), top); q != sha256Bytes(want) {
		t.Errorf("qemu-img %s, model %s", q, sha256Bytes(want))
	}
	rep, _ := Verify(context.Background(), top, nil)
	if findingWith(rep, SevWarning, "its parent", "bytes") == nil {
		t.Errorf("verify does not note the size difference: %v", rep.Findings)
	}
}

func TestChainLoop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	buildOwnChain(t, dir)
	base := filepath.Join(dir, "base.vmdk")
	// Make the base a child of the top delta.
	editFile(t, base, "parentCID=ffffffff", "parentCID=00000001\nparentFileNameHint=\"base-000002.vmdk\"")
	_, err := Open(filepath.Join(dir, "base-000002.vmdk"), &Options{IgnoreCID: true})
	wantErr(t, err, ErrCorrupt, "loops")
	rep, err := Verify(context.Background(), filepath.Join(dir, "base-000002.vmdk"), nil)
	if err != nil || findingWith(rep, SevError, "loops") == nil || len(rep.Layers) != 3 {
		t.Errorf("verify on a loop: %v %v", err, rep.Findings)
	}
}

// TestTruncatedFlat: a flat extent shorter than its line is a warning at
// open, an error when its missing bytes are read, and an error in verify.
func TestTruncatedFlat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "t.vmdk")
	fw, _ := CreateFlat(base, 4*mib, FlatOptions{})
	fw.WriteAt(bytes.Repeat([]byte{1}, int(4*mib)), 0)
	fw.Close()
	os.Truncate(filepath.Join(dir, "t-flat.vmdk"), 3*mib)
	d, err := Open(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !strings.Contains(strings.Join(d.Warnings, "\n"), "truncated") {
		t.Errorf("warnings %q", d.Warnings)
	}
	_, err = Convert(context.Background(), d, filepath.Join(dir, "o.raw"), ConvertOptions{})
	wantErr(t, err, ErrCorrupt, "t-flat.vmdk", "truncated")
	rep, _ := Verify(context.Background(), base, nil)
	if rep.OK() || findingWith(rep, SevError, "t-flat.vmdk", "truncated") == nil {
		t.Errorf("verify on a truncated flat extent: %v", rep.Findings)
	}
}
