package vmdk

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertHashNone proves "no digest" means nothing is hashed: the
// result has no sums and no byte went to a hash function, while the
// default hashes every byte of the raw stream (holes included) twice.
func TestConvertHashNone(t *testing.T) {
	t.Parallel()
	d, _ := openOwnChain(t)
	none, err := Convert(context.Background(), d, filepath.Join(t.TempDir(), "none.raw"), ConvertOptions{Hashes: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if none.HashedBytes != 0 || len(none.Digest.Sums) != 0 || none.Digest.Size != d.Size() {
		t.Errorf("no hashes asked: hashed %d bytes, sums %v, size %d", none.HashedBytes, none.Digest.Sums, none.Digest.Size)
	}
	def, err := Convert(context.Background(), d, filepath.Join(t.TempDir(), "def.raw"), ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if def.HashedBytes != 2*d.Size() || len(def.Digest.Sums) != 2 {
		t.Errorf("default hashes: hashed %d bytes (want %d), sums %v", def.HashedBytes, 2*d.Size(), def.Digest.Sums)
	}
	if none.DataBytes != def.DataBytes || none.HoleBytes != def.HoleBytes {
		t.Errorf("hashing changed what was written: %+v vs %+v", none, def)
	}
}

// TestChainWalkerMatchesMapRun: the remembering walker Info and Convert
// use gives the same runs as asking MapRun afresh at every step.
func TestChainWalkerMatchesMapRun(t *testing.T) {
	t.Parallel()
	d, _ := openOwnChain(t)
	w := &chainWalker{d: d}
	runs := 0
	for off := int64(0); off < d.Size(); runs++ {
		got, err := w.next(off)
		if err != nil {
			t.Fatal(err)
		}
		want, err := d.MapRun(off, d.Size()-off)
		if err != nil {
			t.Fatal(err)
		}
		// MapRun may end a run earlier (it stops where a lower layer's
		// answer would change); the state and the layer must agree.
		if got.State != want.State || got.Depth != want.Depth || got.Length <= 0 {
			t.Fatalf("at %d: walker %+v, MapRun %+v", off, got, want)
		}
		off += min(got.Length, want.Length)
	}
	if runs < 3 {
		t.Errorf("only %d runs: the chain should mix data, zeros and unallocated ranges", runs)
	}
}

// TestRootConfinement: a symbolic link inside the root to a file inside
// it is followed; one leaving it is an EscapeError naming the descriptor,
// the extent line and the reference; Root widens the search explicitly.
func TestRootConfinement(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	vm := filepath.Join(top, "vm")
	os.MkdirAll(filepath.Join(vm, "store"), 0o755)
	fw, err := CreateFlat(filepath.Join(vm, "disk.vmdk"), 1*mib, FlatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fw.WriteAt([]byte("evidence"), 0)
	fw.Close()
	flat := filepath.Join(vm, "disk-flat.vmdk")
	if err := os.Rename(flat, filepath.Join(vm, "store", "disk-flat.vmdk")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("store", "disk-flat.vmdk"), flat); err != nil {
		t.Skip("no symbolic links:", err)
	}
	d, err := Open(filepath.Join(vm, "disk.vmdk"), nil)
	if err != nil {
		t.Fatalf("a link inside the root: %v", err)
	}
	d.Close()

	// The same link pointing out of the folder.
	os.Remove(flat)
	outside := filepath.Join(top, "elsewhere-flat.vmdk")
	os.WriteFile(outside, make([]byte, mib), 0o644)
	os.Symlink(outside, flat)
	_, err = Open(filepath.Join(vm, "disk.vmdk"), nil)
	var esc *EscapeError
	if !errors.As(err, &esc) || !strings.HasPrefix(esc.Field, "extent line ") || esc.Ref != "disk-flat.vmdk" {
		t.Fatalf("a link leaving the root: %v", err)
	}
	wantErr(t, err, ErrOutsideRoot, "disk.vmdk", "disk-flat.vmdk", "symbolic link", "--root")
	// Widened explicitly, it is read (os.Root follows relative links).
	os.Remove(flat)
	os.Symlink(filepath.Join("..", "elsewhere-flat.vmdk"), flat)
	d, err = Open(filepath.Join(vm, "disk.vmdk"), &Options{Root: top})
	if err != nil {
		t.Fatalf("with Root %s: %v", top, err)
	}
	d.Close()
	// An absolute link inside the root is not followed, and says why.
	os.Remove(flat)
	os.Symlink(outside, flat)
	_, err = Open(filepath.Join(vm, "disk.vmdk"), &Options{Root: top})
	wantErr(t, err, nil, "disk-flat.vmdk", "symbolic link", "relative link")
	// A root that does not hold the disk is refused.
	_, err = Open(filepath.Join(vm, "disk.vmdk"), &Options{Root: filepath.Join(vm, "store")})
	wantErr(t, err, ErrOutsideRoot, "not inside the root")
}

// Rename: an extent the descriptor names as the host does (a:b-flat.vmdk)
// is found where the case stored it under another name; a rename that
// leads out of the root is an EscapeError like any reference.
func TestRenameResolvesHostNames(t *testing.T) {
	top := t.TempDir()
	vm := filepath.Join(top, "vm")
	os.MkdirAll(vm, 0o755)
	fw, err := CreateFlat(filepath.Join(vm, "a:b.vmdk"), 1*mib, FlatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fw.WriteAt([]byte("evidence"), 0)
	fw.Close()
	stored := filepath.Join(vm, "a_b-flat~1234abcd.vmdk")
	if err := os.Rename(filepath.Join(vm, "a:b-flat.vmdk"), stored); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(vm, "a:b.vmdk"), nil); !errors.Is(err, fs.ErrNotExist) && err == nil {
		t.Fatalf("without Rename the renamed extent was found: %v", err)
	}
	rename := func(to string) func(string) string {
		return func(p string) string {
			if filepath.Base(p) == "a:b-flat.vmdk" {
				return to
			}
			return p
		}
	}
	d, err := Open(filepath.Join(vm, "a:b.vmdk"), &Options{Rename: rename(stored)})
	if err != nil {
		t.Fatalf("with Rename: %v", err)
	}
	b := make([]byte, 8)
	d.ReadAt(b, 0)
	d.Close()
	if string(b) != "evidence" {
		t.Errorf("read %q through the renamed extent", b)
	}
	outside := filepath.Join(top, "elsewhere-flat.vmdk")
	os.WriteFile(outside, make([]byte, mib), 0o644)
	_, err = Open(filepath.Join(vm, "a:b.vmdk"), &Options{Rename: rename(outside)})
	wantErr(t, err, ErrOutsideRoot, "a:b-flat.vmdk")
}
