package esxi

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCommandLines(t *testing.T) {
	t.Parallel()
	ok := okFn(t)
	snap := ok(CmdSnapshotCreate(7, "esxsink-case42", "", false, true))
	nas := ok(CmdNASAdd("10.20.30.40", "/cases/42", "esxsink-case42"))
	csv := ok(CmdEsxcli(FormatCSV, "storage", "filesystem", "list"))
	for _, tc := range []struct{ got, want string }{
		{CmdGetAllVMs(), "vim-cmd vmsvc/getallvms"},
		{CmdPowerGetState(12), "vim-cmd vmsvc/power.getstate 12"},
		{CmdGetConfig(12), "vim-cmd vmsvc/get.config 12"},
		{CmdSnapshotGet(12), "vim-cmd vmsvc/snapshot.get 12"},
		{CmdSnapshotRemove(12, 5), "vim-cmd vmsvc/snapshot.remove 12 5"},
		{snap, "vim-cmd vmsvc/snapshot.create 7 'esxsink-case42' '' 0 1"},
		{nas, "esxcfg-nas -a -o '10.20.30.40' -s '/cases/42' 'esxsink-case42'"},
		{CmdNASList(), "esxcfg-nas -l"},
		{csv, "esxcli --formatter=csv storage filesystem list"},
		{CmdVMwareVersion(), "vmware -vl"},
		{CmdLsusb(), "lsusb"},
	} {
		if tc.got != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
	}
}

// Each builder, run by busybox sh, hands the tool exactly the intended
// argv, however hostile the values.
func TestCommandArgv(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	ok := okFn(t)
	evil := `it's "x" $(touch PWNED) ` + "`touch PWNED`; touch PWNED & | * [a]"
	share := "/cases/" + evil
	disk := "/vmfs/volumes/ds/" + evil + "/\nrdm.vmdk"
	for _, tc := range []struct {
		line string
		want []string
	}{
		{CmdGetAllVMs(), []string{"vim-cmd", "vmsvc/getallvms"}},
		{CmdSnapshotRemove(3, 14), []string{"vim-cmd", "vmsvc/snapshot.remove", "3", "14"}},
		{ok(CmdSnapshotCreate(3, evil, evil+" desc", true, false)), []string{"vim-cmd", "vmsvc/snapshot.create", "3", evil, evil + " desc", "1", "0"}},
		{ok(CmdNASAdd("nas.lab.example", share, "esxsink "+evil)), []string{"esxcfg-nas", "-a", "-o", "nas.lab.example", "-s", share, "esxsink " + evil}},
		{ok(CmdNASRemove("esxsink " + evil)), []string{"esxcfg-nas", "-d", "esxsink " + evil}},
		{ok(CmdEsxcliNFSAdd("10.0.0.9", share, "l "+evil)), []string{"esxcli", "storage", "nfs", "add", "--host=10.0.0.9", "--share=" + share, "--volume-name=l " + evil}},
		{ok(CmdEsxcliNFSRemove("l " + evil)), []string{"esxcli", "storage", "nfs", "remove", "--volume-name=l " + evil}},
		{ok(CmdEsxcli(FormatXML, "system", "settings", "advanced", "list", "-o", "/NFS/"+evil)), []string{"esxcli", "--formatter=xml", "system", "settings", "advanced", "list", "-o", "/NFS/" + evil}},
		{ok(CmdVmkfstoolsQuery(disk)), []string{"vmkfstools", "-q", disk}},
	} {
		got := h.argv(t, tc.line)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s\n got argv %q\nwant argv %q", tc.line, got, tc.want)
		}
	}
	noFile(t, "PWNED", h.work, filepath.Dir(h.bin))
}

type built struct {
	s   string
	err error
}

func TestBuilderRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		b    built
	}{
		{"NUL in path", b(CmdHash(MD5, "/a\x00; rm -rf /"))},
		{"relative path", b(CmdHash(MD5, "disk.vmdk"))},
		{"option-like path", b(CmdStat("-L"))},
		{"unknown hash", b(CmdHash("crc32", "/a"))},
		{"negative hash size", b(CmdHashPrefix(MD5, "/a", -1))},
		{"relative hash prefix path", b(CmdHashPrefix(MD5, "a", 1))},
		{"relative copy destination", b(CmdCopy("/a", "b", 512, CopyOptions{}))},
		{"zero block size", b(CmdCopy("/a", "/b", 0, CopyOptions{}))},
		{"huge block size", b(CmdCopy("/a", "/b", 1<<31, CopyOptions{}))},
		{"two hashes without FIFO", b(CmdCopy("/a", "/b", 512, CopyOptions{Hashes: []HashAlg{MD5, SHA256}}))},
		{"same hash twice", b(CmdCopy("/a", "/b", 512, CopyOptions{Hashes: []HashAlg{MD5, MD5}, FIFO: "/tmp/f"}))},
		{"three hashes", b(CmdCopy("/a", "/b", 512, CopyOptions{Hashes: []HashAlg{MD5, SHA1, SHA256}, FIFO: "/tmp/f"}))},
		{"FIFO is the destination", b(CmdCopy("/a", "/b", 512, CopyOptions{Hashes: []HashAlg{MD5, SHA256}, FIFO: "/b"}))},
		{"empty snapshot name", b(CmdSnapshotCreate(1, "", "d", false, false))},
		{"option-like snapshot name", b(CmdSnapshotCreate(1, "-h", "d", false, false))},
		{"newline in snapshot name", b(CmdSnapshotCreate(1, "a\nb", "d", false, false))},
		{"option-like description", b(CmdSnapshotCreate(1, "n", "--help", false, false))},
		{"control char in description", b(CmdSnapshotCreate(1, "n", "a\x1bb", false, false))},
		{"label with slash", b(CmdNASAdd("h", "/s", "a/b"))},
		{"label dot-dot", b(CmdNASRemove(".."))},
		{"option-like label", b(CmdEsxcliNFSRemove("-a"))},
		{"host with space", b(CmdNASAdd("a b", "/s", "l"))},
		{"relative share", b(CmdEsxcliNFSAdd("h", "s", "l"))},
		{"bad formatter", b(CmdEsxcli("json", "a"))},
		{"no esxcli arguments", b(CmdEsxcli(FormatCSV))},
		{"NUL in esxcli argument", b(CmdEsxcli(FormatCSV, "a\x00b"))},
		{"negative find depth", b(CmdFindVMX("/vmfs/volumes", -1))},
		{"zero read limit", b(CmdReadFile("/a", 0))},
		{"relative folder", b(CmdLsVMFolder("vm"))},
	} {
		if tc.b.err == nil {
			t.Errorf("%s: built %q, want an error", tc.name, tc.b.s)
			continue
		}
		if !errors.Is(tc.b.err, ErrInvalidArgument) {
			t.Errorf("%s: %v does not wrap ErrInvalidArgument", tc.name, tc.b.err)
		}
	}
}

func b(s string, err error) built { return built{s, err} }

// No string in the package's code names snapshot.removeall: it would
// consolidate the owner's snapshots, and this package must never build it.
func TestNoRemoveAll(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && strings.Contains(strings.ToLower(lit.Value), "removeall") {
				t.Errorf("%s: string literal %s names removeall", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("checked only %d files", checked)
	}
}

func TestCopyBlockSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ size, max, want int64 }{
		{1 << 30, 1 << 20, 1 << 20},
		{10737418240, 4 << 20, 4 << 20},
		{1000, 1 << 20, 8},
		{1001, 1 << 20, 1},
		{512 * 3, 1 << 20, 512},
		{0, 1 << 20, 1 << 20},
		{1 << 20, 1000, 512},
		{4096, 0, 1},
	} {
		if got := CopyBlockSize(tc.size, tc.max); got != tc.want {
			t.Errorf("CopyBlockSize(%d, %d) = %d, want %d", tc.size, tc.max, got, tc.want)
		}
	}
}
