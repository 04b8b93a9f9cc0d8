package vmdk

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestSparseWriterChain writes a monolithicSparse base and a hosted child
// with zeroed-grain entries using our writer, and checks both levels
// against the model and qemu-img, and that verify finds them clean.
func TestSparseWriterChain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	size := 10*mib + 1536
	rng := rand.New(rand.NewPCG(5, 6))
	img := make([]byte, size)
	apply := func(w ExtentWriter, ws ...write) {
		for _, x := range ws {
			data := make([]byte, x.n)
			fillBytes(data, x.fill, rng)
			var err error
			if x.zero {
				err = w.WriteZeroes(x.off, x.n)
			} else {
				_, err = w.WriteAt(data, x.off)
			}
			if err != nil {
				t.Fatal(err)
			}
			x.apply(img, data)
		}
	}
	base := filepath.Join(dir, "base.vmdk")
	bw, err := CreateSparse(base, size, SparseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	apply(bw, write{off: 0, n: 2 * mib, fill: 'r'}, write{off: 9 * mib, n: 300 * kib, fill: 'b'}, write{off: size - 1000, n: 1000, fill: 'r'})
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	wantBase := sha256Bytes(img)

	parent, err := Open(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(dir, "child.vmdk")
	cw, err := CreateSparse(child, size, SparseOptions{ZeroedGrain: true, ParentFileNameHint: "base.vmdk",
		ParentCID: parent.Layers[0].Descriptor.CID, Parent: parent})
	if err != nil {
		t.Fatal(err)
	}
	apply(cw,
		write{off: 64 * kib, n: 128 * kib, zero: true},     // whole grains: GTE 1 over base data
		write{off: 1*mib + 100, n: 5000, zero: true},       // partial: written zeros
		write{off: 1*mib - 10, n: 20, fill: 'c'},           // across a grain boundary, copy-on-write
		write{off: 9*mib + 64*kib, n: 64 * kib, fill: 'd'}, // a whole grain
		write{off: size - 200, n: 200, fill: 'e'},          // in the partial last grain
	)
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	parent.Close()
	wantChild := sha256Bytes(img)

	qemu := requireQemu(t)
	for _, c := range []struct{ path, want string }{{base, wantBase}, {child, wantChild}} {
		if got := convertFile(t, c.path, filepath.Join(t.TempDir(), "o.raw"), nil); got != c.want {
			t.Errorf("%s: ours %s, model %s", c.path, got, c.want)
		}
		if q := qemuRaw(t, qemu, c.path); q != c.want {
			t.Errorf("%s: qemu-img %s, model %s", c.path, q, c.want)
		}
		rep, err := Verify(context.Background(), c.path, nil)
		if err != nil || !rep.OK() || len(rep.Findings) != 0 {
			t.Errorf("%s: verify %v: %v", c.path, err, rep.Findings)
		}
	}
	d, err := Open(child, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if r, err := d.MapRun(64*kib, 128*kib); err != nil || r.State != Zero || r.Depth != 0 || r.Length != 128*kib {
		t.Errorf("zeroed grains map as %+v, %v; want zero at depth 0", r, err)
	}
	compareMapWithQemu(t, qemu, child, d)
}

// TestSparseRedundantMismatch: verify compares the redundant grain
// tables with the primary ones and reports a difference.
func TestSparseRedundantMismatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "disk.vmdk")
	w, err := CreateSparse(p, 4*mib, SparseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.WriteAt(make([]byte, 10), 0)
	w.WriteAt([]byte("x"), 200*kib)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Redundant table 0, entry 3 (grain 3 at 192 KiB): point it elsewhere.
	f, _ := os.OpenFile(p, os.O_RDWR, 0)
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], 999)
	f.WriteAt(b[:], w.rgtBase*SectorSize+3*4)
	// Primary table, entry 5: point grain 5 at grain 0's sectors.
	f.ReadAt(b[:], w.gtBase*SectorSize)
	f.WriteAt(b[:], w.gtBase*SectorSize+5*4)
	f.Close()
	rep, err := Verify(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if findingWith(rep, SevError, "redundant copy differs", "entry 3") == nil {
		t.Errorf("no redundant-table finding: %v", rep.Findings)
	}
	if findingWith(rep, SevError, "entry 5", "overlaps") == nil {
		t.Errorf("no overlap finding for two grains sharing sectors: %v", rep.Findings)
	}
}
