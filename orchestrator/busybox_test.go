package orchestrator

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/internal/peer"
)

// The command lines collect runs, built for names with spaces, quotes,
// brackets, $() and backticks, run through real busybox sh -c: they read
// and write exactly the named files and nothing else runs.
func TestCommandLinesUnderBusybox(t *testing.T) {
	t.Parallel()
	bb := peer.Require(t, "busybox")
	root := t.TempDir()
	names := []string{`Tom's "lab" $HOME`, "Mail [legacy]", "x $(touch PWNED) `touch PWNED2` ; touch PWNED3", "-n leading dash"}
	run := func(cmd string) (string, string) {
		t.Helper()
		c := exec.Command(bb, "sh", "-c", cmd)
		c.Dir = root
		var out, errb []byte
		o, err := c.Output()
		out = o
		if ee, ok := err.(*exec.ExitError); ok {
			errb = ee.Stderr
		}
		if err != nil {
			t.Fatalf("%q: %v %s", cmd, err, errb)
		}
		return string(out), string(errb)
	}
	for _, n := range names {
		dir := filepath.Join(root, n)
		if err := os.MkdirAll(filepath.Join(root, "sink", n), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte("disk of " + n + "\n")
		src := filepath.Join(dir, n+"-flat.vmdk")
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd, err := esxi.CmdReadFile(src, maxSmallFile)
		if err != nil {
			t.Fatal(err)
		}
		if out, _ := run(cmd); out != string(data) {
			t.Errorf("read %q: %q", n, out)
		}
		cmd, err = esxi.CmdLsVMFolder(dir)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := run(cmd)
		entries, err := esxi.ParseFolderListing(out)
		if err != nil || len(entries) != 1 || entries[0].Name != n+"-flat.vmdk" || entries[0].Size != int64(len(data)) || !entries[0].Mode.IsRegular() {
			t.Errorf("list %q: %+v %v", n, entries, err)
		}
		dst := filepath.Join(root, "sink", n, n+"-flat.vmdk")
		cmd, err = esxi.CmdCopy(src, dst, esxi.CopyBlockSize(int64(len(data)), 1<<20), esxi.CopyOptions{Hashes: defaultHostHashes, FIFO: filepath.Join(root, "esxsink-test.fifo")})
		if err != nil {
			t.Fatal(err)
		}
		out, _ = run(cmd)
		hh, err := esxi.CopyHashes(out, defaultHostHashes)
		if err != nil {
			t.Fatalf("copy %q: %v in %q", n, err, out)
		}
		m, s := md5.Sum(data), sha256.Sum256(data)
		if hh[esxi.MD5] != hex.EncodeToString(m[:]) || hh[esxi.SHA256] != hex.EncodeToString(s[:]) {
			t.Errorf("copy %q hashes %v", n, hh)
		}
		if got, err := os.ReadFile(dst); err != nil || string(got) != string(data) {
			t.Errorf("copy %q: %q %v", n, got, err)
		}
	}
	for _, p := range []string{"PWNED", "PWNED2", "PWNED3"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			t.Errorf("a name ran a command: %s exists", p)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "esxsink-test.fifo")); err == nil {
		t.Error("FIFO left behind")
	}
}
