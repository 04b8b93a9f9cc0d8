package vmdk

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// editFile replaces old with new in a text file, failing if old is absent.
func editFile(t testing.TB, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func patchU64(t testing.TB, path string, off int64, v uint64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// findingWith returns the first finding whose text contains all words.
func findingWith(rep *VerifyReport, sev Severity, words ...string) *Finding {
	for i, f := range rep.Findings {
		s := f.String()
		ok := f.Severity == sev
		for _, w := range words {
			ok = ok && strings.Contains(s, w)
		}
		if ok {
			return &rep.Findings[i]
		}
	}
	return nil
}

func TestCIDMismatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := buildOwnChain(t, dir)
	mid := filepath.Join(dir, "base-000001.vmdk")
	d, err := Open(mid, nil)
	if err != nil {
		t.Fatal(err)
	}
	pcid := d.Layers[0].Descriptor.ParentCID
	d.Close()
	editFile(t, mid, "parentCID="+cidString(pcid, true), "parentCID=0badc0de")

	top := filepath.Join(dir, "base-000002.vmdk")
	_, err = Open(top, nil)
	wantErr(t, err, ErrCIDMismatch, "base-000001.vmdk", "base.vmdk", "0badc0de", "--ignore-cid")
	var ce *CIDMismatchError
	if !asCIDError(err, &ce) || ce.ParentCID != 0x0badc0de {
		t.Fatalf("error %v is not a *CIDMismatchError for 0badc0de", err)
	}

	// The override reads through and says so.
	d, err = Open(top, &Options{IgnoreCID: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !strings.Contains(strings.Join(d.Warnings, "\n"), "--ignore-cid") {
		t.Errorf("warnings %q do not record the override", d.Warnings)
	}
	if got := convertDisk(t, d, filepath.Join(t.TempDir(), "o.raw")); got != c.want["base-000002.vmdk"] {
		t.Errorf("converted with --ignore-cid: %s, want %s", got, c.want["base-000002.vmdk"])
	}
	rep, err := Verify(context.Background(), top, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || findingWith(rep, SevError, "base-000001.vmdk", "parentCID=0badc0de") == nil {
		t.Errorf("verify does not report the mismatch: %v", rep.Findings)
	}
	// qemu refuses to read through the mismatch as well.
	qemu := requireQemu(t)
	runErr(t, qemu, "convert", "-f", "vmdk", "-O", "raw", top, filepath.Join(t.TempDir(), "q.raw"))
}

func asCIDError(err error, target **CIDMismatchError) bool {
	for err != nil {
		if e, ok := err.(*CIDMismatchError); ok {
			*target = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestMissingParent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	buildOwnChain(t, dir)
	if err := os.Rename(filepath.Join(dir, "base.vmdk"), filepath.Join(dir, "moved.vmdk")); err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(dir, "base-000002.vmdk")
	_, err := Open(top, nil)
	wantErr(t, err, ErrMissingParent, "base-000001.vmdk", `"base.vmdk"`, "not found", filepath.Join(dir, "base.vmdk"))
	rep, err := Verify(context.Background(), top, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Layers) != 2 || findingWith(rep, SevError, "not found") == nil {
		t.Errorf("verify: layers %v, findings %v; want 2 layers and a missing-parent error", rep.Layers, rep.Findings)
	}
	// A resolver callback can point at the renamed parent.
	o := &Options{ResolveParent: func(child, hint string) (string, error) {
		if hint == "base.vmdk" {
			return filepath.Join(dir, "moved.vmdk"), nil
		}
		return "", nil
	}}
	d, err := Open(top, o)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
}

func TestTruncatedGrainTable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "disk.vmdk")
	fw, err := CreateFlat(base, 16*mib, FlatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fw.Close()
	top := filepath.Join(dir, "disk-000001.vmdk")
	dw, err := CreateSnapshotDelta(base, top, VMFSSparse, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Table 0 first, then table 6, whose table is the last thing allocated
	// before its own grains.
	for _, off := range []int64{0, 12 * mib} {
		if _, err := dw.WriteAt(make([]byte, 4096), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := dw.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := Open(top, nil)
	if err != nil {
		t.Fatal(err)
	}
	gt6 := d.Layers[0].extents[0].ext.(*cowdExtent).gd[6]
	d.Close()
	// Cut the file in the middle of table 6.
	if err := os.Truncate(filepath.Join(dir, "disk-000001-delta.vmdk"), int64(gt6+8)*SectorSize); err != nil {
		t.Fatal(err)
	}
	d, err = Open(top, nil)
	if err != nil {
		t.Fatalf("the directory is intact, so opening should work: %v", err)
	}
	defer d.Close()
	buf := make([]byte, 4096)
	if _, err := d.ReadAt(buf, 0); err != nil {
		t.Errorf("reading through the intact table 0: %v", err)
	}
	_, err = Convert(context.Background(), d, filepath.Join(t.TempDir(), "o.raw"), ConvertOptions{})
	wantErr(t, err, ErrCorrupt, "disk-000001-delta.vmdk", "grain table 6", "runs past the end of the file", "truncated")
	rep, err := Verify(context.Background(), top, nil)
	if err != nil {
		t.Fatal(err)
	}
	if findingWith(rep, SevError, "grain table 6", "past the end") == nil {
		t.Errorf("verify does not report the cut table: %v", rep.Findings)
	}
	if rep.GrainsChecked != 8 {
		t.Errorf("verify checked %d grains; want the 8 of the intact table 0", rep.GrainsChecked)
	}
}

func TestDirtySESparse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	buildOwnChain(t, dir)
	se := filepath.Join(dir, "base-000002-sesparse.vmdk")
	patchU64(t, se, 1*SectorSize+24, 1) // volatile header: replay_journal
	top := filepath.Join(dir, "base-000002.vmdk")
	_, err := Open(top, nil)
	wantErr(t, err, ErrDirtyJournal, "base-000002-sesparse.vmdk", "journal is dirty", "replay")
	rep, err := Verify(context.Background(), top, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || findingWith(rep, SevError, "journal is dirty") == nil {
		t.Errorf("verify does not report the dirty journal: %v", rep.Findings)
	}
	qemu := requireQemu(t)
	if out := runErr(t, qemu, "info", top); !strings.Contains(out, "dirty") {
		t.Errorf("qemu-img info on the dirty delta: %s", out)
	}
}

// TestParentHints resolves parents named the ways ESXi and hosted
// products write them: an absolute /vmfs/volumes path mapped into the
// case, a Windows path, and ../<folder>/<name>.
func TestParentHints(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := buildOwnChain(t, dir)
	mid := filepath.Join(dir, "base-000001.vmdk")
	top := filepath.Join(dir, "base-000002.vmdk")

	editFile(t, mid, `parentFileNameHint="base.vmdk"`, `parentFileNameHint="/vmfs/volumes/5f1e2d3c-aabbccdd/vm1/base.vmdk"`)
	editFile(t, top, `parentFileNameHint="base-000001.vmdk"`, `parentFileNameHint="C:\VMs\vm1\base-000001.vmdk"`)
	// Without a volume map the base name in the child's folder is used.
	if got := convertFile(t, top, filepath.Join(t.TempDir(), "a.raw"), nil); got != c.want["base-000002.vmdk"] {
		t.Errorf("by base name: %s, want %s", got, c.want["base-000002.vmdk"])
	}
	// With a volume map the datastore path is used first: point it at a
	// folder holding a different disk with the same name, and the CID
	// check must catch that it is not the parent.
	other := t.TempDir()
	os.MkdirAll(filepath.Join(other, "vm1"), 0o755)
	fw, err := CreateFlat(filepath.Join(other, "vm1", "base.vmdk"), ownChainSize, FlatOptions{CID: 0x1234})
	if err != nil {
		t.Fatal(err)
	}
	fw.Close()
	// The mapped folder lies outside the disk's folder: refused unless
	// the root is widened to hold both.
	vol := map[string]string{"5f1e2d3c-aabbccdd": other}
	_, err = Open(top, &Options{Volumes: vol})
	wantErr(t, err, ErrOutsideRoot, mid, "parentFileNameHint", "5f1e2d3c-aabbccdd", "--root")
	_, err = Open(top, &Options{Volumes: vol, Root: filepath.Dir(dir)})
	wantErr(t, err, ErrCIDMismatch, filepath.Join(other, "vm1", "base.vmdk"))

	// ../<last folder of the hint>/<name>: the child in a sibling folder.
	sub := t.TempDir()
	for _, n := range []string{"base-000002.vmdk", "base-000002-sesparse.vmdk"} {
		if err := os.Rename(filepath.Join(dir, n), filepath.Join(sub, n)); err != nil {
			t.Fatal(err)
		}
	}
	editFile(t, filepath.Join(sub, "base-000002.vmdk"), `C:\VMs\vm1\base-000001.vmdk`, `/vmfs/volumes/ds1/`+filepath.Base(dir)+`/base-000001.vmdk`)
	_, err = Open(filepath.Join(sub, "base-000002.vmdk"), nil)
	wantErr(t, err, ErrMissingParent, "outside the root")
	if got := convertFile(t, filepath.Join(sub, "base-000002.vmdk"), filepath.Join(t.TempDir(), "b.raw"), &Options{Root: filepath.Dir(dir)}); got != c.want["base-000002.vmdk"] {
		t.Errorf("by ../folder/name: %s, want %s", got, c.want["base-000002.vmdk"])
	}
}
