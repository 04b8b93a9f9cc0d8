package vmdk

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/esxsink/esxsink/internal/peer"
)

// write is one guest write in a data model of a disk.
type write struct {
	off, n int64
	fill   byte // a byte value, or 'r' for random
	zero   bool // written as zeros (qemu-io write -z, WriteZeroes)
	unmap  bool // seSparse unmap: reads as zeros
}

func (w write) apply(img []byte, data []byte) {
	if w.zero || w.unmap {
		clear(img[w.off : w.off+w.n])
		return
	}
	copy(img[w.off:w.off+w.n], data)
}

// TestQemuChainZeroedGrain builds a three-level hosted sparse chain with
// qemu (the middle layer with zeroed-grain entries, whose GTE 1 hides the
// parent's data) and checks every level against qemu-img and against the
// image computed from the writes.
func TestQemuChainZeroedGrain(t *testing.T) {
	t.Parallel()
	qemu := requireQemu(t)
	qio := peer.Require(t, "qemu-io")
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	size := 64 * mib
	layers := []struct {
		name, create string
		writes       []write
	}{
		{"base.vmdk", "", []write{{off: 0, n: 8 * mib, fill: 0x11}, {off: 32 * mib, n: mib, fill: 0x22}}},
		{"child1.vmdk", "zeroed_grain=on", []write{{off: mib, n: 64 * kib, fill: 0x33}, {off: 2 * mib, n: 128 * kib, zero: true}, {off: 100 * kib, n: 3 * kib, fill: 0x44}}},
		{"child2.vmdk", "", []write{{off: 33 * mib, n: 4 * kib, fill: 0x55}}},
	}
	img := make([]byte, size)
	want := map[string]string{}
	for i, l := range layers {
		if i == 0 {
			run(t, qemu, "create", "-f", "vmdk", p(l.name), "64M")
		} else {
			args := []string{"create", "-f", "vmdk", "-b", layers[i-1].name, "-F", "vmdk"}
			if l.create != "" {
				args = append(args, "-o", l.create)
			}
			run(t, qemu, append(args, p(l.name))...)
		}
		var cmds []string
		for _, w := range l.writes {
			if w.zero {
				cmds = append(cmds, "-c", fmt.Sprintf("write -z %d %d", w.off, w.n))
			} else {
				cmds = append(cmds, "-c", fmt.Sprintf("write -P %d %d %d", w.fill, w.off, w.n))
			}
			data := make([]byte, w.n)
			fillBytes(data, w.fill, nil)
			w.apply(img, data)
		}
		run(t, qio, append([]string{"-f", "vmdk"}, append(cmds, p(l.name))...)...)
		want[l.name] = sha256Bytes(img)
	}
	for _, l := range layers {
		got := convertFile(t, p(l.name), p(l.name+".raw"), nil)
		if got != want[l.name] {
			t.Errorf("%s: our raw %s, model %s", l.name, got, want[l.name])
		}
		if q := qemuRaw(t, qemu, p(l.name)); q != want[l.name] {
			t.Errorf("%s: qemu-img raw %s, model %s", l.name, q, want[l.name])
		}
	}

	d, err := Open(p("child2.vmdk"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(d.Layers) != 3 || d.Layers[1].Descriptor.ParentCID != d.Layers[2].Descriptor.CID {
		t.Fatalf("chain of %d layers; want child2 -> child1 -> base with matching CIDs", len(d.Layers))
	}
	// A second oracle for the allocation map: qemu-img map.
	compareMapWithQemu(t, qemu, p("child2.vmdk"), d)
	// The zeroed grain (GTE 1) must read as zeros although base has 0x11.
	r, err := d.MapRun(2*mib, 128*kib)
	if err != nil || r.State != Zero || r.Depth != 1 || r.Length != 128*kib {
		t.Errorf("MapRun at the zeroed grains = %+v, %v; want zero at depth 1 for 128 KiB", r, err)
	}
}
