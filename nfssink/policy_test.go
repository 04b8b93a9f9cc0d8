package nfssink

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/internal/nfsclient"
)

// TestWriteOncePolicy: remove, rename, rmdir, truncate, symlink, link and
// mknod are refused over NFS and recorded; the evidence is unchanged.
// ESXi lock files may be created and removed.
func TestWriteOncePolicy(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	if st := c.status(nfsProcMkdir, append(dirop(root, "vm1").Bytes(), make([]byte, 24)...)); st != nfs3OK {
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
		{"remove", nfsProcRemove, dirop(dir, "disk-flat.vmdk").Bytes()},
		{"rename", nfsProcRename, append(dirop(dir, "disk-flat.vmdk").Bytes(), dirop(dir, "x.vmdk").Bytes()...)},
		{"rmdir", nfsProcRmdir, dirop(root, "vm1").Bytes()},
		{"symlink", nfsProcSymlink, func() []byte {
			a := dirop(dir, "link")
			emptySattr(a)
			a.String("/etc/passwd")
			return a.Bytes()
		}()},
		{"link", nfsProcLink, func() []byte {
			a := &xdrWriter{}
			a.Opaque(fh)
			a.Raw(dirop(dir, "hard").Bytes())
			return a.Bytes()
		}()},
		{"mknod", nfsProcMknod, func() []byte {
			a := dirop(dir, "dev")
			a.Uint32(3) // NF3BLK
			emptySattr(a)
			a.Uint32(8)
			a.Uint32(0)
			return a.Bytes()
		}()},
		{"truncate", nfsProcSetattr, func() []byte {
			a := &xdrWriter{}
			a.Opaque(fh)
			a.Bool(false)
			a.Bool(false)
			a.Bool(false)
			a.Bool(true)
			a.Uint64(0)
			a.Uint32(0)
			a.Uint32(0)
			a.Bool(false) // no guard
			return a.Bytes()
		}()},
		{"create-truncate", nfsProcCreate, func() []byte {
			a := dirop(dir, "disk-flat.vmdk")
			a.Uint32(createUnchecked)
			a.Bool(false)
			a.Bool(false)
			a.Bool(false)
			a.Bool(true)
			a.Uint64(0)
			a.Uint32(0)
			a.Uint32(0)
			return a.Bytes()
		}()},
	}
	for _, r := range refusals {
		if st := c.status(r.proc, r.args); st != nfs3ErrAcces {
			t.Errorf("%s: status %d, want NFS3ERR_ACCES", r.name, st)
		}
	}
	if got := len(ts.log.of(custody.TypePolicyRefused)); got != len(refusals) {
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
	if st := c.status(nfsProcRemove, dirop(dir, ".lck-0000000000001234").Bytes()); st != nfs3OK {
		t.Fatalf("lock file remove: %d", st)
	}
	if _, err := os.Lstat(filepath.Join(ts.evidence, "vm1", ".lck-0000000000001234")); err == nil {
		t.Fatal("lock file still there")
	}
}

// TestHostileNames: names that could escape the evidence folder or
// confuse tools are refused, and nothing is created outside it.
func TestHostileNames(t *testing.T) {
	t.Parallel()
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
		if st := c.status(nfsProcMkdir, append(dirop(root, name).Bytes(), make([]byte, 24)...)); st != want {
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
	t.Parallel()
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
	if n := len(ts.log.of(custody.TypeMountRefused)); n != 2 {
		t.Fatalf("%d mount.refused records, want 2", n)
	}

	// A client outside --allow is refused at accept, before a byte is
	// read: its connections close, and however often it tries, one record
	// per interval says so.
	other := newTestSink(t, func(c *Config) { c.Allow = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} })
	for i := 0; i < 5; i++ {
		c2 := dialRPC(t, other.NFSAddr().String())
		if _, err := c2.Mnt(c2.ctx, "/esxsink"); err == nil {
			t.Fatal("mount from outside --allow succeeded")
		}
		c2.Close()
	}
	if recs := other.log.of(custody.TypePolicyRefused); len(recs) != 1 || !strings.Contains(string(recs[0].Data), "not in the allowed networks") {
		t.Fatalf("%d refusal records for the stranger's 5 connections, want 1", len(recs))
	}
	if out, err := exec.Command(nfsCp(t), "/etc/hostname", other.url("x")).CombinedOutput(); err == nil {
		t.Fatalf("nfs-cp from outside --allow succeeded:\n%s", out)
	}
	other.Close("test")
	if recs := other.log.of(custody.TypePolicyRefused); len(recs) != 2 || !strings.Contains(string(recs[1].Data), "connections refused since") {
		t.Fatalf("at stop, the refusals since the first are not counted: %d records", len(recs))
	}
}

// TestExportAndDump: MOUNT EXPORT (which libnfs and showmount need) lists
// the export; DUMP lists current mounts; UMNT removes them.
func TestExportAndDump(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	exports, err := c.Exports(c.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(exports) != 1 || exports[0].Dir != "/esxsink" || len(exports[0].Groups) != 1 || exports[0].Groups[0] != "127.0.0.0/8" {
		t.Fatalf("EXPORT: %+v, want /esxsink for 127.0.0.0/8", exports)
	}
	// DUMP is not in nfsclient: ESXi never asks for it.
	dump := func() (mounts [][2]string) {
		t.Helper()
		r, err := c.Call(c.ctx, progMount, 3, mountProcDump, nil)
		if err != nil {
			t.Fatal(err)
		}
		for more, _ := r.Bool(); more; more, _ = r.Bool() {
			host, _ := r.String(1024)
			dir, _ := r.String(1024)
			mounts = append(mounts, [2]string{host, dir})
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
		return mounts
	}
	c.mount("/esxsink")
	if m := dump(); len(m) != 1 || m[0] != [2]string{"127.0.0.1", "/esxsink"} {
		t.Fatalf("DUMP: %q, want one mount of /esxsink from 127.0.0.1", m)
	}
	if err := c.Umnt(c.ctx, "/esxsink"); err != nil {
		t.Fatal(err)
	}
	if m := dump(); len(m) != 0 {
		t.Fatalf("mount still listed after UMNT: %q", m)
	}
}

// TestUnknownProgramsAndVersions get PROG_UNAVAIL / PROG_MISMATCH.
func TestUnknownProgramsAndVersions(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	if _, err := c.Call(c.ctx, 100021, 4, 0, nil); !errors.Is(err, nfsclient.ProgUnavail) {
		t.Fatalf("NLM: %v, want PROG_UNAVAIL", err)
	}
	_, err := c.Call(c.ctx, progNFS, 4, 0, nil)
	var mm *nfsclient.MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("NFSv4: %v, want PROG_MISMATCH", err)
	}
	if mm.Low != 3 || mm.High != 3 {
		t.Fatalf("mismatch range %d-%d", mm.Low, mm.High)
	}
	// FSINFO advertises what one record can carry.
	_, root := c.mount("/esxsink")
	info, err := c.FSInfo(c.ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if info.WTMax != maxWrite {
		t.Fatalf("wtmax %d", info.WTMax)
	}
}

// The names a sink on Windows refuses (tested here on any OS).
func TestWindowsNameProblem(t *testing.T) {
	t.Parallel()
	for name, bad := range map[string]bool{
		"web01-flat.vmdk": false, "Tom's lab $HOME.vmx": false, "console.log": false, "com10.txt": false,
		"mpx.vmhba32:C0:T0:L0": true, `a"b`: true, "a|b": true, "x?": true, "name.": true, "name ": true,
		"CON": true, "nul.txt": true, "Com1.vmdk": true, "lpt9": true,
	} {
		if err := windowsNameProblem(name); (err != nil) != bad {
			t.Errorf("%q: %v, want refused %v", name, err, bad)
		}
	}
}

// TestMkdirRecordedWithItsOutcome: a folder is recorded once go-nfs has
// created it, and a MKDIR that fails adds no record.
func TestMkdirRecordedWithItsOutcome(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	for _, name := range []string{"vm one", "vm two", "vm three"} {
		for i := 0; i < 10; i++ { // the first creates it, the rest fail with EXIST
			_, _, err := c.Mkdir(c.ctx, root, name, nfsclient.SetAttr{})
			if (i == 0) != (err == nil) {
				t.Fatalf("MKDIR %q attempt %d: %v", name, i+1, err)
			}
		}
	}
	// Every reply has been read: the records are written before the
	// replies go out.
	if n := len(ts.log.of(custody.TypeDirCreated)); n != 3 {
		t.Fatalf("%d dir.created records for 3 folders made and 27 refused MKDIRs, want 3", n)
	}
}

// TestWriteTooFarIsFBIG: a WRITE past the largest file gets FBIG, never IO.
func TestWriteTooFarIsFBIG(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	_, fh := c.create(root, "far.bin", createGuarded)
	for _, off := range []uint64{1<<62 - 10, 1 << 62, 1<<63 + 5} {
		if st, _, _, _, err := c.write(fh, off, []byte("0123456789abcdef"), unstable); err != nil || st != nfs3ErrFBig {
			t.Errorf("WRITE at %d: status %d (%v), want NFS3ERR_FBIG", off, st, err)
		}
	}
}

// TestInvisibleCharactersRefused: names that can disguise themselves in a
// listing or a report are refused.
func TestInvisibleCharactersRefused(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"invoice\u202Efdp.exe", "a\u200Bb", "line\u2028sep", "bom\uFEFF", "rlo\u2067x"} {
		if err := validName(name); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	for _, name := range []string{"Mail [legacy]", "日本語 VM", "Ünïcödé-flat.vmdk", "tab-free name"} {
		if err := validName(name); err != nil {
			t.Errorf("name %q refused: %v", name, err)
		}
	}
}
