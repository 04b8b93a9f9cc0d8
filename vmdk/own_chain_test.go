package vmdk

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// ownChain is a vmfs base, a COWD delta and a seSparse delta built by our
// writers, with the expected image of each level computed from the
// writes alone (not from any container format).
type ownChain struct {
	dir   string
	size  int64
	names []string          // base.vmdk, base-000001.vmdk, base-000002.vmdk
	want  map[string]string // sha256 of each level's expected image
}

// The size is not a multiple of the seSparse grain: the last grain is
// partial.
const ownChainSize = 64*mib + 1536

func ownChainLayers() [][]write {
	base := []write{
		{off: 0, n: 4 * mib, fill: 'r'},
		{off: 40 * mib, n: mib, fill: 'B'},
		{off: ownChainSize - 10*kib, n: 10 * kib, fill: 'r'},
	}
	cowd := []write{
		// Tables allocated out of directory order: 30 MiB before 10 MiB.
		{off: 30 * mib, n: 8 * kib, fill: 'r'},
		{off: 10*mib + 512, n: 4 * kib, fill: 'c'},
		{off: 1 * mib, n: 8 * kib, fill: 'r'},        // sector 2048
		{off: 81927 * 512, n: 1536, fill: 'r'},       // inside the base's 'B'
		{off: 5*mib + 77, n: 1000, fill: 'r'},        // unaligned bytes
		{off: 2 * mib, n: 64 * kib, zero: true},      // over base data
		{off: ownChainSize - 512, n: 512, fill: 'L'}, // the last sector
		{off: 3*mib + 4000, n: 100, fill: 'q'},       // unaligned, in base data
	}
	se := []write{
		// Table slots in reverse directory order: 50 MiB, 20 MiB, 0.
		{off: 50 * mib, n: 4 * kib, fill: 'r'},
		{off: 20 * mib, n: 12 * kib, fill: 'r'},
		{off: 0, n: 4 * kib, fill: 'r'},
		// 4100 grains: indexes past 4096 exercise the rotated bits.
		{off: 17 * mib, n: 4100 * 4 * kib, fill: 'r'},
		{off: 1 * mib, n: 8 * kib, zero: true},       // zero grains over COWD data
		{off: 40 * mib, n: 8 * kib, unmap: true},     // unmapped over base 'B'
		{off: 41*mib - 1000, n: 3000, unmap: true},   // partial grains: zeros
		{off: 3*mib + 4000, n: 200, fill: 's'},       // across a grain boundary
		{off: ownChainSize - 700, n: 700, fill: 'r'}, // in the partial last grain
		{off: 2*mib + 4*kib, n: 4 * kib, zero: true}, // zero over COWD zeros
		{off: 60 * mib, n: 4 * kib, fill: 'r'},       // a fourth table
		{off: 60 * mib, n: 4 * kib, unmap: true},     // ...then unmapped
	}
	return [][]write{base, cowd, se}
}

