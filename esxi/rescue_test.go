package esxi

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	var pe *ParseError
	if _, err := ParseProbeBlocks("bad 3\nrm -rf\n"); !errors.As(err, &pe) || pe.Line != 2 {
		t.Errorf("stray line: %v, want a ParseError on line 2", err)
	}
}

// A stoppable copy reads in runs and is byte-identical when nobody stops
// it; once the stop file exists it ends early with a failing status.
func TestStoppableCopyUnderBusybox(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

func TestSplitBadBlocks(t *testing.T) {
	t.Parallel()
	const bs = 4096 // 8 sectors
	// A measured file: the same parts as RescueParts with the bad blocks.
	size := int64(10*bs + 700)
	first := RescueParts(size, bs, nil)
	if got, want := SplitBadBlocks(first, bs, []int64{7, 2, 3}), RescueParts(size, bs, []int64{2, 3, 7}); !reflect.DeepEqual(got, want) {
		t.Errorf("measured file\n got %+v\nwant %+v", got, want)
	}
	// A device: the tail read in sectors to its end stays so, and the
	// blocks before it are split; a block past the bs part is ignored.
	dev := DeviceParts(4<<20, bs)
	got := SplitBadBlocks(dev, bs, []int64{0, 767, 5000})
	want := []ReadPart{
		{BS: 512, Skip: 0, Count: 8},
		{BS: bs, Skip: 1, Count: 766},
		{BS: 512, Skip: 767 * 8, Count: -1}, // block 767 joins the tail run
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("device\n got %+v\nwant %+v", got, want)
	}
	// One dd to the end (no parts): split, still to the end.
	got = SplitBadBlocks(nil, bs, []int64{3})
	want = []ReadPart{{BS: bs, Count: 3}, {BS: 512, Skip: 24, Count: 8}, {BS: bs, Skip: 4, Count: -1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("one dd\n got %+v\nwant %+v", got, want)
	}
	if got := SplitBadBlocks(first, bs, nil); !reflect.DeepEqual(got, first) {
		t.Errorf("no bad blocks changed the parts: %+v", got)
	}
}

// CmdHashRead reads as CmdCopy does: under real busybox its hash is the
// copy's, for one dd, for parts and for a stoppable read; it reads, never
// writes, and its dd status parses.
func TestCmdHashReadUnderBusybox(t *testing.T) {
	t.Parallel()
	bb := peer.Require(t, "busybox")
	dir := t.TempDir()
	src := filepath.Join(dir, `disk "a" $(x)-flat.vmdk`)
	data := make([]byte, 20*4096+1000)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	// A device ends on a whole sector: read to its end in sectors, the
	// last short one comes out padded, as in the copy.
	padded := md5.Sum(append(append([]byte(nil), data...), make([]byte, 512-len(data)%512)...))
	for name, opts := range map[string]CopyOptions{
		"exact size":  {Size: int64(len(data))},
		"rescue":      {Parts: RescueParts(int64(len(data)), 4096, []int64{0, 4})},
		"stoppable":   {Size: int64(len(data)), StopFile: filepath.Join(dir, "stop"), StopChunk: 8192},
		"device read": {Parts: DeviceParts(0, 4096)},
	} {
		sum := sum
		if name == "device read" {
			sum = padded
		}
		cmd, err := CmdHashRead(src, 4096, MD5, opts)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(cmd, "of=") || strings.Contains(cmd, "tee") {
			t.Errorf("%s: the hash read writes: %s", name, cmd)
		}
		c := exec.Command(bb, "sh", "-c", cmd)
		c.Env = []string{"PATH=" + busyboxPath(t, bb)}
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		if err := c.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, stderr.String())
		}
		h, err := ParseHash(stdout.String(), MD5)
		if err != nil || h != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: hash %q (%v), want %x", name, h, err, sum)
		}
		if _, err := ParseDDStatus(stderr.String()); err != nil {
			t.Errorf("%s: dd status: %v\n%s", name, err, stderr.String())
		}
	}
	if _, err := CmdHashRead(src, 4096, MD5, CopyOptions{Hashes: []HashAlg{MD5}}); err == nil {
		t.Error("hash read with copy hashes accepted")
	}
	if _, err := CmdHashRead(src, 0, MD5, CopyOptions{}); err == nil {
		t.Error("hash read with bs 0 accepted")
	}
}
