package nfssink

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"

	"github.com/esxsink/esxsink/internal/peer"
)

// smallDisk mounts a tmpfs of the given size (root only; CI runs as root).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if peer.Required() {
			t.Fatal("the full-disk test needs root to mount a tmpfs (CI runs as root)")
		}
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// TestFullDisk: copying more than fits gives the client an error (not a
// silent short file), a no_space record, and the bytes written before stay
// intact; the custody log on the same disk still has room.
func TestFullDisk(t *testing.T) {
	t.Parallel()
	cp := nfsCp(t)
	disk := smallDisk(t, "16m")
	// The custody log lives on the same small disk, as it usually does.
	log, err := hashlog.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	ts := startTestSink(t, disk, log, func(c *Config) {
		c.SpaceReserve = 2 << 20
		c.EvidenceDir = hashlog.EvidenceDir(disk)
	})
	src := randomFile(t, 24<<20)
	out, err := exec.Command(cp, src, ts.url("too-big.bin")).CombinedOutput()
	if err == nil {
		t.Fatalf("nfs-cp of 24 MiB into a 16 MiB disk succeeded:\n%s", out)
	}
	recs, findings, err := hashlog.ReadLog(hashlog.LogPath(disk))
	if err != nil || len(findings) != 0 {
		t.Fatalf("custody log after the full disk: %v %v", err, findings)
	}
	var noSpace int
	for _, r := range recs {
		if r.Type == custody.TypeNoSpace {
			noSpace++
		}
	}
	if noSpace == 0 {
		t.Fatal("no no_space record in the custody log")
	}
	got, err := os.ReadFile(filepath.Join(ts.evidence, "too-big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(src)
	if len(got) == 0 || len(got) >= len(want) || !bytes.Equal(got, want[:len(got)]) {
		t.Fatalf("partial file is %d bytes and must be an intact prefix of the source", len(got))
	}
	sp, _ := diskSpace(disk)
	if sp.avail < 1<<20 {
		t.Fatalf("only %d bytes left: the reserve for the custody log was eaten", sp.avail)
	}
	res, err := ts.Finalize(context.Background(), "too-big.bin", "api", -1, true)
	if err != nil || res.Size != int64(len(got)) || !atRestMatches(res, res.Hashes) {
		t.Fatalf("finalize after full disk: %+v %v", res, err)
	}
	ts.Close("test")
	// What arrived is intact, but the file is a prefix: the case is
	// incomplete (verify exits 3), never PASS.
	rep, err := hashlog.VerifyCase(context.Background(), disk)
	if err != nil || !rep.Intact() || rep.Verdict() != custody.Incomplete || rep.Verdict().ExitCode() != 3 ||
		!strings.Contains(rep.String(), "FAILED  too-big.bin") || !strings.Contains(rep.String(), "evidence disk was full") {
		t.Fatalf("case on the full disk: want intact but INCOMPLETE naming the file: %v\n%s", err, rep)
	}
	t.Logf("nfs-cp said: %s", bytes.TrimSpace(out))
}

// TestFSStatReportsRealFreeSpace: FSSTAT's available bytes are the disk's,
// less the custody-log reserve, within what other processes change meanwhile.
func TestFSStatReportsRealFreeSpace(t *testing.T) {
	ts := newTestSink(t, func(c *Config) { c.SpaceReserve = 1 << 30 })
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	fs, err := c.FSStat(c.ctx, root)
	if err != nil {
		t.Fatalf("FSSTAT: %v", err)
	}
	total, free, avail := fs.TotalBytes, fs.FreeBytes, fs.AvailBytes
	sp, err := diskSpace(ts.evidence)
	if err != nil {
		t.Fatal(err)
	}
	want := sp.avail - min(sp.avail, 1<<30)
	diff := int64(avail) - int64(want)
	if total != sp.total || free == 0 || diff > 64<<20 || diff < -64<<20 {
		t.Fatalf("FSSTAT total %d avail %d; disk total %d avail %d less 1 GiB reserve = %d", total, avail, sp.total, sp.avail, want)
	}
}