// openOwnChain builds the chain in a new folder and opens its top, closed
// when the test ends; it returns the disk and the folder.
func openOwnChain(t testing.TB) (*Disk, string) {
	t.Helper()
	dir := t.TempDir()
	buildOwnChain(t, dir)
	d, err := Open(filepath.Join(dir, "base-000002.vmdk"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dir
}

// buildOwnChain writes the chain into dir. format picks the delta
// format of each delta level.
func buildOwnChain(t testing.TB, dir string) *ownChain {
	t.Helper()
	c := &ownChain{dir: dir, size: ownChainSize, want: map[string]string{},
		names: []string{"base.vmdk", "base-000001.vmdk", "base-000002.vmdk"}}
	rng := rand.New(rand.NewPCG(7, 11))
	img := make([]byte, c.size)
	for level, writes := range ownChainLayers() {
		path := filepath.Join(dir, c.names[level])
		var ew interface {
			WriteAt([]byte, int64) (int, error)
			Close() error
		}
		var dw *DeltaWriter
		switch level {
		case 0:
			fw, err := CreateFlat(path, c.size, FlatOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ew = fw
		default:
			f := VMFSSparse
			if level == 2 {
				f = SESparse
			}
			var err error
			dw, err = CreateSnapshotDelta(filepath.Join(dir, c.names[level-1]), path, f, nil)
			if err != nil {
				t.Fatal(err)
			}
			ew = dw
		}
		for _, w := range writes {
			data := make([]byte, w.n)
			fillBytes(data, w.fill, rng)
			var err error
			switch {
			case w.zero:
				err = dw.WriteZeroes(w.off, w.n)
			case w.unmap:
				err = dw.Unmap(w.off, w.n)
			default:
				_, err = ew.WriteAt(data, w.off)
			}
			if err != nil {
				t.Fatalf("%s: %+v: %v", path, w, err)
			}
			w.apply(img, data)
		}
		if err := ew.Close(); err != nil {
			t.Fatal(err)
		}
		c.want[c.names[level]] = sha256Bytes(img)
	}
	return c
}

// TestOwnChain checks each level of our chain against the model, and
// that qemu-img (an independent reader) reads the same bytes and the
// same allocation map from the same files.
func TestOwnChain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := buildOwnChain(t, dir)
	qemu := requireQemu(t)
	for i, name := range c.names {
		path := filepath.Join(dir, name)
		got := convertFile(t, path, filepath.Join(t.TempDir(), "out.raw"), nil)
		if got != c.want[name] {
			t.Errorf("%s: our raw %s, model %s", name, got, c.want[name])
		}
		if q := qemuRaw(t, qemu, path); q != c.want[name] {
			t.Errorf("%s: qemu-img raw %s, model %s", name, q, c.want[name])
		}
		d, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Layers) != i+1 {
			t.Errorf("%s: chain of %d layers, want %d", name, len(d.Layers), i+1)
		}
		compareMapWithQemu(t, qemu, path, d)
		rep, err := Verify(context.Background(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Errorf("%s: verify found problems in a clean chain: %v", name, rep.Findings)
		}
		d.Close()
	}
}

// TestOwnChainExercisesFormat checks that the fixture holds what the
// tests rely on, so a writer change cannot quietly make them weaker:
// seSparse table slots out of directory order, grain indexes >= 4096,
// zero and unmapped entries; COWD tables out of order.
func TestOwnChainExercisesFormat(t *testing.T) {
	t.Parallel()
	d, _ := openOwnChain(t)
	se, ok := d.Layers[0].extents[0].ext.(*seSparseExtent)
	if !ok {
		t.Fatalf("top extent is %T, want seSparse", d.Layers[0].extents[0].ext)
	}
	slot := func(t int) uint64 { return se.gd[t] & 0xffffffff }
	if !(slot(3) < slot(1) && slot(1) < slot(0)) {
		t.Errorf("table slots %d, %d, %d for tables 0, 1, 3: want reverse directory order", slot(0), slot(1), slot(3))
	}
	var maxIdx uint64
	kinds := map[uint64]int{}
	for ti := range se.gd {
		tbl, err := se.table(int64(ti))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range tbl {
			kinds[e&seEntryMask]++
			if e&seEntryMask == seEntryAllocated {
				maxIdx = max(maxIdx, seGrainIndex(e))
			}
		}
	}
	if maxIdx < 4096 {
		t.Errorf("largest grain index %d, want >= 4096", maxIdx)
	}
	if kinds[seEntryZero] == 0 || kinds[seEntryUnmapped] == 0 {
		t.Errorf("entry kinds %v: want zero (0x2) and unmapped (0x1) entries", kinds)
	}
	cw, ok := d.Layers[1].extents[0].ext.(*cowdExtent)
	if !ok {
		t.Fatalf("middle extent is %T, want COWD", d.Layers[1].extents[0].ext)
	}
	if !(cw.gd[15] != 0 && cw.gd[5] != 0 && cw.gd[15] < cw.gd[5]) {
		t.Errorf("COWD tables for 30 MiB (%d) and 10 MiB (%d): want the later range's table first", cw.gd[15], cw.gd[5])
	}
	if d.Layers[0].Descriptor.ParentCID != d.Layers[1].Descriptor.CID || d.Layers[1].Descriptor.ParentCID != d.Layers[2].Descriptor.CID {
		t.Errorf("CID links broken: %+v", d.Layers)
	}
}
