package vmdk

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestQemuSubformats converts every subformat qemu-img can write, from a
// raw image whose size is a multiple of neither the grain nor the 2 GiB
// extent, holding random data, written zeros and holes, and checks that
// our raw output is byte-identical to the original and to qemu-img's.
func TestQemuSubformats(t *testing.T) {
	t.Parallel()
	qemu := requireQemu(t)
	dir := t.TempDir()
	small := filepath.Join(dir, "small.raw")
	smallSize := 24*mib + 3584 // 7 sectors past a grain boundary
	makeRaw(t, small, smallSize, 1,
		region{0, mib, 'r'},
		region{mib, mib, 'z'}, // written zeros
		region{8*mib + 12345, 300000, 'r'},
		region{12 * mib, 128 * kib, 'A'},
		region{20*mib - 4096, 8192, 'r'},            // across a grain table boundary
		region{smallSize - 100*kib, 100 * kib, 'r'}, // the partial last grain
	)
	// twoGbMaxExtent only splits above 2 GiB; qemu writes sparse files, so
	// a 2 GiB + 1 MiB + 3.5 KiB disk with few written grains is cheap.
	big := filepath.Join(dir, "big.raw")
	bigSize := 2*gib + mib + 3584
	makeRaw(t, big, bigSize, 2,
		region{0, 256 * kib, 'r'},
		region{2*gib - 100*kib, 200 * kib, 'r'}, // across the extent split
		region{bigSize - 50*kib, 50 * kib, 'r'},
	)
	for _, tc := range []struct {
		sub    string
		src    string
		extent int // files qemu writes besides the descriptor, at least
	}{
		{"monolithicSparse", small, 0},
		{"monolithicFlat", small, 1},
		{"streamOptimized", small, 0},
		{"twoGbMaxExtentSparse", big, 2},
		{"twoGbMaxExtentFlat", big, 2},
	} {
		t.Run(tc.sub, func(t *testing.T) {
			sd := t.TempDir()
			disk := filepath.Join(sd, "disk.vmdk")
			run(t, qemu, "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat="+tc.sub, tc.src, disk)
			files, _ := filepath.Glob(filepath.Join(sd, "disk-*.vmdk"))
			if len(files) < tc.extent {
				t.Fatalf("qemu-img wrote extents %v, want at least %d", files, tc.extent)
			}
			d, err := Open(disk, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Layers[0].Descriptor.CreateType != tc.sub {
				t.Errorf("createType %q, want %q", d.Layers[0].Descriptor.CreateType, tc.sub)
			}
			if len(d.Warnings) != 0 {
				t.Errorf("warnings on a clean qemu image: %q", d.Warnings)
			}
			out := filepath.Join(sd, "ours.raw")
			got := convertDisk(t, d, out)
			sameContent(t, out, tc.src)
			q := qemuRawFile(t, qemu, disk)
			sameContent(t, q, tc.src)
			os.Remove(q)
			if tc.src == small && got != sha256File(t, small) {
				t.Errorf("convert reported sha256 %s; the original hashes to %s", got, sha256File(t, small))
			}
			rep, err := Verify(context.Background(), disk, nil)
			if err != nil || !rep.OK() || len(rep.Findings) != 0 {
				t.Errorf("verify on a clean qemu image: %v %v", err, rep.Findings)
			}
			// Holes stay holes: far less than the virtual size is allocated.
			if a := allocatedBytes(t, out); a > 4*mib {
				t.Errorf("output occupies %d bytes; holes were written as data", a)
			}
			os.Remove(out)
		})
	}
}
