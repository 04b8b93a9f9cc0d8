package nfssink

import (
	"bytes"
	"github.com/esxsink/esxsink/hashlog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteOncePolicy: remove, rename, rmdir, truncate, symlink, link and
// mknod are refused over NFS and recorded; the evidence is unchanged.
// ESXi lock files may be created and removed.
func TestWriteOncePolicy(t *testing.T) {
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	if st := c.status(nfsProcMkdir, append(dirop(root, "vm1").b, make([]byte, 24)...)); st != nfs3OK {
		t.Fatalf("mkdir: %d", st)
	}
	_, dir := c.lookup(root, "vm1")
	_, fh := c.create(dir, "disk-flat.vmdk", createGuarded)
	data := pseudoRandom(1<<20, 9)
	c.write(fh, 0, data, fileSync)

	refusals := []struct {
		name string
		proc uint32
		args []byte
	}{
		{"remove", nfsProcRemove, dirop(dir, "disk-flat.vmdk").b},
		{"rename", nfsProcRename, append(dirop(dir, "disk-flat.vmdk").b, dirop(dir, "x.vmdk").b...)},
		{"rmdir", nfsProcRmdir, dirop(root, "vm1").b},
		{"symlink", nfsProcSymlink, func() []byte {
			a := dirop(dir, "link")
			emptySattr(a)
			a.string("/etc/passwd")
			return a.b
		}()},
		{"link", nfsProcLink, func() []byte {
			a := &xdrWriter{}
			a.opaque(fh)
			a.b = append(a.b, dirop(dir, "hard").b...)
			return a.b
		}()},
		{"mknod", nfsProcMknod, func() []byte {
			a := dirop(dir, "dev")
			a.uint32(3) // NF3BLK
			emptySattr(a)
			a.uint32(8)
			a.uint32(0)
			return a.b
		}()},
		{"truncate", nfsProcSetattr, func() []byte {
			a := &xdrWriter{}
			a.opaque(fh)
			a.bool(false)
			a.bool(false)
			a.bool(false)
			a.bool(true)
			a.uint64(0)
			a.uint32(0)
			a.uint32(0)
			a.bool(false) // no guard
			return a.b
		}()},
		{"create-truncate", nfsProcCreate, func() []byte {
			a := dirop(dir, "disk-flat.vmdk")
			a.uint32(createUnchecked)
			a.bool(false)
			a.bool(false)
			a.bool(false)
			a.bool(true)
			a.uint64(0)
			a.uint32(0)
			a.uint32(0)
			return a.b
		}()},
	}
	for _, r := range refusals {
		if st := c.status(r.proc, r.args); st != nfs3ErrAcces {
			t.Errorf("%s: status %d, want NFS3ERR_ACCES", r.name, st)
		}
	}
	if got := len(ts.log.of(hashlog.TypePolicyRefused)); got != len(refusals) {
		t.Errorf("%d policy.refused records, want %d", got, len(refusals))
	}
	got, err := os.ReadFile(filepath.Join(ts.evidence, "vm1", "disk-flat.vmdk"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("evidence changed or gone: %v", err)
	}
	for _, n := range []string{"link", "hard", "dev", "x.vmdk"} {
		if _, err := os.Lstat(filepath.Join(ts.evidence, "vm1", n)); err == nil {
			t.Errorf("%s exists after refusal", n)
		}
	}
	// ESXi's lock files come and go.
	if st, lfh := c.create(dir, ".lck-0000000000001234", createUnchecked); st != nfs3OK || lfh == nil {
		t.Fatalf("lock file create: %d", st)
	}
	if st := c.status(nfsProcRemove, dirop(dir, ".lck-0000000000001234").b); st != nfs3OK {
		t.Fatalf("lock file remove: %d", st)
	}
	if _, err := os.Lstat(filepath.Join(ts.evidence, "vm1", ".lck-0000000000001234")); err == nil {
		t.Fatal("lock file still there")
	}
}

// TestHostileNames: names that could escape the evidence folder or
// confuse tools are refused, and nothing is created outside it.
func TestHostileNames(t *testing.T) {
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	for _, name := range []string{"..", ".", "../escape", "a/b", "nul\x00byte", "bell\x07", "tab\there", strings.Repeat("x", 256), "back\\slash", string([]byte{0xff, 0xfe})} {
		st, _ := c.create(root, name, createGuarded)
		want := uint32(nfs3ErrAcces)
		if len(name) > maxName {
			want = nfs3ErrNameLong
		}
		if st != want {
			t.Errorf("create %q: status %d, want %d", name, st, want)
		}
		if st := c.status(nfsProcMkdir, append(dirop(root, name).b, make([]byte, 24)...)); st != want {
			t.Errorf("mkdir %q: status %d, want %d", name, st, want)
		}
	}
	if _, err := os.Stat(filepath.Join(ts.caseDir, "escape")); err == nil {
		t.Fatal("a file escaped the evidence folder")
	}
	entries, _ := os.ReadDir(ts.evidence)
	if len(entries) != 0 {
		t.Fatalf("evidence folder has %d entries after refused creates", len(entries))
	}
	// Names with spaces, quotes, $() and brackets are legitimate VM names.
	for _, name := range []string{"Web Server [prod]", `it's "quoted"`, "$(reboot)", "`id`.vmdk"} {
		if st, _ := c.create(root, name, createGuarded); st != nfs3OK {
			t.Errorf("legitimate name %q refused: %d", name, st)
		}
	}
}

// TestMountPolicy: other export paths get MNT3ERR_NOENT, addresses outside
// --allow get MNT3ERR_ACCES and RPC-level denials; both are recorded.
func TestMountPolicy(t *testing.T) {
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	if st, _ := c.mount("/etc"); st != mnt3ErrNoEnt {
		t.Fatalf("mount /etc: %d, want MNT3ERR_NOENT", st)
	}
	if st, _ := c.mount("/esxsink/sub"); st != mnt3ErrNoEnt {
		t.Fatalf("mount of a sub-folder: %d, want MNT3ERR_NOENT", st)
	}
	if st, fh := c.mount("/esxsink/"); st != mnt3OK || len(fh) == 0 {
		t.Fatalf("mount /esxsink/: %d", st)
	}
	if n := len(ts.log.of(hashlog.TypeMountRefused)); n != 2 {
		t.Fatalf("%d mount.refused records, want 2", n)
	}

	other := newTestSink(t, func(c *Config) { c.Allow = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} })
	c2 := dialRPC(t, other.NFSAddr().String())
	if st, _ := c2.mount("/esxsink"); st != mnt3ErrAcces {
		t.Fatalf("mount from outside --allow: %d, want MNT3ERR_ACCES", st)
	}
	a := &xdrWriter{}
	a.opaque(other.handles.handle(""))
	res, err := c2.call(progNFS, 3, nfsProcGetattr, a.b)
	if err != nil || !res.denied {
		t.Fatalf("GETATTR from outside --allow not denied: %+v %v", res, err)
	}
	if n := len(other.log.of(hashlog.TypePolicyRefused)); n != 1 {
		t.Fatalf("%d refusal records for the stranger, want 1 (first per connection)", n)
	}
	if out, err := exec.Command(nfsCp(t), "/etc/hostname", other.url("x")).CombinedOutput(); err == nil {
		t.Fatalf("nfs-cp from outside --allow succeeded:\n%s", out)
	}
}

// TestExportAndDump: MOUNT EXPORT (which libnfs and showmount need) lists
// the export; DUMP lists current mounts; UMNT removes them.
func TestExportAndDump(t *testing.T) {
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	r := c.must(progMount, mountProcExport, nil)
	if more, _ := r.bool(); !more {
		t.Fatal("EXPORT lists nothing")
	}
	if p, _ := r.string(1024); p != "/esxsink" {
		t.Fatalf("export %q", p)
	}
	if more, _ := r.bool(); !more {
		t.Fatal("no groups")
	}
	if g, _ := r.string(1024); g != "127.0.0.0/8" {
		t.Fatalf("group %q", g)
	}
	c.mount("/esxsink")
	r = c.must(progMount, mountProcDump, nil)
	if more, _ := r.bool(); !more {
		t.Fatal("DUMP lists no mount")
	}
	host, _ := r.string(1024)
	dir, _ := r.string(1024)
	if host != "127.0.0.1" || dir != "/esxsink" {
		t.Fatalf("DUMP: %q %q", host, dir)
	}
	a := &xdrWriter{}
	a.string("/esxsink")
	c.must(progMount, mountProcUmnt, a.b)
	if more, _ := c.must(progMount, mountProcDump, nil).bool(); more {
		t.Fatal("mount still listed after UMNT")
	}
}

// TestUnknownProgramsAndVersions get PROG_UNAVAIL / PROG_MISMATCH.
func TestUnknownProgramsAndVersions(t *testing.T) {
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	if res, _ := c.call(100021, 4, 0, nil); res.accept != acceptProgUnavail {
		t.Fatalf("NLM: accept %d", res.accept)
	}
	res, _ := c.call(progNFS, 4, 0, nil)
	if res.accept != acceptProgMismatch {
		t.Fatalf("NFSv4: accept %d", res.accept)
	}
	lo, _ := res.body.uint32()
	hi, _ := res.body.uint32()
	if lo != 3 || hi != 3 {
		t.Fatalf("mismatch range %d-%d", lo, hi)
	}
	// FSINFO advertises what one record can carry.
	_, root := c.mount("/esxsink")
	a := &xdrWriter{}
	a.opaque(root)
	r := c.must(progNFS, nfsProcFSInfo, a.b)
	if st, _ := r.uint32(); st != nfs3OK {
		t.Fatal(st)
	}
	skipPostOp(r)
	r.uint32()
	r.uint32()
	r.uint32()
	if wtmax, _ := r.uint32(); wtmax != maxWrite {
		t.Fatalf("wtmax %d", wtmax)
	}
}
