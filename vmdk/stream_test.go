package vmdk

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeStreamFixture writes a VMware-layout stream of a raw image with
// random data, written zeros, a pattern, holes and a partial last grain.
func writeStreamFixture(t testing.TB, dir string) (disk, src string) {
	t.Helper()
	src = filepath.Join(dir, "src.raw")
	size := 20*mib + 3584
	makeRaw(t, src, size, 3,
		region{0, 300 * kib, 'r'},
		region{mib, mib, 'z'},
		region{5*mib + 100, 70000, 'A'},
		region{15*mib + 64*kib*3, 64 * kib, 'r'},
		region{size - 5000, 5000, 'r'},
	)
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	disk = filepath.Join(dir, "stream.vmdk")
	if err := WriteStreamOptimized(context.Background(), disk, f, size, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return disk, src
}

// TestStreamVMwareLayout: qemu-img reads our VMware-layout stream
// (footer, markers, directory at the end) as the original, and so do we.
func TestStreamVMwareLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	disk, src := writeStreamFixture(t, dir)
	d, err := Open(disk, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	se := d.Layers[0].extents[0].ext.(*sparseExtent)
	if !se.footer || se.primary.GDOffset != gdAtEnd || !strings.Contains(se.format(), "VMware layout") {
		t.Fatalf("not read as the VMware layout: footer %v, header gdOffset %#x, format %q", se.footer, se.primary.GDOffset, se.format())
	}
	if d.Layers[0].Descriptor.CreateType != "streamOptimized" {
		t.Errorf("createType %q", d.Layers[0].Descriptor.CreateType)
	}
	want := sha256File(t, src)
	if got := convertDisk(t, d, filepath.Join(dir, "ours.raw")); got != want {
		t.Errorf("our raw %s, original %s", got, want)
	}
	qemu := requireQemu(t)
	if q := qemuRaw(t, qemu, disk); q != want {
		t.Errorf("qemu-img raw %s, original %s", q, want)
	}
	rep, err := Verify(context.Background(), disk, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Findings) != 0 || rep.GrainsChecked == 0 {
		t.Errorf("verify on a clean stream: %d grains, findings %v", rep.GrainsChecked, rep.Findings)
	}
}

// TestStreamDamage: a stream cut short, a wrong marker, a grain whose
// LBA disagrees with its table, and a corrupt zlib stream each give a
// clear error, and verify lists them all in one run.
func TestStreamDamage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	disk, _ := writeStreamFixture(t, dir)
	st, _ := os.Stat(disk)
	d, err := Open(disk, nil)
	if err != nil {
		t.Fatal(err)
	}
	se := d.Layers[0].extents[0].ext.(*sparseExtent)
	gd := int64(se.hdr.GDOffset)
	gt0 := int64(se.gd[0])
	_, g0, _ := se.lookup(0)
	_, g1, _ := se.lookup(1)
	d.Close()

	cut := filepath.Join(dir, "cut.vmdk")
	copyFile(t, disk, cut)
	os.Truncate(cut, st.Size()-SectorSize) // the end-of-stream marker is gone
	_, err = Open(cut, nil)
	wantErr(t, err, ErrCorrupt, "cut.vmdk", "truncated")

	bad := filepath.Join(dir, "bad.vmdk")
	copyFile(t, disk, bad)
	f, err := os.OpenFile(bad, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	put32 := func(off int64, v uint32) {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], v)
		f.WriteAt(b[:], off)
	}
	put32((gt0-1)*SectorSize+12, 7)      // grain table marker: unknown type
	put32((gd-1)*SectorSize, 99)         // directory marker: wrong length
	put32(g1, 12345)                     // grain 1: LBA disagrees
	f.WriteAt([]byte{0xff, 0xff}, g0+40) // grain 0: corrupt deflate data
	f.Close()

	d, err = Open(bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	buf := make([]byte, 64*kib)
	_, err = d.ReadAt(buf, 0)
	wantErr(t, err, ErrCorrupt, "bad.vmdk", "grain 0")
	_, err = d.ReadAt(buf, 64*kib)
	wantErr(t, err, ErrCorrupt, "marked for sector 12345")

	rep, err := Verify(context.Background(), bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, words := range [][]string{
		{"grain table 0 marker"},
		{"grain directory marker"},
		{"marked for sector 12345"},
		{"grain 0"},
		{"unknown marker type 7"},
	} {
		if findingWith(rep, SevError, words...) == nil {
			t.Errorf("verify does not report %q; findings:\n%v", words, rep.Findings)
		}
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
