package vmdk

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// TestVerifyCOWDDamage: several faults in one COWD delta are all
// reported in one run: a grain past the end of the file, two entries
// sharing a grain, and a grain inside the header.
func TestVerifyCOWDDamage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "d.vmdk")
	fw, _ := CreateFlat(base, 4*mib, FlatOptions{})
	fw.Close()
	top := filepath.Join(dir, "d-000001.vmdk")
	dw, err := CreateSnapshotDelta(base, top, VMFSSparse, nil)
	if err != nil {
		t.Fatal(err)
	}
	dw.WriteAt(make([]byte, 8*512), 0)
	dw.Close()
	d, err := Open(top, nil)
	if err != nil {
		t.Fatal(err)
	}
	gt := int64(d.Layers[0].extents[0].ext.(*cowdExtent).gd[0])
	d.Close()
	f, _ := os.OpenFile(filepath.Join(dir, "d-000001-delta.vmdk"), os.O_RDWR, 0)
	put := func(entry int, sector uint32) {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], sector)
		f.WriteAt(b[:], gt*SectorSize+int64(entry)*4)
	}
	var first [4]byte
	f.ReadAt(first[:], gt*SectorSize)
	put(1, 1<<30)                                // far past the end of the file
	put(2, binary.LittleEndian.Uint32(first[:])) // the same sector as entry 0
	put(3, 2)                                    // inside the header
	f.Close()

	rep, err := Verify(context.Background(), top, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range [][]string{{"entry 1", "past the end"}, {"entry 2", "overlaps"}, {"entry 3", "overlaps"}} {
		if findingWith(rep, SevError, w...) == nil {
			t.Errorf("no finding %q in %v", w, rep.Findings)
		}
	}
	if rep.Errors() != 3 || rep.GrainsChecked != 8 {
		t.Errorf("%d errors over %d grains, want 3 over 8: %v", rep.Errors(), rep.GrainsChecked, rep.Findings)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !bytes.Contains(text.Bytes(), []byte("INCONSISTENT (3 errors)")) {
		t.Errorf("text report:\n%s", text.String())
	}
	d, _ = Open(top, nil)
	defer d.Close()
	_, err = d.ReadAt(make([]byte, 1024), 0)
	wantErr(t, err, ErrCorrupt, "grain 1", "past the end of the file")
}

// TestSESparseOutsideDeclaredAreas: a table slot or grain index past the
// areas the header declares is still read when it lies in the file (as
// qemu reads it), and verify warns about it.
func TestSESparseOutsideDeclaredAreas(t *testing.T) {
	t.Parallel()
	b := compactSESparse()
	binary.LittleEndian.PutUint64(b[19*8:], 0) // GTSize: no table slots declared
	binary.LittleEndian.PutUint64(b[25*8:], 8) // GrainsSize: one grain declared
	e, err := openSESparse("odd", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 4096)
	if err := e.readData(p, 3*4096); err != nil || p[0] != byte((2*4096*7+1)%256) {
		t.Errorf("grain with index 2: %v, first byte %d", err, p[0])
	}
	v := &verifier{ctx: context.Background(), rep: &VerifyReport{}, counts: map[string]int{}}
	v.seSparse(e, "x")
	if findingWith(v.rep, SevWarning, "table slot 0", "past the grain-table area") == nil ||
		findingWith(v.rep, SevWarning, "grain index 2", "past the grain area") == nil {
		t.Errorf("findings %v", v.rep.Findings)
	}
	if !v.rep.OK() {
		t.Errorf("a readable file reported as an error: %v", v.rep.Findings)
	}
}
