package esxi

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/internal/peer"
)

func TestRescueParts(t *testing.T) {
	const bs = 4096 // 8 sectors
	got := RescueParts(10*bs, bs, []int64{7, 2, 3, 12, 3})
	want := []ReadPart{
		{BS: bs, Skip: 0, Count: 2},
		{BS: 512, Skip: 16, Count: 16}, // blocks 2 and 3 as one run of sectors
		{BS: bs, Skip: 4, Count: 3},
		{BS: 512, Skip: 56, Count: 8},
		{BS: bs, Skip: 8, Count: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parts\n got %+v\nwant %+v", got, want)
	}
	var total int64
	for _, p := range got {
		total += p.BS * p.Count
	}
	if total != 10*bs {
		t.Errorf("parts cover %d bytes, want %d", total, 10*bs)
	}
	if got := RescueParts(2*bs, bs, nil); !reflect.DeepEqual(got, []ReadPart{{BS: bs, Count: 2}}) {
		t.Errorf("no bad blocks: %+v", got)
	}
}

// A copy read in rescue parts is byte-identical to the source under real
// busybox, and the hash on stdout is the source's.
func TestRescueCopyUnderBusybox(t *testing.T) {
	bb := peer.Require(t, "busybox")
	dir := t.TempDir()
	src := filepath.Join(dir, `disk "a" $(x)-flat.vmdk`)
	data := make([]byte, 64*4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "copy")
	cmd, err := CmdCopy(src, dst, 4096, CopyOptions{Hashes: []HashAlg{MD5}, Parts: RescueParts(int64(len(data)), 4096, []int64{0, 5, 6, 63})})
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(bb, "sh", "-c", cmd)
	c.Env = []string{"PATH=" + busyboxPath(t, bb)}
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, data) {
		t.Fatalf("copy differs from the source (%d bytes, want %d)", len(got), len(data))
	}
	sum := md5.Sum(data)
	hh, err := CopyHashes(stdout.String(), []HashAlg{MD5})
	if err != nil || hh[MD5] != hex.EncodeToString(sum[:]) {
		t.Errorf("host hash %v (%v), want %x", hh, err, sum)
	}
	st, err := ParseDDStatus(stderr.String())
	if err != nil || st.FullIn != 64-4+4*8 || len(st.Errors) != 0 {
		t.Errorf("dd status %+v (%v)", st, err)
	}
}

// busyboxPath is a folder with busybox's applets linked in.
func busyboxPath(t *testing.T, bb string) string {
	dir := t.TempDir()
	for _, a := range []string{"dd", "tee", "md5sum", "sha256sum", "mkfifo", "rm", "cat"} {
		if err := os.Symlink(bb, filepath.Join(dir, a)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestProbeBlocksUnderBusybox(t *testing.T) {
	bb := peer.Require(t, "busybox")
	dir := t.TempDir()
	good := filepath.Join(dir, `good 'one'`)
	if err := os.WriteFile(good, make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src  string
		want []int64
	}{
		{good, nil},
		// A source that cannot be read at all fails every run.
		{filepath.Join(dir, "missing $(touch x)"), []int64{0, 3, 9}},
	} {
		cmd, err := CmdProbeBlocks(tc.src, 512, []BlockRun{{0, 2}, {3, 1}, {9, 4}})
		if err != nil {
			t.Fatal(err)
		}
		c := exec.Command(bb, "sh", "-c", cmd)
		c.Dir = dir
		c.Env = []string{"PATH=" + busyboxPath(t, bb)}
		out, err := c.Output()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		bad, err := ParseProbeBlocks(string(out))
		if err != nil || !reflect.DeepEqual(bad, tc.want) {
			t.Errorf("%s: bad %v (%v), want %v; output %q", tc.src, bad, err, tc.want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("$(touch x) in the path ran")
	}
	if _, err := ParseProbeBlocks("bad 3\nrm -rf\n"); err == nil || !strings.Contains(err.Error(), "rm -rf") {
		t.Errorf("stray line: %v", err)
	}
}

// A stoppable copy reads in runs and is byte-identical when nobody stops
// it; once the stop file exists it ends early with a failing status.
func TestStoppableCopyUnderBusybox(t *testing.T) {
	bb := peer.Require(t, "busybox")
	dir := t.TempDir()
	src := filepath.Join(dir, "disk $(x) 'q'")
	data := make([]byte, 40*4096+1234)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	stop := filepath.Join(dir, "stop")
	run := func(dst string) (string, string, error) {
		cmd, err := CmdCopy(src, dst, 4096, CopyOptions{Hashes: []HashAlg{MD5}, Size: int64(len(data)), StopFile: stop, StopChunk: 3 * 4096})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(cmd, "while [ $i -lt $e ]") {
			t.Fatalf("no run loop in %s", cmd)
		}
		c := exec.Command(bb, "sh", "-c", cmd)
		c.Env = []string{"PATH=" + busyboxPath(t, bb)}
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		err = c.Run()
		return o.String(), e.String(), err
	}
	dst := filepath.Join(dir, "copy")
	out, errOut, err := run(dst)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatalf("copy differs (%d bytes, want %d)", len(got), len(data))
	}
	sum := md5.Sum(data)
	if hh, err := CopyHashes(out, []HashAlg{MD5}); err != nil || hh[MD5] != hex.EncodeToString(sum[:]) {
		t.Errorf("hash %v %v", hh, err)
	}
	if st, err := ParseDDStatus(errOut); err != nil || st.FullIn != 40+2+210 { // 4 KiB blocks, 512-byte sectors, single bytes
		t.Errorf("dd status %+v %v", st, err)
	}
	// Stopped before it starts: nothing of the looped part is read.
	stopCmd, _ := CmdStopCopies(stop)
	if out, err := exec.Command(bb, "sh", "-c", stopCmd).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	dst2 := filepath.Join(dir, "copy2")
	if _, _, err := run(dst2); err == nil {
		t.Error("a stopped copy exited 0")
	}
	if got, _ := os.ReadFile(dst2); len(got) >= len(data) {
		t.Errorf("the stopped copy read %d of %d bytes", len(got), len(data))
	}
	clear, _ := CmdClearStop(stop)
	if out, err := exec.Command(bb, "sh", "-c", clear).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if _, err := os.Stat(stop); err == nil {
		t.Error("the stop file is still there")
	}
}

// A device read with DeviceParts comes out exactly as long as the device,
// whether esxcli's whole MiB is below or above its real size.
func TestDevicePartsUnderBusybox(t *testing.T) {
	bb := peer.Require(t, "busybox")
	dir := t.TempDir()
	for _, tc := range []struct{ real, reported int64 }{
		{3<<20 + 1536, 3 << 20}, // esxcli rounds down
		{3<<20 + 512, 4 << 20},  // or up
		{5 << 20, 5 << 20},
		{512 * 7, 0}, // tiny: sectors only
	} {
		src := filepath.Join(dir, fmt.Sprintf("dev-%d", tc.real))
		data := make([]byte, tc.real)
		for i := range data {
			data[i] = byte(i*7 + i>>9)
		}
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		dst := src + ".raw"
		cmd, err := CmdCopy(src, dst, 1<<20, CopyOptions{Hashes: []HashAlg{MD5}, Parts: DeviceParts(tc.reported, 1<<20)})
		if err != nil {
			t.Fatal(err)
		}
		c := exec.Command(bb, "sh", "-c", cmd)
		c.Env = []string{"PATH=" + busyboxPath(t, bb)}
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
			t.Errorf("device of %d bytes reported as %d: copy has %d bytes, differs %v", tc.real, tc.reported, len(got), len(got) == len(data))
		}
	}
}
